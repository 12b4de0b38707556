"""Validation on held-out source-domain tiles, fixed once per run so epochs are comparable."""

from __future__ import annotations

import numpy as np
import torch

from MLNNetLib.training.data import Case, TileSampler
from MLNNetLib.training.losses import compute_loss


def fixed_validation_tiles(cases: list[Case], tile: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    sampler = TileSampler(cases, tile, positive_fraction=0.5)
    rng = np.random.default_rng([seed, 999])
    tiles = [sampler.sample(rng) for _ in range(count)]
    x = torch.from_numpy(np.stack([t[0] for t in tiles])[:, None])
    y = torch.from_numpy(np.stack([t[1] for t in tiles])[:, None].astype(np.float32))
    return x, y


@torch.no_grad()
def validate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss_name: str, pos_weight: float, device: torch.device, batch: int = 8) -> tuple[float, float]:
    """(loss, pooled Dice at 0.5) of branch 0 — the source-similar branch is the one the source domain selects."""
    model.eval()
    logits = []
    for i in range(0, len(x), batch):
        xb = x[i : i + batch].to(device)
        logits.append(model(xb, torch.zeros(len(xb), dtype=torch.long, device=device)).float().cpu())
    lg = torch.cat(logits)
    dom = torch.zeros(len(lg), dtype=torch.long)
    loss = float(compute_loss(loss_name, lg, y, dom, 1, pos_weight))
    pred = (lg > 0).float()
    inter = float((pred * y).sum())
    denom = float(pred.sum() + y.sum())
    dice = 2 * inter / denom if denom > 0 else 1.0
    return loss, dice
