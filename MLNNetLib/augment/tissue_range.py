"""Which breast pixels may set the normalisation scale: tissue and calcifications, not clips or markers.

Normalisation maps the 0.01st / 99.99th percentile of the pool of breast pixels to 0 / 1 (``preprocess``);
percentiles that extreme are set by a handful of pixels — exactly what a metal clip, a skin marker inside the
breast outline or a macrocalcification provides. Those objects are taken out of the pool first:

1. Tissue level: ``t_lo``, ``t_hi`` = 1st / 99th percentile of the breast pixels, ``w = t_hi - t_lo``
   (a clip of less than 1 % of the breast does not move them).
2. Candidates: connected pixels (8-connected) brighter than ``t_hi + MARGIN * w`` or darker than
   ``t_lo - MARGIN * w`` — both sides, because calcifications (and clips) are dark in MONOCHROME1-style images.
3. A candidate is *not tissue* when it covers more than a disc of ``MAX_CALCIFICATION_MM`` (1 mm, where BI-RADS
   calls calcifications coarse) at the image's spacing: microcalcifications are smaller and stay in the pool,
   so they keep setting the top of the scale as before (the 99.99th percentile was chosen so they are not
   clipped, docs/decisions.md). Vessel calcifications long enough to pass that area leave too.
4. Non-tissue objects are dilated by ``HALO_PX`` pixels before leaving the pool: their blurred rims would
   otherwise be the new extreme pixels.
Images without such objects keep exactly the pool they had.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

MARGIN = 0.25  # beyond the tissue range by a quarter of its width
MAX_CALCIFICATION_MM = 1.0
HALO_PX = 3
FALLBACK_SPACING_MM = 0.07  # spacing not known: the middle of 0.05-0.1 mm mammograms (seed 002's 0.068 mm)


def _max_area_px(spacing: Sequence[float] | None) -> float:
    sy, sx = (FALLBACK_SPACING_MM,) * 2 if spacing is None else (float(spacing[-2]), float(spacing[-1]))
    return float(np.pi * (MAX_CALCIFICATION_MM / 2) ** 2 / (sy * sx))


def non_tissue_objects(array: np.ndarray, breast: np.ndarray, spacing: Sequence[float] | None = None) -> np.ndarray:
    """Bool mask of the breast pixels that belong to (or ring) objects that are not tissue (module docstring)."""
    data = np.asarray(array, dtype=np.float32)
    breast = np.asarray(breast, dtype=bool)
    out = np.zeros(data.shape, dtype=bool)
    if breast.sum() < 100:
        return out
    t_lo, t_hi = np.percentile(data[breast].astype(np.float64), [1.0, 99.0])
    w = float(t_hi - t_lo)
    if w <= 0:
        return out
    outside = breast & ((data > t_hi + MARGIN * w) | (data < t_lo - MARGIN * w))
    if not outside.any():
        return out
    labels, n = ndimage.label(outside, structure=np.ones((3,) * data.ndim, dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    large = sizes > _max_area_px(spacing)
    if not large.any():
        return out
    objects = large[labels]
    return ndimage.binary_dilation(objects, structure=np.ones((3,) * data.ndim, dtype=bool), iterations=HALO_PX) & breast


def scale_pool(array: np.ndarray, breast: np.ndarray, spacing: Sequence[float] | None = None) -> np.ndarray:
    """The breast pixels allowed to set the normalisation (breast minus non-tissue objects; never empty)."""
    pool = np.asarray(breast, dtype=bool) & ~non_tissue_objects(array, breast, spacing)
    return pool if pool.any() else np.asarray(breast, dtype=bool)
