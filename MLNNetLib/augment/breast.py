"""Breast (tissue) mask of a mammogram scaled to [0, 1]; reused by normalisation, "+" statistics and tiling.

How it decides (documented because inverted inputs must work):
1. Otsu threshold ``t`` on the image histogram (256 bins over [min, max]).
2. Polarity from a border ring: air touches most of a mammogram's border, so if the median of the
   ring's pixels lies above ``t`` the image is inverted (air is bright) and tissue is the dark class.
   The ring is inset by 2 % of each side (``BORDER_INSET``): digitised film (CBIS-DDSM) has bright
   scanner frames along the very edge, and on 5 of the package's 8 real CBIS-DDSM scans the outermost
   ring called a normal image inverted, while the inset ring got all 8, and their inversions, right.
3. A *low* threshold, a tenth of the way from the border (air) median to ``t`` but at least 4 robust
   noise sigmas of the air away from it, keeps the fatty periphery and skin line. Otsu alone (and the
   halfway point tried first) split *dense from fatty* tissue on processed FFDM-like images, so the
   "breast" lost its whole fatty rim, the inversion augmentation inverted only the dense core, and a
   model trained on that could not read MONOCHROME1-style images at all (Dice 0 with either branch).
4. Largest connected component (8-/26-connectivity) after an opening with a box of radius
   ``OPEN_FRACTION`` (0.5 %) of the shorter side: the opening cuts thin bright film frames and wires that
   touch the breast, so the component is the breast alone (labels and markers in the air drop out too).
   Tissue within that radius of the opened component is added back (the skin line survives), then
   holes are filled (calcifications and dark ducts inside the breast stay in). Frame bands wider than
   the radius that touch the breast stay in the mask (seen on one of the 8 CBIS-DDSM scans).
Meant for whole images (or large crops that still show air); a crop that is all tissue has no air to
find. Call it on the min-max scaled image (``normalize`` does): after robust normalisation the darkest
0.5 % of the breast is clipped to the air value and may fall off at the skin line.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (maximum between-class variance) of ``values``: the upper edge of the last bin of the dark class."""
    values = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centers = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centers)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    k = int(np.argmax(between[:-1]))
    return float(edges[k + 1])


BORDER_INSET = 0.02
OPEN_FRACTION = 0.005
AIR_FRACTION = 0.1  # tissue starts a tenth of the way from the air level to Otsu's threshold ...
AIR_NOISE_SIGMAS = 4.0  # ... but never within 4 noise sigmas of the air


def _border_values(img: np.ndarray, inset: float | None = None) -> np.ndarray:
    """Pixels on the faces of the box inset by ``inset`` (default BORDER_INSET) of each side."""
    inset = BORDER_INSET if inset is None else inset
    lo = [min(int(inset * n), (n - 1) // 2) for n in img.shape]
    box = img[tuple(slice(a, n - a) for a, n in zip(lo, img.shape))]
    parts = []
    for axis in range(box.ndim):
        parts.append(np.take(box, 0, axis=axis).ravel())
        parts.append(np.take(box, -1, axis=axis).ravel())
    return np.concatenate(parts)


def is_inverted(img01: np.ndarray, threshold: float | None = None) -> bool:
    """True when the air (image border) is brighter than the Otsu threshold, i.e. the image is inverted."""
    img = np.asarray(img01, dtype=np.float32)
    t = otsu_threshold(img) if threshold is None else threshold
    return bool(np.median(_border_values(img)) > t)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndimage.label(mask, structure=np.ones((3,) * mask.ndim, dtype=bool))
    if n == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _box(mask: np.ndarray, radius: int, grow: bool) -> np.ndarray:
    """Separable box dilation (grow) or erosion within each 2-D plane: fast on full-size mammograms."""
    size = (1,) * (mask.ndim - 2) + (2 * radius + 1,) * 2
    f = ndimage.maximum_filter if grow else ndimage.minimum_filter
    return f(mask.view(np.uint8), size=size, mode="constant", cval=0).astype(bool)


def breast_mask(img01: np.ndarray) -> np.ndarray:
    """Boolean mask of the breast: low threshold, opened largest component, holes filled (module docstring)."""
    img = np.asarray(img01, dtype=np.float32)
    if img.ndim not in (2, 3):
        raise ValueError(f"breast_mask: expected a 2-D or 3-D array, got shape {img.shape}")
    if float(img.max()) <= float(img.min()):
        return np.zeros(img.shape, dtype=bool)
    t = otsu_threshold(img)
    border = _border_values(img)
    inverted = float(np.median(border)) > t
    # the air level and its noise come from the ring's air-side pixels only: where the breast reaches the border
    # (the chest wall, a large breast) the ring crosses tissue, which inflated both (on 2 of the 8 real CBIS-DDSM
    # films the low threshold rose to 0.40-0.57 of full scale and the mask kept only the densest tissue)
    air_side = border[border > t] if inverted else border[border <= t]
    if air_side.size < 16:
        air_side = border
    air = float(np.median(air_side))
    noise = 1.4826 * float(np.median(np.abs(air_side - air)))  # robust sigma of the air (film grain, detector noise)
    step = max(AIR_FRACTION * abs(t - air), AIR_NOISE_SIGMAS * noise)
    low = air - step if inverted else air + step
    tissue = np.ascontiguousarray(img < low if inverted else img > low)
    radius = max(1, int(round(OPEN_FRACTION * min(img.shape[-2:]))))
    core = _largest_component(_box(_box(tissue, radius, grow=False), radius, grow=True))
    if not core.any():  # nothing survives the opening (a tiny image): fall back to the plain threshold
        core = _largest_component(tissue)
    mask = _largest_component(tissue & _box(core, radius, grow=True))
    if img.ndim == 3:  # fill holes slice by slice: a DBT stack is a set of 2-D projections
        return np.stack([fill_against_chest_wall(s) for s in mask])
    return fill_against_chest_wall(mask)


CHEST_WALL_CONTACT = 0.2  # the breast rests against the border side it touches over at least this share


def fill_against_chest_wall(mask: np.ndarray) -> np.ndarray:
    """Fill holes, counting the chest-wall border as closed.

    A region enclosed by the breast and the image border on the side the breast rests against is tissue, not
    air: in an image inverted inside the breast, dense tissue near the chest wall is as dark as the air and
    falls below the threshold, and the plain hole filling cannot close it because it touches the border.
    The chest wall is the border side with the most breast pixels (if the breast touches it over at least
    CHEST_WALL_CONTACT of its length); air touches the other sides too, so it is never filled this way.
    """
    filled = ndimage.binary_fill_holes(mask)
    sides = {"top": filled[0], "bottom": filled[-1], "left": filled[:, 0], "right": filled[:, -1]}
    side, edge = max(sides.items(), key=lambda kv: int(kv[1].sum()))
    if edge.mean() < CHEST_WALL_CONTACT:
        return filled
    pad = {"top": ((1, 0), (0, 0)), "bottom": ((0, 1), (0, 0)), "left": ((0, 0), (1, 0)), "right": ((0, 0), (0, 1))}[side]
    closed = ndimage.binary_fill_holes(np.pad(filled, pad, constant_values=True))
    (r0, _), (c0, _) = pad
    return closed[r0 : r0 + filled.shape[0], c0 : c0 + filled.shape[1]]
