"""Level tracing around a point on a calcification: the library's own version of Slicer's *Level tracing* effect.

Slicer's effect runs ``vtkITKLevelTracingImageFilter`` (ITK's LevelTracingImageFilter) on the slice under the
mouse and fills the outline it returns. That filter walks the boundary of the region of pixels >= the seed's
value (foreground 8-connected, background 4-connected), starting at the seed, which must touch the background
(else it is moved onto a 4-neighbour that does, or nothing is traced), and stops when it is back at the seed.
``trace_outline`` follows the same rule in numpy, so the CLI, training and the Slicer module share one
implementation without Slicer; a test compares it with the vtkITK filter pixel for pixel.

Clicking the centre of a calcification would trace the iso-line at its peak value (often a single pixel), so
the default level is relative to the spot: ``background + fraction * (peak - background)`` inside a small
window (``fraction`` 0.5 = half maximum), where the peak is the brightest pixel within ``snap`` px of the
click and the background is the window's median; the seed is moved to the region's edge (where the tracer
starts). A click anywhere on the spot gives the same outline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage



@dataclass
class PointLabel:
    """What happened at one point: its index, the level used and how many pixels were labelled."""

    index: int
    ijk: tuple[int, ...]
    level: float | None
    pixels: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# 8 neighbours as (d_row, d_col), in the tracer's order: the walk turns through them clockwise
_NEIGHBOURS = ((-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0))


def trace_outline(plane: np.ndarray, seed_rc: tuple[int, int], level: float | None = None) -> np.ndarray:
    """Boundary pixels of the region of pixels >= ``level`` (default: the seed's value) walked from the seed,
    as the Level tracing filter walks them; empty when the seed does not touch the region's boundary."""
    plane = np.asarray(plane)
    rows, cols = plane.shape
    threshold = float(plane[seed_rc[0], seed_rc[1]]) if level is None else float(level)
    outline = np.zeros(plane.shape, bool)

    def inside(r: int, c: int) -> bool:
        return 0 <= r < rows and 0 <= c < cols and plane[r, c] >= threshold

    r, c = int(seed_rc[0]), int(seed_rc[1])
    if not inside(r, c):
        return outline
    start = next((k for k in (1, 3, 5, 7) if not inside(r + _NEIGHBOURS[k][0], c + _NEIGHBOURS[k][1])), None)
    if start is None:  # no 4-neighbour in the background: move to a 4-neighbour next to a background corner
        corner = next((k for k in (0, 2, 4, 6) if not inside(r + _NEIGHBOURS[k][0], c + _NEIGHBOURS[k][1])), None)
        if corner is None:
            return outline  # not on a boundary: nothing to trace (as the filter)
        moved = (corner + 1) % 8
        r, c = r + _NEIGHBOURS[moved][0], c + _NEIGHBOURS[moved][1]
        start = (moved + 6) % 8
    seed = (r, c)
    outline[r, c] = True
    back = start  # index of the last background neighbour seen from the current pixel
    while True:
        for s in range(8):
            k = (s + back + 1) % 8
            nr, nc = r + _NEIGHBOURS[k][0], c + _NEIGHBOURS[k][1]
            if inside(nr, nc):
                r, c = nr, nc
                outline[r, c] = True
                back = (k + 4) % 8
                break
        if (r, c) == seed:
            return outline


def trace_level(plane: np.ndarray, seed_rc: tuple[int, int], level: float | None = None) -> np.ndarray:
    """The filled outline: what the Level tracing effect paints when clicked at ``seed_rc``."""
    return ndimage.binary_fill_holes(trace_outline(plane, seed_rc, level))


def relative_level_region(plane: np.ndarray, seed: tuple[int, int], fraction: float, radius: int,
                          snap: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """(filled region in plane coordinates, level, peak pixel) at ``background + fraction * (peak - background)``
    inside the ``(2 radius + 1)``-px window around ``seed``; a flat window gives the seed pixel alone."""
    r0, c0 = int(seed[0]), int(seed[1])
    rows, cols = plane.shape
    top, left = max(r0 - radius, 0), max(c0 - radius, 0)
    window = np.asarray(plane[top: min(r0 + radius + 1, rows), left: min(c0 + radius + 1, cols)], dtype=np.float64)
    sr, sc = r0 - top, c0 - left
    near = window[max(sr - snap, 0): sr + snap + 1, max(sc - snap, 0): sc + snap + 1]
    pr, pc = np.unravel_index(int(np.argmax(near)), near.shape)
    pr, pc = int(pr + max(sr - snap, 0)), int(pc + max(sc - snap, 0))  # brightest pixel near the click
    peak, background = float(window[pr, pc]), float(np.median(window))
    level = background + fraction * (peak - background)
    filled = np.zeros(plane.shape, bool)
    if peak > background:
        binary = (window >= level).astype(np.float32)
        edge = pc  # the tracer starts on the region's edge: walk left from the peak to the last pixel inside
        while edge > 0 and binary[pr, edge - 1] > 0:
            edge -= 1
        region = trace_level(np.pad(binary, 1), (pr + 1, edge + 1))[1:-1, 1:-1]
        region[pr, pc] = True  # a one-pixel spot has no chain to trace: it is its own outline
        filled[top: top + window.shape[0], left: left + window.shape[1]] = region
    else:
        filled[r0, c0] = True
    return filled, level, (pr + top, pc + left)


def window_radius_px(window_mm: float, spacing_rc: tuple[float, float]) -> int:
    """Half width of the local window, in pixels of the finer axis (at least 2)."""
    return max(2, int(round(window_mm / min(float(s) for s in spacing_rc))))


def default_max_pixels(radius: int) -> int:
    """Largest accepted outline: a quarter of the window (bigger ones ran away into tissue)."""
    return max(4, (2 * radius + 1) ** 2 // 4)


def label_point(plane: np.ndarray, rc: tuple[int, int], index: int, ijk: tuple[int, ...],
                level_fraction: float | None, radius: int, snap_px: int, limit: int) -> tuple[np.ndarray | None, PointLabel]:
    """The region of one point on one 2-D plane, or None with the reason (outside, runaway outline)."""
    r, c = int(rc[0]), int(rc[1])
    if not (0 <= r < plane.shape[0] and 0 <= c < plane.shape[1]):
        return None, PointLabel(index, ijk, None, 0, "outside the volume")
    if level_fraction is None:
        region, level = trace_level(plane, (r, c)), float(plane[r, c])
        if not region.any():
            region[r, c] = True
    else:
        region, level, _ = relative_level_region(plane, (r, c), level_fraction, radius, snap_px)
    count = int(region.sum())
    if count > limit:
        return None, PointLabel(index, ijk, level, 0, f"outline of {count} px exceeds {limit} px; not labelled")
    return region, PointLabel(index, ijk, level, count)
