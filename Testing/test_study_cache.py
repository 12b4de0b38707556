"""A second study in the same folder scores only what is new; a retrained model or other test images start over."""

from __future__ import annotations

from MLNNetLib.experiments.evaluation import ImageScore
from MLNNetLib.experiments.study import ScoreCache

ITEMS = {"ffdm": [{"id": "a"}, {"id": "b"}], "dbt": [{"id": "c"}]}


def _scores(style: str, dice: float) -> list[ImageScore]:
    return [ImageScore(it["id"], style, {"dice": dice}, {"branch": 1, "ood": False, "ood_score": 0.1})
            for it in ITEMS[style]]


def test_scores_come_back_for_the_same_model_and_images_only(tmp_path) -> None:
    path = tmp_path / "scores" / "mln-net.json"
    cache = ScoreCache(path, "sha-1", ITEMS)
    assert not cache.has("cosine")
    for style in ITEMS:
        cache.put("cosine", style, _scores(style, 0.5))
    cache.put("polarity", "ffdm", _scores("ffdm", 0.7))  # one style only: not complete
    cache.save()

    again = ScoreCache(path, "sha-1", ITEMS)
    assert again.has("cosine") and not again.has("polarity")
    back = again.get("cosine", "dbt")
    assert [(s.id, s.domain, s.metrics["dice"], s.summary["branch"]) for s in back] == [("c", "dbt", 0.5, 1)]
    assert back[0].mask is None  # masks are not kept: overlays come from the run that scored them

    assert not ScoreCache(path, "sha-2", ITEMS).has("cosine")  # retrained model
    other = {**ITEMS, "dbt": [{"id": "d"}]}
    assert not ScoreCache(path, "sha-1", other).has("cosine")  # other test images
