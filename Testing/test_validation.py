"""Validation during training (issue 12 item 4): every branch on its own domain's tiles, whole images with their
false positives, and the best epoch chosen by the whole-image score, all kept in metrics.csv."""

from __future__ import annotations

import csv
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from MLNNetLib.training.data import Case
from MLNNetLib.training.validation import (
    best_score, build_validation, selection_score, validate, validate_whole, validated_domains, whole_due,
)

torch.set_num_threads(1)
TILE = 16


class RuleNet(nn.Module):
    """A two-branch network with known answers: branch 0 calls bright pixels calcification (source polarity),
    branch 1 dark ones inside the breast (inverted polarity) unless ``branch1_like_branch0``."""

    def __init__(self, branch1_like_branch0: bool = False) -> None:
        super().__init__()
        self.config = SimpleNamespace(img_size=TILE, name="rule")
        self.num_domains = 2
        self.branch1_like_branch0 = branch1_like_branch0
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        bright = x > 0.6
        dark = (x > 0.05) & (x < 0.2)
        inverted = (domain == 1).view(-1, 1, 1, 1) & (not self.branch1_like_branch0)
        return torch.where(torch.where(inverted, dark, bright), 20.0, -20.0)


def _case(i: int, marker: bool = False) -> Case:
    img = np.zeros((40, 48), dtype=np.float32)
    breast = np.zeros_like(img, dtype=bool)
    breast[2:38, 2:46] = True
    img[breast] = 0.3
    mask = np.zeros(img.shape, dtype=np.uint8)
    for r, c in [(8, 10), (20, 30), (30, 14)]:
        mask[r:r + 2, c + i:c + i + 2] = 1
    img[mask > 0] = 0.9
    if marker:  # bright, but not a calcification: a false positive for a bright-is-calcification rule
        img[5:8, 38:42] = 0.97
    return Case(f"c{i}", img, mask, breast, (0.1, 0.1), np.argwhere(mask > 0), np.argwhere(breast))


def test_validated_domains_follow_the_variant() -> None:
    assert validated_domains(2, True) == ([0, 1], [0, 1])  # MLN-net: each branch on its own domain
    assert validated_domains(1, True) == ([0, 1], [0, 0])  # Basenet-S: one branch sees both versions
    assert validated_domains(1, False) == ([0], [0])  # Basenet: source images only


def test_every_branch_is_validated_on_its_own_domains_tiles() -> None:
    cases = [_case(0), _case(1)]
    vset = build_validation(cases, TILE, 8, seed=0, num_domains=2, augment=True)
    x0, y0 = vset.tiles[0]
    x1, y1 = vset.tiles[1]
    assert torch.equal(y0, y1) and y0.sum() > 0
    inside = x0 > 0  # breast pixels of the tiles (air is 0 in both versions)
    torch.testing.assert_close(x1[inside], 1 - x0[inside])  # domain 1 = the inverted tiles
    good = validate(RuleNet(), vset, "paper", 20.0, torch.device("cpu"))
    assert good["val_dice_d0"] == pytest.approx(1.0) and good["val_dice_d1"] == pytest.approx(1.0)
    bad = validate(RuleNet(branch1_like_branch0=True), vset, "paper", 20.0, torch.device("cpu"))
    assert bad["val_dice_d0"] == pytest.approx(1.0) and bad["val_dice_d1"] < 0.1  # branch 1 is seen to fail
    assert bad["val_dice"] == pytest.approx((bad["val_dice_d0"] + bad["val_dice_d1"]) / 2)


def test_whole_image_validation_counts_false_positives_anywhere() -> None:
    cases = [_case(0, marker=True), _case(1)]
    vset = build_validation(cases, TILE, 4, seed=0, num_domains=2, augment=True)
    out = validate_whole(RuleNet(), vset, torch.device("cpu"))
    tp = sum(int(c.mask.sum()) for c in cases)
    fp = 12  # the 3x4 marker, bright in the source image (inverted, 0.03: darker than any calcification)
    assert out["whole_precision_d0"] == pytest.approx(tp / (tp + fp))
    assert out["whole_dice_d0"] == pytest.approx(2 * tp / (2 * tp + fp))
    assert out["whole_dice_d1"] == pytest.approx(1.0) and out["whole_precision_d1"] == pytest.approx(1.0)
    assert out["whole_dice"] == pytest.approx((out["whole_dice_d0"] + 1.0) / 2)


def test_best_epoch_rule() -> None:
    assert [whole_due(e, 5, 2) for e in range(1, 6)] == [False, True, False, True, True]  # and always the last
    assert not any(whole_due(e, 5, 0) for e in range(1, 6))
    rows = [{"epoch": 1, "val_dice": 0.9, "whole_dice": float("nan")}, {"epoch": 2, "val_dice": 0.5, "whole_dice": 0.4},
            {"epoch": 3, "val_dice": 0.6, "whole_dice": 0.3}]
    assert [selection_score(r, 2) for r in rows][1:] == [0.4, 0.3] and math.isnan(selection_score(rows[0], 2))
    assert best_score(rows, 2) == 0.4  # the tile Dice of epoch 1 (0.9, false positives unseen) does not compete
    assert best_score(rows, 0) == 0.9 and best_score([], 2) == -1.0


def test_training_keeps_per_branch_and_whole_image_numbers_and_picks_the_best_by_them(tmp_path) -> None:
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.synth import write_dataset
    from MLNNetLib.training import TrainConfig, train

    write_dataset("ffdm", 3, seed=4, out=tmp_path / "data", shape=(160, 128), spacing_mm=0.2)
    cfg = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"), config="tiny-stem", num_domains=2, epochs=3,
                      steps_per_epoch=2, batch_size=2, warmup_steps=1, val_tiles=4, stats_tiles=4, seed=1, device="cpu",
                      val_whole_every=2)
    final = train(cfg)
    rows = list(csv.DictReader((final.parent / "metrics.csv").open()))
    assert [int(float(r["epoch"])) for r in rows] == [1, 2, 3]
    for r in rows:
        for key in ("val_dice_d0", "val_dice_d1", "val_loss_d0", "val_loss_d1"):
            assert math.isfinite(float(r[key])), key
    assert [math.isfinite(float(r["whole_dice"])) for r in rows] == [False, True, True]  # epoch 2 and the last
    assert all(math.isfinite(float(rows[i][k])) for i in (1, 2) for k in ("whole_dice_d0", "whole_dice_d1"))
    scores = {int(float(r["epoch"])): float(r["score"]) for r in rows}
    best_epoch = max((e for e in scores if math.isfinite(scores[e])), key=lambda e: (scores[e], -e))
    header = json.loads(final.with_suffix(".json").read_text())["training"]
    assert header["best_epoch"] == best_epoch and header["best_score"] == pytest.approx(scores[best_epoch])
    best = load_checkpoint(final.parent / "best.safetensors")
    assert best.header["training"]["epochs_done"] == best_epoch
