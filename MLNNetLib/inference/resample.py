"""Spacing policy: bring an image to the pixel spacing the model was trained at, and back.

Calcifications are 1-10 px wide, so a model trained at 0.07 mm sees a different object at 0.1 mm.
Beyond a tolerance (10 % by default) the image is resampled to the training spacing (linear) and the
probability is resampled back to the input grid (linear) before thresholding, or the image is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from MLNNetLib.errors import InputError

SPACING_POLICIES = ("resample", "refuse")


@dataclass(frozen=True)
class SpacingDecision:
    resample: bool
    factors: tuple[float, float]  # zoom per in-plane axis (rows, cols): image spacing / training spacing
    message: str


def decide_spacing(
    image_spacing: tuple[float, float],
    train_spacing: tuple[float, float] | None,
    policy: str = "resample",
    tolerance: float = 0.10,
    path: str | None = None,
) -> SpacingDecision:
    """Compare in-plane spacings (array order, mm); raise InputError under ``policy="refuse"`` if too far."""
    if policy not in SPACING_POLICIES:
        raise InputError(None, f"unknown spacing policy {policy!r}; choose one of {SPACING_POLICIES}")
    img = tuple(float(s) for s in image_spacing)
    if train_spacing is None:
        return SpacingDecision(False, (1.0, 1.0), f"spacing: checkpoint has no training spacing; image used as is at {_fmt(img)} mm")
    train = tuple(float(s) for s in train_spacing)
    if len(train) != 2 or len(img) != 2 or min(train + img) <= 0:
        raise InputError(path, f"invalid spacing: image {img}, training {train} (need two positive in-plane values)")
    factors = (img[0] / train[0], img[1] / train[1])
    worst = max(abs(f - 1.0) for f in factors)
    if worst <= tolerance:
        return SpacingDecision(False, (1.0, 1.0), f"spacing: image {_fmt(img)} mm within {tolerance:.0%} of training {_fmt(train)} mm; no resampling")
    if policy == "refuse":
        raise InputError(
            path,
            f"pixel spacing {_fmt(img)} mm differs by {worst:.0%} from the training spacing {_fmt(train)} mm "
            f"(tolerance {tolerance:.0%}); refusing (spacing policy 'refuse'; use 'resample' to resample it)",
        )
    return SpacingDecision(
        True,
        factors,
        f"spacing: image {_fmt(img)} mm differs by {worst:.0%} from training {_fmt(train)} mm; "
        f"resampling by {factors[0]:.3f} x {factors[1]:.3f} (linear) and the probability back (linear)",
    )


def _fmt(s: tuple[float, ...]) -> str:
    return " x ".join(f"{v:.4g}" for v in s)


def resize_plane(plane: np.ndarray, shape: tuple[int, int], order: int = 1) -> np.ndarray:
    """Resize a 2-D array to exactly ``shape`` with pixel-area-aligned sampling (grid mode)."""
    if tuple(plane.shape) == tuple(shape):
        return plane.copy()
    factors = (shape[0] / plane.shape[0], shape[1] / plane.shape[1])
    out = ndimage.zoom(plane, factors, order=order, mode="nearest", grid_mode=True)
    if out.shape != tuple(shape):  # guard against rounding in zoom's output-shape computation
        fixed = np.zeros(shape, dtype=out.dtype)
        r, c = min(shape[0], out.shape[0]), min(shape[1], out.shape[1])
        fixed[:r, :c] = out[:r, :c]
        out = fixed
    return out


def resampled_shape(shape: tuple[int, int], factors: tuple[float, float]) -> tuple[int, int]:
    return (max(1, int(round(shape[0] * factors[0]))), max(1, int(round(shape[1] * factors[1]))))


def resize_stack(stack: np.ndarray, shape: tuple[int, int], order: int = 1) -> np.ndarray:
    """Resize every plane of a (Z, H, W) stack to ``shape``; bool stacks use nearest neighbour."""
    if stack.dtype == bool:
        planes = [resize_plane(p.astype(np.uint8), shape, order=0).astype(bool) for p in stack]
    else:
        planes = [resize_plane(p, shape, order=order) for p in stack]
    return np.stack(planes)
