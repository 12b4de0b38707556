"""Seed 002 §2.4 losses: focal + Dice for the main training, then a Hausdorff-distance loss to fine-tune.

The HD loss is the distance-transform form of Karimi & Salcudean (2019, IEEE TMI, "Reducing the Hausdorff
distance in medical image segmentation with convolutional neural networks"):
``mean((p - g)^2 * (d_g^alpha + d_p^alpha))`` with ``d_g``/``d_p`` the distance of every pixel to the boundary
of the reference / thresholded prediction (distance maps are constants; the gradient flows through p).
It is zero when the prediction equals the reference and grows with the distance of misplaced pixels. Used
alone it trains unstably (the seed says so), so the fine-tuning objective keeps focal + Dice beside it.
All losses take ``(logits, target, domain, num_domains, pos_weight)`` like MLNNetLib.training.losses.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

FOCAL_ALPHA = 0.75  # weight of calcification pixels (they are ~0.1 % of a mammogram)
FOCAL_GAMMA = 2.0
FOCAL_WEIGHT = 10.0  # focal is a per-pixel mean, ~100x smaller than a Dice term; same weight as training.losses
DICE_SMOOTH = 1.0  # an empty prediction of an empty tile has Dice loss 0, not 0/0
HD_ALPHA = 2.0
HD_SCALE_PX = 16.0  # distances in units of 16 px (~1.1 mm at 0.068 mm: the seed's cluster kernel)
HD_WEIGHT = 1.0


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = FOCAL_ALPHA,
               gamma: float = FOCAL_GAMMA) -> torch.Tensor:
    """Binary focal loss ``-alpha_t (1 - p_t)^gamma log p_t``, mean over all pixels."""
    logits = logits.float()
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = p * target + (1 - p) * (1 - target)
    a_t = alpha * target + (1 - alpha) * (1 - target)
    return (a_t * (1 - p_t) ** gamma * ce).mean()


def dice_loss(prob: torch.Tensor, target: torch.Tensor, smooth: float = DICE_SMOOTH) -> torch.Tensor:
    """``1 - (2|p.g| + s) / (|p| + |g| + s)`` pooled over every pixel given (foreground class)."""
    inter = (prob * target).sum()
    return 1 - (2 * inter + smooth) / (prob.sum() + target.sum() + smooth)


def branch_dice(logits: torch.Tensor, target: torch.Tensor, domain: torch.Tensor, num_domains: int) -> torch.Tensor:
    """Sum over branches of the Dice loss of the samples routed to each (MLN-net's eq. 15 with this Dice)."""
    prob = torch.sigmoid(logits.float())
    total = logits.new_zeros((), dtype=torch.float32)
    for b in range(max(1, num_domains)):
        sel = domain == b
        if bool(sel.any()):
            total = total + dice_loss(prob[sel], target[sel])
    return total


def focal_dice(logits: torch.Tensor, target: torch.Tensor, domain: torch.Tensor, num_domains: int,
               pos_weight: float = 0.0) -> torch.Tensor:
    """Seed 002's first training phase: Dice (summed over branches) + FOCAL_WEIGHT * focal."""
    return branch_dice(logits, target, domain, num_domains) + FOCAL_WEIGHT * focal_loss(logits, target)


def boundary_distance(mask: np.ndarray) -> np.ndarray:
    """Distance (px) of every pixel to the other class: inside -> nearest background, outside -> nearest
    foreground. All zeros when the mask is empty or full (no boundary to be far from)."""
    m = np.asarray(mask, dtype=bool)
    if not m.any() or m.all():
        return np.zeros(m.shape, dtype=np.float32)
    return (ndimage.distance_transform_edt(m) + ndimage.distance_transform_edt(~m)).astype(np.float32)


def _distance_maps(masks: torch.Tensor) -> torch.Tensor:
    """``boundary_distance`` of every 2-D plane of a (..., H, W) 0/1 tensor, on the tensor's device."""
    arr = masks.detach().to("cpu", torch.bool).numpy()
    flat = arr.reshape(-1, *arr.shape[-2:])
    out = np.stack([boundary_distance(m) for m in flat]).reshape(arr.shape)
    return torch.from_numpy(out).to(masks.device)


def hausdorff_dt_loss(prob: torch.Tensor, target: torch.Tensor, alpha: float = HD_ALPHA,
                      scale_px: float = HD_SCALE_PX, two_sided: bool = True) -> torch.Tensor:
    """Karimi's HD-DT loss on probabilities ``prob`` and 0/1 ``target`` (both (B, 1, H, W))."""
    if prob.shape != target.shape:
        raise ValueError(f"prob {tuple(prob.shape)} and target {tuple(target.shape)} differ in shape")
    field = (_distance_maps(target > 0.5) / scale_px) ** alpha
    if two_sided:
        field = field + (_distance_maps(prob.detach() > 0.5) / scale_px) ** alpha
    return ((prob.float() - target.float()) ** 2 * field).mean()


def hd_finetune(logits: torch.Tensor, target: torch.Tensor, domain: torch.Tensor, num_domains: int,
                pos_weight: float = 0.0) -> torch.Tensor:
    """Seed 002's fine-tuning objective: focal + Dice + HD_WEIGHT * two-sided HD-DT loss."""
    prob = torch.sigmoid(logits.float())
    return focal_dice(logits, target, domain, num_domains) + HD_WEIGHT * hausdorff_dt_loss(prob, target)


RECIPE_LOSSES = {"focal_dice": focal_dice, "hd": hd_finetune}
