"""Copy-paste of calcifications between tiles (seed 002 §2.1).

The seed copies calcification points of one image, counts the connected components, keeps a random share
(ratio in (0, 1]) of them and pastes them into another image. Here the kept components move together by one
translation (their relative layout, i.e. the cluster pattern the quantification reads, is preserved), land
preferably on breast tissue, and are copied pixel for pixel: the destination image takes the source's values
exactly where the source mask marks the kept components, and the destination mask marks exactly those pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

EIGHT = np.ones((3, 3), dtype=bool)


@dataclass
class PasteResult:
    image: np.ndarray
    mask: np.ndarray
    pasted: np.ndarray  # bool, destination pixels that were written
    offset: tuple[int, int]  # (rows, cols) added to source coordinates
    components: list[int]  # labels (8-connected, 1-based) of the source components that were pasted


def copy_paste(dst_img: np.ndarray, dst_mask: np.ndarray, src_img: np.ndarray, src_mask: np.ndarray,
               rng: np.random.Generator, dst_breast: np.ndarray | None = None, ratio: float | None = None,
               tries: int = 10) -> PasteResult:
    """Paste a random share of ``src_mask``'s calcifications (with their ``src_img`` pixels) into the
    destination tile. Returns copies; nothing is pasted when the source has no calcification."""
    img, mask = dst_img.copy(), dst_mask.copy()
    labels, n = ndimage.label(src_mask > 0, structure=EIGHT)
    none = PasteResult(img, mask, np.zeros(dst_mask.shape, dtype=bool), (0, 0), [])
    if n == 0:
        return none
    r = float(rng.uniform(0.0, 1.0)) if ratio is None else float(ratio)
    count = min(n, max(1, int(round(r * n))))
    chosen = sorted(int(v) for v in rng.choice(np.arange(1, n + 1), size=count, replace=False))
    coords = np.argwhere(np.isin(labels, chosen))
    lo, hi = coords.min(0), coords.max(0)
    h, w = dst_mask.shape
    if hi[0] - lo[0] >= h or hi[1] - lo[1] >= w:
        return none  # the chosen group is larger than the destination tile
    offset = None
    for _ in range(max(1, tries)):
        cand = np.array([rng.integers(-lo[0], h - hi[0]), rng.integers(-lo[1], w - hi[1])])
        centre = np.round(coords.mean(0) + cand).astype(int)
        offset = cand
        if dst_breast is None or dst_breast[centre[0], centre[1]]:
            break
    dst = coords + offset
    img[dst[:, 0], dst[:, 1]] = src_img[coords[:, 0], coords[:, 1]]
    mask[dst[:, 0], dst[:, 1]] = 1
    pasted = np.zeros(dst_mask.shape, dtype=bool)
    pasted[dst[:, 0], dst[:, 1]] = True
    return PasteResult(img, mask, pasted, (int(offset[0]), int(offset[1])), chosen)
