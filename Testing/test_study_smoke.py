"""The study machinery end to end at the smoke size: data, training, top-hat, every row scored on each style,
the 2x2 check, the report; a second run in the same folder reuses the data, the models and the scores."""

from __future__ import annotations

import json

from MLNNetLib.experiments.profiles import PROFILES
from MLNNetLib.experiments.reports import study_report
from MLNNetLib.experiments.study import DEFAULT_ROW, DEFAULT_SELECTION, DEFAULT_VARIANT, TOPHAT, Row, run_study

ROWS = [Row("Top-hat floor", TOPHAT, "-"), Row(DEFAULT_ROW, DEFAULT_VARIANT, DEFAULT_SELECTION),
        Row("Default (cosine)", DEFAULT_VARIANT, "cosine")]


def test_smoke_study_scores_every_row_on_every_style_and_reuses_its_work(tmp_path, monkeypatch) -> None:
    from MLNNetLib.experiments import scoring
    prof = PROFILES["smoke"]
    result = run_study(tmp_path, ROWS, prof, "ffdm", ["wrongtag"], seed=0, device="cpu", check_images=1)
    for row in ROWS:
        for style in ("ffdm", "wrongtag"):
            values = result.values(row.label, style)
            assert len(values) == prof.test_images and all(v is None or 0.0 <= v <= 1.0 for v in values)
    assert [c.method for c in result.checks[DEFAULT_VARIANT]] == ["polarity"]  # K = 1: the inversion decision
    from MLNNetLib.selection.polarity import DECISIVE

    for label, inverts in ((DEFAULT_ROW, True), ("Default (cosine)", False)):
        for s in result.scores[(label, "wrongtag")]:  # inverted back exactly when polarity reads inverted
            pol = s.summary["polarity"]
            assert s.summary["inverted"] == (inverts and pol is not None and pol <= -DECISIVE), (label, pol)
    header = json.loads(result.models[DEFAULT_VARIANT].with_suffix(".json").read_text())
    assert "cosine" in header["selection"]["ood_thresholds"]  # a single-branch model is OOD-calibrated too
    saved = json.loads((tmp_path / "results.json").read_text())
    assert {im["method"] for im in saved["images"]} == {r.label for r in ROWS}
    report = study_report("smoke", "smoke", result, prof, tmp_path, default=DEFAULT_ROW, baselines=["Top-hat floor"])
    assert DEFAULT_ROW in report and "wrongtag" in report

    cache = tmp_path / "scores" / f"{DEFAULT_VARIANT}.json"
    stamp = cache.stat().st_mtime_ns
    model = result.models[DEFAULT_VARIANT].stat().st_mtime_ns
    def no_scoring(*args, **kwargs):
        raise AssertionError("a cached row was scored again")

    monkeypatch.setattr(scoring.Scorer, "score", no_scoring)
    again = run_study(tmp_path, ROWS, prof, "ffdm", ["wrongtag"], seed=0, device="cpu", check_images=0)
    assert result.models[DEFAULT_VARIANT].stat().st_mtime_ns == model  # not retrained
    assert again.values(DEFAULT_ROW, "wrongtag") == result.values(DEFAULT_ROW, "wrongtag")  # scores reused
    assert json.loads(cache.read_text())["sha256"] and cache.stat().st_mtime_ns >= stamp
