"""The default's random Bézier curves: a family holding the identity and the paper's curves, monotone and
end-point preserving remaps, labels untouched, about two tiles in three remapped, and wired into training by the
`pro_unext-lcn-curves` variant (a run with them differs from the same run without)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from MLNNetLib.augment.bezier import PAPER_CURVES, bezier_remap, random_curve
from MLNNetLib.training.curve_sampler import CurveSampler


class FixedTiles:
    """A TileSampler stand-in that returns one known tile; the rng is consumed only by the wrapper."""

    tile = 64

    def __init__(self) -> None:
        r = np.random.default_rng(3)
        self.breast = np.zeros((64, 64), bool)
        self.breast[:, 10:] = True
        self.img = np.where(self.breast, 0.2 + 0.6 * r.random((64, 64)), 0.0).astype(np.float32)
        self.mask = np.zeros((64, 64), np.uint8)
        self.mask[30:33, 40:43] = 1

    def sample(self, rng: np.random.Generator):
        return self.img.copy(), self.mask.copy(), self.breast.copy()


def test_the_family_spans_the_identity_and_the_papers_curves() -> None:
    x = np.linspace(0, 1, 101, dtype=np.float32)
    identity = random_curve(np.random.default_rng(0), spread=0.0)
    np.testing.assert_allclose(bezier_remap(x, *identity), x, atol=1e-6)
    for p1, p2 in PAPER_CURVES:  # both paper curves are members: p = (a, 1 - a), (b, 1 - b)
        assert p1[1] == pytest.approx(1 - p1[0]) and p2[1] == pytest.approx(1 - p2[0])
    rng = np.random.default_rng(1)
    for _ in range(50):
        y = bezier_remap(x, *random_curve(rng))
        assert y[0] == 0.0 and y[-1] == pytest.approx(1.0)
        assert np.all(np.diff(y) >= 0)  # monotone: a calcification stays brighter than the tissue around it
    with pytest.raises(ValueError, match="spread"):
        random_curve(rng, spread=0.6)


def test_the_sampler_remaps_two_tiles_in_three_and_leaves_the_labels() -> None:
    inner = FixedTiles()
    sampler = CurveSampler(inner)
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(300):
        img, mask, breast = sampler.sample(rng)
        assert np.array_equal(mask, inner.mask) and np.array_equal(breast, inner.breast)
        assert img.dtype == np.float32 and 0.0 <= img.min() and img.max() <= 1.0
        assert not img[~inner.breast].any()  # air (0) stays 0
        order = np.argsort(inner.img[inner.breast], kind="stable")
        assert np.all(np.diff(img[inner.breast][order]) >= 0)  # the grey-level order is kept
        changed += not np.array_equal(img, inner.img)
    assert 170 <= changed <= 230  # p = 2/3 of 300 = 200
    a = [CurveSampler(inner).sample(np.random.default_rng(7))[0] for _ in range(2)]
    assert np.array_equal(a[0], a[1])  # the draw is the rng's: resumed and multi-worker runs see the same tiles
    assert np.array_equal(CurveSampler(inner, p=0.0).sample(np.random.default_rng(0))[0], inner.img)
    with pytest.raises(ValueError, match="probability"):
        CurveSampler(inner, p=1.5)


def _train(tmp_path, name: str, extra: list[str]):
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.cli.train_cmd import add_arguments, config_from_args
    from MLNNetLib.training import train

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--data", str(tmp_path / "data"), "--out", str(tmp_path / name), "--config", "tiny",
                         "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "2", "--warmup-steps", "1",
                         "--device", "cpu", "--val-whole-every", "0", *extra])
    cfg = config_from_args(args)
    cfg.val_tiles, cfg.stats_tiles = 2, 2
    return cfg, load_checkpoint(train(cfg))


def test_the_curves_variant_trains_with_the_curves(tmp_path) -> None:
    from MLNNetLib.synth import write_dataset

    write_dataset("ffdm", 2, seed=1, out=tmp_path / "data", shape=(160, 128), spacing_mm=0.2)
    cfg, with_curves = _train(tmp_path, "curves", ["--variant", "pro_unext-lcn-curves"])
    assert cfg.curve_augment and cfg.num_domains == 1 and not cfg.augment and cfg.input_norm == "local"
    header = with_curves.header["training"]
    assert header["settings"]["curve_augment"] is True
    _, plain = _train(tmp_path, "plain", ["--variant", "pro_unext-lcn"])
    assert plain.header["training"]["settings"]["curve_augment"] is False
    a, b = with_curves.model.state_dict(), plain.model.state_dict()
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())  # the tiles were remapped
