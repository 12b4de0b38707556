"""Segmentation losses. The paper's summed soft Dice is the default; Dice+BCE/focal exist because calcifications
are ~0.1 % of pixels and a pure Dice signal is weak early in training (DESIGN §3, "Making it learn").
Focal + Dice and the Hausdorff fine-tuning loss of seed 002 live in training/recipe/losses.py."""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-6


def soft_dice_two_class(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Paper eq. 14 for N=2 classes (calcification, background), pooled over the samples given: -(1/N) sum_n 2|c∩z|/(|c|+|z|).

    Pooling over the batch (not per sample) keeps tiles without calcifications from dominating with 0/0 terms.
    """
    dims = tuple(range(prob.ndim))
    fg = 2 * (prob * target).sum(dims) / (prob.sum(dims) + target.sum(dims) + EPS)
    bg_p, bg_t = 1 - prob, 1 - target
    bg = 2 * (bg_p * bg_t).sum(dims) / (bg_p.sum(dims) + bg_t.sum(dims) + EPS)
    return -(fg + bg) / 2


def summed_branch_dice(logits: torch.Tensor, target: torch.Tensor, domain: torch.Tensor, num_domains: int) -> torch.Tensor:
    """Paper eq. 15: L = sum over branches b of f_dice^b, each over the samples routed to branch b.

    Shifted by +1 per branch present so that a perfect prediction gives 0 (the optimum is unchanged).
    """
    prob = torch.sigmoid(logits.float())
    total = logits.new_zeros((), dtype=torch.float32)
    for b in range(num_domains):
        sel = domain == b
        if bool(sel.any()):
            total = total + 1 + soft_dice_two_class(prob[sel], target[sel])
    return total


def dice_bce(logits: torch.Tensor, target: torch.Tensor, domain: torch.Tensor, num_domains: int, pos_weight: float = 20.0) -> torch.Tensor:
    """Summed branch Dice plus a positively weighted BCE that gives every calcification pixel a gradient from step one."""
    bce = F.binary_cross_entropy_with_logits(
        logits.float(), target, pos_weight=torch.tensor(pos_weight, device=logits.device)
    )
    return summed_branch_dice(logits, target, domain, num_domains) + bce


LOSSES = {"paper": summed_branch_dice, "dice_bce": dice_bce}

# Seed 002 (Pro_UNeXt) recipe: "focal_dice" for training, "hd" (focal + Dice + HD-DT) for fine-tuning.
from MLNNetLib.training.recipe.losses import RECIPE_LOSSES  # noqa: E402

LOSSES.update(RECIPE_LOSSES)


def compute_loss(name: str, logits: torch.Tensor, target: torch.Tensor, domain: torch.Tensor, num_domains: int, pos_weight: float) -> torch.Tensor:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(LOSSES)}")
    if name == "paper":
        return summed_branch_dice(logits, target, domain, num_domains)
    return LOSSES[name](logits, target, domain, num_domains, pos_weight)
