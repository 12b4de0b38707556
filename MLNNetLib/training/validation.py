"""Validation on held-out source images: every branch on its own domain, tiles every epoch, whole images every few.

What is validated (why): a K=2 model has two branches and the best epoch must be good for both, so each
validated domain version of the held-out images goes through the branch it trains: domain 0 (the source images
as they are) through branch 0, domain 1 (their inversion inside the breast, as in training) through branch 1.
A K=1 model trained with the augmentation (Basenet-S) sees both versions through its one branch; without the
augmentation (Basenet) only domain 0 is validated.
- Tiles, every epoch: ``count`` fixed tiles per domain (half centred on calcifications, the same positions in
  every domain version), pooled Dice at 0.5 — cheap, comparable between epochs, but blind to false positives
  far from calcifications.
- Whole images, every few epochs: sliding-window inference over each held-out image's breast (the same tiling
  and blending as ``segment``), pooled Dice and precision over all pixels, so false positives anywhere count.
  The best epoch is the one with the highest mean whole-image Dice over the validated domains
  (:func:`selection_score`); with whole-image validation switched off, the mean tile Dice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from MLNNetLib.augment import invert
from MLNNetLib.training.data import Case, TileSampler
from MLNNetLib.training.losses import compute_loss

MAX_DOMAINS = 2  # training supports K <= 2: the metrics.csv columns are fixed
WHOLE_OVERLAP = 0.25  # segment's default: the validation sees what inference will produce
WHOLE_BATCH = 8


@dataclass
class ValidationSet:
    """Fixed held-out data of one run: per validated domain its tiles, and the whole images."""

    domains: list[int]  # domain versions validated (0 = source, 1 = inverted)
    branches: list[int]  # branch each of them goes through
    tiles: dict[int, tuple[torch.Tensor, torch.Tensor]]  # domain -> (x (N,1,t,t), y (N,1,t,t))
    cases: list[Case]

    def image(self, case: Case, domain: int) -> np.ndarray:
        return case.image if domain == 0 else invert(case.image, case.breast).astype(np.float32)


def validated_domains(num_domains: int, augment: bool) -> tuple[list[int], list[int]]:
    """(domains, branch of each) for a model with ``num_domains`` branches trained with/without augmentation."""
    domains = [0, 1] if augment else [0]
    return domains, [d if num_domains > 1 else 0 for d in domains]


def build_validation(cases: list[Case], tile: int, count: int, seed: int, num_domains: int, augment: bool) -> ValidationSet:
    """The run's fixed validation set (same tile positions in every domain version)."""
    sampler = TileSampler(cases, tile, positive_fraction=0.5)
    rng = np.random.default_rng([seed, 999])
    drawn = [sampler.sample(rng) for _ in range(count)]
    domains, branches = validated_domains(num_domains, augment)
    y = torch.from_numpy(np.stack([t[1] for t in drawn])[:, None].astype(np.float32))
    tiles = {}
    for d in domains:
        imgs = [t[0] if d == 0 else invert(t[0], t[2]).astype(np.float32) for t in drawn]
        tiles[d] = (torch.from_numpy(np.stack(imgs)[:, None]), y)
    return ValidationSet(domains, branches, tiles, cases)


def _pooled_dice(pred: torch.Tensor, y: torch.Tensor) -> float:
    inter = float((pred * y).sum())
    denom = float(pred.sum() + y.sum())
    return 2 * inter / denom if denom > 0 else 1.0


@torch.no_grad()
def validate(model: torch.nn.Module, vset: ValidationSet, loss_name: str, pos_weight: float, device: torch.device,
             batch: int = 8) -> dict[str, float]:
    """Tile validation: ``val_loss_d{k}``, ``val_dice_d{k}`` per domain, and their means ``val_loss``, ``val_dice``."""
    model.eval()
    out: dict[str, float] = {}
    for d, branch in zip(vset.domains, vset.branches):
        x, y = vset.tiles[d]
        logits = []
        for i in range(0, len(x), batch):
            xb = x[i : i + batch].to(device)
            logits.append(model(xb, torch.full((len(xb),), branch, dtype=torch.long, device=device)).float().cpu())
        lg = torch.cat(logits)
        dom = torch.zeros(len(lg), dtype=torch.long)
        out[f"val_loss_d{d}"] = float(compute_loss(loss_name, lg, y, dom, 1, pos_weight))
        out[f"val_dice_d{d}"] = _pooled_dice((lg > 0).float(), y)
    out["val_loss"] = float(np.mean([out[f"val_loss_d{d}"] for d in vset.domains]))
    out["val_dice"] = float(np.mean([out[f"val_dice_d{d}"] for d in vset.domains]))
    return out


@torch.no_grad()
def validate_whole(model: torch.nn.Module, vset: ValidationSet, device: torch.device, threshold: float = 0.5) -> dict[str, float]:
    """Whole-image validation: ``whole_dice_d{k}`` and ``whole_precision_d{k}`` (pooled over the held-out images'
    pixels) per domain, and ``whole_dice`` (their mean)."""
    from MLNNetLib.inference.predictor import make_predictor
    from MLNNetLib.inference.sliding_window import sliding_window
    from MLNNetLib.inference.tiling import pad_to

    model.eval()
    tile = int(model.config.img_size)
    out: dict[str, float] = {}
    for d, branch in zip(vset.domains, vset.branches):
        predict = make_predictor(model, branch, int(getattr(model, "num_domains", 1)), device)
        tp = fp = fn = 0
        for case in vset.cases:
            h, w = case.image.shape
            img, _ = pad_to(vset.image(case, d), tile, tile)
            breast, _ = pad_to(case.breast, tile, tile)
            prob = sliding_window(predict, img[None], tile, WHOLE_OVERLAP, breast[None], WHOLE_BATCH).probability[0]
            pred = prob[:h, :w] > threshold
            ref = case.mask > 0
            tp += int(np.count_nonzero(pred & ref))
            fp += int(np.count_nonzero(pred & ~ref))
            fn += int(np.count_nonzero(~pred & ref))
        out[f"whole_dice_d{d}"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
        out[f"whole_precision_d{d}"] = tp / (tp + fp) if tp + fp else float("nan")
    out["whole_dice"] = float(np.mean([out[f"whole_dice_d{d}"] for d in vset.domains]))
    return out


def whole_due(epoch: int, epochs: int, every: int) -> bool:
    """Whole-image validation after 1-based ``epoch``: every ``every`` epochs and always after the last."""
    return every > 0 and (epoch % every == 0 or epoch == epochs)


def selection_score(row: dict, every: int) -> float:
    """What the best epoch is chosen by: mean whole-image Dice (NaN for epochs without it), or, when whole-image
    validation is off, mean tile Dice."""
    value = row.get("whole_dice" if every > 0 else "val_dice", float("nan"))
    return float(value) if value is not None and value == value else float("nan")


def best_score(history: list[dict], every: int) -> float:
    scores = [selection_score(r, every) for r in history]
    finite = [s for s in scores if math.isfinite(s)]
    return max(finite) if finite else -1.0


def empty_row() -> dict[str, float]:
    """Every validation column, NaN (a domain or a whole-image pass that was not run this epoch)."""
    nan = float("nan")
    row = {"val_loss": nan, "val_dice": nan, "whole_dice": nan, "score": nan}
    for d in range(MAX_DOMAINS):
        row.update({f"val_loss_d{d}": nan, f"val_dice_d{d}": nan, f"whole_dice_d{d}": nan, f"whole_precision_d{d}": nan})
    return row
