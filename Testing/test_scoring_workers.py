"""The study's worker processes score exactly what one process with one PyTorch thread scores, in the
images' order, and a failing image is named."""

from __future__ import annotations

import pytest
import torch

from MLNNetLib.errors import InputError
from MLNNetLib.experiments import scoring
from MLNNetLib.experiments.scoring import Scorer, score_images
from MLNNetLib.experiments.study import Row

ROWS = [Row("cosine", "mln-net", "cosine"), Row("union", "mln-net", "union"),
        Row("cosine, averaged transforms", "mln-net", "cosine", tta=True)]


@pytest.fixture(scope="module")
def test_items(tmp_path_factory) -> dict[str, list[dict]]:
    from MLNNetLib.synth import write_datasets
    from MLNNetLib.training.data import find_items

    folder = tmp_path_factory.mktemp("scoring_data")
    write_datasets(["ffdm", "wrongtag"], 3, 7, folder, shape=(288, 256), spacing_mm=0.1)
    return {d: find_items(folder / d, d) for d in ("ffdm", "wrongtag")}


def _in_one_thread(ckpt, items: dict[str, list[dict]], keep: set[str]) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {style: score_images(ckpt, ROWS, its, keep) for style, its in items.items()}
    finally:
        torch.set_num_threads(threads)


def test_workers_score_as_one_thread_does_in_order(tiny_checkpoint_path, test_items) -> None:
    from MLNNetLib.checkpoint import load_checkpoint

    ckpt = load_checkpoint(tiny_checkpoint_path)
    keep = {"union"}
    expected = _in_one_thread(ckpt, test_items, keep)
    with Scorer(2) as scorer:
        got = scorer.score(ckpt, tiny_checkpoint_path, ROWS, test_items, keep)
    assert set(got) == set(test_items)
    for style, by_label in expected.items():
        for label, scores in by_label.items():
            back = got[style][label]
            assert [s.id for s in back] == [it["id"] for it in test_items[style]]  # the images' order
            for a, b in zip(scores, back):
                same = {k: v for k, v in a.summary.items() if k != "seconds"}  # the run's own time
                assert a.metrics == b.metrics and same == {k: b.summary[k] for k in same}, (style, label, a.id)
                assert (a.mask is None) == (b.mask is None) == (label not in keep)
                if a.mask is not None:
                    assert (a.mask == b.mask).all()


def test_a_failing_image_is_named(tiny_checkpoint_path, test_items, tmp_path) -> None:
    from MLNNetLib.checkpoint import load_checkpoint

    broken = dict(test_items["ffdm"][0], image=str(tmp_path / "gone.nrrd"))
    with Scorer(2) as scorer, pytest.raises(InputError, match="gone.nrrd: no such file"):
        scorer.score(load_checkpoint(tiny_checkpoint_path), tiny_checkpoint_path, ROWS[:1],
                     {"ffdm": [test_items["ffdm"][1], broken]}, set())


def test_worker_count_follows_the_cores(monkeypatch) -> None:
    monkeypatch.setattr(scoring.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert scoring.scoring_workers("cpu") == 0  # one core: nothing to gain from a second process
    monkeypatch.setattr(scoring.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert scoring.scoring_workers("cpu") == scoring.MAX_WORKERS
    monkeypatch.setattr(scoring.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert scoring.scoring_workers("cpu") == 2
