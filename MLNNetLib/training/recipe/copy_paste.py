"""Copy-paste of calcifications between tiles (seed 002 §2.1).

The seed copies calcification points of one image, counts the connected components, keeps a random share
(ratio in (0, 1]) of them and pastes them into another image. Here the kept components move together by one
translation (their relative layout, i.e. the cluster pattern the quantification reads, is preserved) and land
preferably on breast tissue.

What is transferred (why not the source pixels themselves): a calcification's pixels carry the source's
tissue level under them, so writing them into another tile leaves a step where the source's background meets
the destination's — exactly on the label boundary. A network learns that edge instead of the calcification
(a shortcut no real image offers), and the object's blurred rim, which lies outside the label, is lost. So
each component brings its *contrast*: source minus the median of a ring of source tissue around it, added to
the destination with weight 1 on the mask pixels and fading linearly to 0 over ``HALO_PX`` pixels outside them
(the rim goes along, the step does not). The destination mask marks exactly the pasted mask pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

EIGHT = np.ones((3, 3), dtype=bool)
HALO_PX = 3  # the rim of a calcification (system blur) carried with it, fading to nothing
RING_PX = 3  # width of the tissue ring, just beyond the rim, that gives each component's background


@dataclass
class PasteResult:
    image: np.ndarray
    mask: np.ndarray
    pasted: np.ndarray  # bool, destination pixels that were changed (mask pixels and their fading rim)
    offset: tuple[int, int]  # (rows, cols) added to source coordinates
    components: list[int]  # labels (8-connected, 1-based) of the source components that were pasted


def contrast_and_weight(src_img: np.ndarray, labels: np.ndarray, chosen: list[int],
                        halo: int = HALO_PX, ring: int = RING_PX) -> tuple[np.ndarray, np.ndarray]:
    """(contrast, weight) over the source tile for the chosen components (module docstring)."""
    img = np.asarray(src_img, dtype=np.float64)
    any_calc = labels > 0
    near_any = ndimage.binary_dilation(any_calc, EIGHT, iterations=halo)
    chosen_mask = np.isin(labels, chosen)
    dist, (ri, ci) = ndimage.distance_transform_edt(~chosen_mask, return_indices=True)
    weight = np.clip(1.0 - dist / (halo + 1.0), 0.0, 1.0)
    owner = np.where(weight > 0, labels[ri, ci], 0)  # every rim pixel belongs to its nearest chosen component
    contrast = np.zeros(img.shape, dtype=np.float64)
    fallback = float(np.median(img[~near_any])) if (~near_any).any() else float(np.median(img))
    for k in chosen:
        comp = labels == k
        around = ndimage.binary_dilation(comp, EIGHT, iterations=halo + ring) & ~near_any
        background = float(np.median(img[around])) if around.any() else fallback
        where = owner == k
        contrast[where] = img[where] - background
    others = ndimage.binary_dilation(any_calc & ~chosen_mask, EIGHT)  # a calcification left behind stays behind
    return contrast, weight * (owner > 0) * ~others


def copy_paste(dst_img: np.ndarray, dst_mask: np.ndarray, src_img: np.ndarray, src_mask: np.ndarray,
               rng: np.random.Generator, dst_breast: np.ndarray | None = None, ratio: float | None = None,
               tries: int = 10) -> PasteResult:
    """Paste a random share of ``src_mask``'s calcifications (their contrast against the source tissue) into the
    destination tile. Returns copies; nothing is pasted when the source has no calcification."""
    img, mask = dst_img.copy(), dst_mask.copy()
    labels, n = ndimage.label(src_mask > 0, structure=EIGHT)
    none = PasteResult(img, mask, np.zeros(dst_mask.shape, dtype=bool), (0, 0), [])
    if n == 0:
        return none
    r = float(rng.uniform(0.0, 1.0)) if ratio is None else float(ratio)
    count = min(n, max(1, int(round(r * n))))
    chosen = sorted(int(v) for v in rng.choice(np.arange(1, n + 1), size=count, replace=False))
    contrast, weight = contrast_and_weight(src_img, labels, chosen)
    support = np.argwhere(weight > 0)  # mask pixels and their rim
    lo, hi = support.min(0), support.max(0)
    h, w = dst_mask.shape
    if hi[0] - lo[0] >= h or hi[1] - lo[1] >= w:
        return none  # the chosen group is larger than the destination tile
    calc = np.argwhere(np.isin(labels, chosen))
    offset = None
    for _ in range(max(1, tries)):
        cand = np.array([rng.integers(-lo[0], h - hi[0]), rng.integers(-lo[1], w - hi[1])])
        centre = np.round(calc.mean(0) + cand).astype(int)
        offset = cand
        if dst_breast is None or dst_breast[centre[0], centre[1]]:
            break
    dst = support + offset
    add = (weight * contrast)[support[:, 0], support[:, 1]]
    img[dst[:, 0], dst[:, 1]] = np.clip(img[dst[:, 0], dst[:, 1]] + add, 0.0, 1.0).astype(img.dtype)
    mask[calc[:, 0] + offset[0], calc[:, 1] + offset[1]] = 1
    pasted = np.zeros(dst_mask.shape, dtype=bool)
    pasted[dst[:, 0], dst[:, 1]] = True
    return PasteResult(img, mask, pasted, (int(offset[0]), int(offset[1])), chosen)
