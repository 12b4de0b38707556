"""Plane-by-plane preparation, so a DBT series never needs more than one prepared plane in memory.

A plane is normalised on its breast tissue (the same preparation as training), cut to the ROI, resampled
to the training spacing if needed and padded to at least one tile. The branch-selection candidates (the
tiles with the most tissue, then the most texture) are collected across the whole series in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from MLNNetLib.augment.invert import invert
from MLNNetLib.inference.resample import resize_stack
from MLNNetLib.inference.tiling import box_counts, pad_to
from MLNNetLib.preprocess import prepare_image


@dataclass
class Plane:
    work: np.ndarray  # (1, H', W') float32 in [0, 1]: ROI crop, resampled, padded
    mask: np.ndarray  # (1, H', W') bool breast mask on the same grid
    breast_sum: float  # sum and count of normalised breast intensities in the ROI (for the "+" mean)
    breast_count: int


class PlanePreparer:
    """Turns plane ``z`` of a (Z, H, W) stack into the grid the model works on."""

    def __init__(self, stack: np.ndarray, roi: tuple[int, int, int, int], resampled_shape: tuple[int, int] | None, min_size: int,
                 spacing: tuple[float, float] | None = None):
        self.stack = stack
        self.spacing = spacing  # of a plane, mm: what prepare_image calls "larger than 1 mm"
        self.roi = roi
        self.resampled_shape = resampled_shape
        self.min_size = min_size
        self._cache: dict[int, Plane] = {}

    def get(self, z: int, keep: bool = False) -> Plane:
        """Prepared plane ``z``; ``keep=True`` caches it (a single 2-D image is prepared only once), and a cached
        plane stays cached while ``keep`` is asked (``PlannedImage(reuse=True)`` predicts from it again)."""
        if z in self._cache:
            return self._cache[z] if keep else self._cache.pop(z)
        img01, breast = prepare_image(self.stack[z], self.spacing)
        r0, c0, r1, c1 = self.roi
        work, mask = img01[None, r0:r1, c0:c1], breast[None, r0:r1, c0:c1]
        total, count = float(work[mask].sum(dtype=np.float64)), int(mask.sum())
        if count == 0:
            total, count = float(work.sum(dtype=np.float64)), int(work.size)
        if self.resampled_shape is not None:
            work = resize_stack(work, self.resampled_shape, order=1)
            mask = resize_stack(mask, self.resampled_shape)
        work, _ = pad_to(work, self.min_size, self.min_size)
        mask, _ = pad_to(mask, self.min_size, self.min_size)
        plane = Plane(np.ascontiguousarray(work, dtype=np.float32), mask, total, count)
        if keep:
            self._cache[z] = plane
        return plane


class TissueTiles:
    """The ``n`` tiles with the most breast pixels over a series (ties: higher variance, then position)."""

    def __init__(self, n: int):
        self.n = n
        self._best: list[tuple[tuple, np.ndarray, np.ndarray]] = []

    def offer(self, z: int, plane: Plane, corners: list[tuple[int, int]], tile: int) -> None:
        if not corners:
            return
        counts = box_counts(plane.mask[0], corners, tile)
        order = sorted(range(len(corners)), key=lambda i: (-int(counts[i]), corners[i]))[: max(4 * self.n, 32)]
        for i in order:  # variance only for the fullest tiles: bounded work on big images
            r, c = corners[i]
            patch = plane.work[0, r : r + tile, c : c + tile]
            inside = plane.mask[0, r : r + tile, c : c + tile]
            self._best.append(((-int(counts[i]), -float(patch.var()), z, r, c), patch.copy(), inside.copy()))
        self._best.sort(key=lambda kv: kv[0])
        del self._best[self.n :]

    def offer_patch(self, key: tuple, patch: np.ndarray, inside: np.ndarray | None = None) -> None:
        self._best.append((key, patch.copy(), (patch > 0) if inside is None else inside.copy()))
        self._best.sort(key=lambda kv: kv[0])
        del self._best[self.n :]

    def tiles(self, inverted: bool = False) -> list[np.ndarray]:
        """The chosen tiles; ``inverted``: with the breast inverted, as a single-branch model then sees them."""
        if inverted:
            return [invert(p, m) for _, p, m in self._best]
        return [p for _, p, _ in self._best]

    def breast_mean(self) -> float | None:
        """Mean over the chosen tiles of each tile's mean breast intensity: the "+" correctional mean, defined
        exactly as training records it (per selection tile, then averaged), so both sides compare one quantity."""
        means = [float(p[m].mean()) for _, p, m in self._best if m.any()]
        return float(np.mean(means)) if means else None

    def corners(self) -> list[tuple[int, int, int]]:
        """(plane, row, col) of each chosen tile, in the order of ``tiles()``."""
        return [(int(k[2]), int(k[3]), int(k[4])) for k, _, _ in self._best]


def tissue_tiles(image01: np.ndarray, breast: np.ndarray, tile: int, n: int, overlap: float = 0.25) -> list[np.ndarray]:
    """The selection tiles of one prepared 2-D image, exactly as ``segment_image`` picks them."""
    return [image01[r : r + tile, c : c + tile] for r, c in tissue_tile_corners(image01, breast, tile, n, overlap)]


def tissue_tile_corners(image01: np.ndarray, breast: np.ndarray, tile: int, n: int, overlap: float = 0.25) -> list[tuple[int, int]]:
    """Top-left corners of the selection tiles of a prepared 2-D image at least one tile in size. Training
    records the domain statistics and calibrates the OOD threshold on these same tiles, so selection
    compares like with like (tissue-filled tiles, not tiles half in the air)."""
    if min(image01.shape) < tile:
        raise ValueError(f"image {image01.shape} is smaller than the tile {tile}")
    from MLNNetLib.inference.tiling import plan_tiles

    plane = Plane(image01[None], breast[None].astype(bool), float(image01[breast].sum()), int(breast.sum()))
    plan = plan_tiles(image01.shape, tile, overlap, breast)
    chooser = TissueTiles(n)
    chooser.offer(0, plane, plan.tiles, tile)
    return [(r, c) for _, r, c in chooser.corners()]
