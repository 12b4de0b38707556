"""Per-image intensity normalisation to float32 [0, 1] (DESIGN §2): robust, breast-only, never 8-bit."""

from __future__ import annotations

import numpy as np

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


def normalize(array: np.ndarray, mask: np.ndarray | None = None,
              low: float = LOW_PERCENTILE, high: float = HIGH_PERCENTILE) -> np.ndarray:
    """Map ``array`` to float32 [0, 1] using the ``low``/``high`` percentiles inside ``mask``.

    Percentiles are taken inside the breast so that the size of the air region (which varies a lot
    between breasts) does not move the scale. Without a mask the breast is found first with
    :func:`MLNNetLib.augment.breast_mask` on a min-max scaled copy. Values outside the percentile
    range are clipped. A constant image (or empty mask with constant content) maps to zeros.
    """
    data = np.asarray(array, dtype=np.float32)
    if data.size == 0:
        raise ValueError("normalize: empty array")
    if not np.all(np.isfinite(data)):
        raise ValueError("normalize: array contains NaN or infinite values")
    if mask is None:
        from MLNNetLib.augment.breast import breast_mask

        lo, hi = float(data.min()), float(data.max())
        scaled = (data - lo) / (hi - lo) if hi > lo else np.zeros_like(data)
        mask = breast_mask(scaled)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != data.shape:
        raise ValueError(f"normalize: mask shape {mask.shape} differs from image shape {data.shape}")
    values = data[mask] if mask.any() else data.ravel()
    lo, hi = np.percentile(values.astype(np.float64), [low, high])
    if hi <= lo:
        return np.zeros(data.shape, dtype=np.float32)
    out = (data.astype(np.float64) - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
