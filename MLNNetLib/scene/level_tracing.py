"""Reference labels from points: a level-tracing outline around each point placed on a calcification.

Slicer's Level tracing effect runs vtkITKLevelTracingImageFilter on the slice under the mouse: the outline
follows the iso-intensity line through the seed pixel, and the effect fills it. Clicking the centre of a
calcification would trace the iso-line at its peak value (often a single pixel), so by default the level is
set relative to the spot: ``background + level_fraction * (peak - background)`` in a small window
(half maximum by default), the seed is moved to the region's edge (where the filter starts tracing), and the
filled outline is OR-ed into the chosen segment. ``level_fraction=None`` traces at the seed pixel's own
intensity, exactly like the effect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.scene.markups import point_list_ras, ras_to_ijk
from MLNNetLib.scene.segments import find_segment, segment_names, write_mask_to_segment
from MLNNetLib.scene.volumes import image_from_volume


@dataclass
class PointLabel:
    """What happened at one point: its voxel, the level used and how many pixels were labelled."""

    index: int
    ijk: tuple[int, int, int]
    level: float | None
    pixels: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _trace(plane: np.ndarray, seed_rc: tuple[int, int]) -> np.ndarray:
    """Filled outline traced by vtkITKLevelTracingImageFilter from ``seed_rc`` on a 2-D array."""
    import slicer
    import vtk
    from scipy import ndimage
    from vtk.util import numpy_support

    rows, cols = plane.shape
    image = vtk.vtkImageData()
    image.SetDimensions(cols, rows, 1)
    scalars = numpy_support.numpy_to_vtk(np.ascontiguousarray(plane, dtype=np.float32).ravel(), deep=True)
    image.GetPointData().SetScalars(scalars)
    tracer = slicer.vtkITKLevelTracingImageFilter()
    tracer.SetInputData(image)
    tracer.SetSeed(int(seed_rc[1]), int(seed_rc[0]), 0)
    tracer.SetPlaneToIJ()
    tracer.Update()
    points = tracer.GetOutput().GetPoints()
    outline = np.zeros(plane.shape, bool)
    if points is None or points.GetNumberOfPoints() == 0:
        return outline
    xyz = np.rint(numpy_support.vtk_to_numpy(points.GetData())).astype(int)
    outline[xyz[:, 1], xyz[:, 0]] = True
    return ndimage.binary_fill_holes(outline)


def _relative_level_region(plane: np.ndarray, seed: tuple[int, int], fraction: float, radius: int, snap: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Region at ``background + fraction * (peak - background)`` around the seed (local window only)."""
    r0, c0 = seed
    rows, cols = plane.shape
    top, left = max(r0 - radius, 0), max(c0 - radius, 0)
    window = plane[top : min(r0 + radius + 1, rows), left : min(c0 + radius + 1, cols)]
    sr, sc = r0 - top, c0 - left
    near = window[max(sr - snap, 0) : sr + snap + 1, max(sc - snap, 0) : sc + snap + 1]
    pr, pc = np.unravel_index(int(np.argmax(near)), near.shape)
    pr, pc = pr + max(sr - snap, 0), pc + max(sc - snap, 0)  # brightest pixel near the click
    peak, background = float(window[pr, pc]), float(np.median(window))
    level = background + fraction * (peak - background)
    binary = (window >= level).astype(np.float32)
    # The filter starts on the region's edge: walk left from the peak to the last pixel inside.
    edge = pc
    while edge > 0 and binary[pr, edge - 1] > 0:
        edge -= 1
    filled = np.zeros(plane.shape, bool)
    if peak > background:
        region = _trace(np.pad(binary, 1), (pr + 1, edge + 1))[1:-1, 1:-1]
        region[pr, pc] = True  # a one-pixel spot has no chain to trace: it is its own outline
        filled[top : top + window.shape[0], left : left + window.shape[1]] = region
    else:
        filled[r0, c0] = True
    return filled, level, (pr + top, pc + left)


def label_points(
    volume_node: Any,
    points_node: Any,
    segmentation_node: Any,
    segment: str,
    level_fraction: float | None = 0.5,
    window_mm: float = 2.0,
    snap_px: int = 2,
    max_pixels: int | None = None,
) -> list[PointLabel]:
    """Fill a level-tracing outline around every control point into ``segment`` (created if missing).

    ``window_mm`` bounds the local window used for the relative level (and so the largest object);
    ``max_pixels`` (default: a quarter of that window) rejects runaway outlines, which are reported, not written.
    """
    if points_node is None or points_node.GetNumberOfControlPoints() == 0:
        raise InputError(None, "the point list has no points; place one on each calcification")
    if level_fraction is not None and not 0.0 < level_fraction < 1.0:
        raise InputError(None, f"level_fraction must be in (0, 1), got {level_fraction}")
    image = image_from_volume(volume_node, keep_slice_axis=True)
    volume = image.array  # (slices, rows, cols)
    spacing_rc = image.spacing[1:]
    radius = max(2, int(round(window_mm / min(spacing_rc))))
    limit = max_pixels if max_pixels is not None else max(4, (2 * radius + 1) ** 2 // 4)
    ijk_all = np.rint(ras_to_ijk(volume_node, point_list_ras(points_node))).astype(int)
    mask = np.zeros(volume.shape, np.uint8)
    results: list[PointLabel] = []
    for n, (i, j, k) in enumerate(ijk_all):
        ijk = (int(i), int(j), int(k))
        if not (0 <= k < volume.shape[0] and 0 <= j < volume.shape[1] and 0 <= i < volume.shape[2]):
            results.append(PointLabel(n, ijk, None, 0, "outside the volume"))
            continue
        plane = volume[k]
        if level_fraction is None:
            region, level = _trace(plane, (j, i)), float(plane[j, i])
            if not region.any():
                region[j, i] = True
        else:
            region, level, _ = _relative_level_region(plane, (j, i), level_fraction, radius, snap_px)
        count = int(region.sum())
        if count > limit:
            results.append(PointLabel(n, ijk, level, 0, f"outline of {count} px exceeds {limit} px; not labelled"))
            continue
        mask[k][region] = 1
        results.append(PointLabel(n, ijk, level, count))
    names = segment_names(segmentation_node)
    if segment in names.values() or segment in names:
        segment_id = find_segment(segmentation_node, segment)
    else:
        segment_id = segmentation_node.GetSegmentation().AddEmptySegment("", segment)
    write_mask_to_segment(segmentation_node, segment_id, mask, volume_node, merge=True)
    return results
