"""Where the tiles go: a regular grid that covers every pixel, and which tiles hold breast tissue.

A mammogram is far larger than the network's input, so it is cut into overlapping square tiles. The last
tile of each row/column is shifted back to end exactly at the image border (no partial tiles), so each
pixel is covered by at least one tile and no padding is needed unless the image is smaller than a tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def tile_starts(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets along one axis of ``length`` pixels for tiles of ``tile`` pixels.

    The stride is ``tile * (1 - overlap)`` (at least 1 px); the last start is ``length - tile`` so the
    final tile ends on the border. ``length`` must be >= ``tile`` (pad smaller images first).
    """
    if tile < 1:
        raise ValueError(f"tile size must be >= 1, got {tile}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if length < tile:
        raise ValueError(f"axis of {length} px is smaller than the tile ({tile} px); pad it first")
    stride = max(1, int(round(tile * (1.0 - overlap))))
    last = length - tile
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


@dataclass(frozen=True)
class TilePlan:
    """Tiles of one 2-D plane: ``tiles`` to predict, ``skipped`` = tiles without a breast pixel."""

    tiles: list[tuple[int, int]]  # (row, col) of the top-left corner
    skipped: list[tuple[int, int]]
    tile: int
    shape: tuple[int, int]

    @property
    def total(self) -> int:
        return len(self.tiles) + len(self.skipped)


def _integral(mask: np.ndarray) -> np.ndarray:
    """Summed-area table with a zero first row/column: any box sum in O(1)."""
    sat = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    np.cumsum(np.cumsum(mask, axis=0, dtype=np.int64), axis=1, out=sat[1:, 1:])
    return sat


def box_counts(mask: np.ndarray, corners: list[tuple[int, int]], tile: int) -> np.ndarray:
    """Number of True pixels of ``mask`` inside each ``tile``-sized box starting at ``corners``."""
    if not corners:
        return np.zeros(0, dtype=np.int64)
    sat = _integral(mask.astype(bool))
    r = np.array([c[0] for c in corners])
    c = np.array([c[1] for c in corners])
    return sat[r + tile, c + tile] - sat[r, c + tile] - sat[r + tile, c] + sat[r, c]


def plan_tiles(shape: tuple[int, int], tile: int, overlap: float, mask: np.ndarray | None = None) -> TilePlan:
    """Grid of tiles over a plane of ``shape``; tiles with no ``mask`` pixel go to ``skipped``."""
    rows, cols = int(shape[0]), int(shape[1])
    corners = [(r, c) for r in tile_starts(rows, tile, overlap) for c in tile_starts(cols, tile, overlap)]
    if mask is None:
        return TilePlan(corners, [], tile, (rows, cols))
    if mask.shape != (rows, cols):
        raise ValueError(f"mask shape {mask.shape} differs from the plane {rows, cols}")
    counts = box_counts(mask, corners, tile)
    keep = [rc for rc, n in zip(corners, counts) if n > 0]
    skip = [rc for rc, n in zip(corners, counts) if n == 0]
    return TilePlan(keep, skip, tile, (rows, cols))


def pad_to(array: np.ndarray, min_rows: int, min_cols: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Zero-pad the last two axes at the bottom/right up to the minimum size; returns (padded, (pad_r, pad_c)).

    Zero is background after normalisation, so padding looks like air to the model.
    """
    pad_r = max(0, min_rows - array.shape[-2])
    pad_c = max(0, min_cols - array.shape[-1])
    if pad_r == 0 and pad_c == 0:
        return array, (0, 0)
    widths = [(0, 0)] * (array.ndim - 2) + [(0, pad_r), (0, pad_c)]
    return np.pad(array, widths, mode="constant"), (pad_r, pad_c)
