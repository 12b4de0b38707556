"""Reference labels from points: a level-tracing outline around each point placed on a calcification.

The algorithm lives in the library (``MLNNetLib.labels.level_tracing``: the same outline as Slicer's Level
tracing effect, checked against ``vtkITKLevelTracingImageFilter``), so the CLI and training turn points into
masks with exactly this code. This module only maps the point list into voxels and writes the segment:
each filled outline is OR-ed into the chosen segment. ``level_fraction=None`` traces at the seed pixel's own
intensity, exactly like the effect; the default 0.5 traces at half maximum around the spot.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.labels.level_tracing import PointLabel, default_max_pixels, label_point, window_radius_px
from MLNNetLib.scene.markups import point_list_ras, ras_to_ijk
from MLNNetLib.scene.segments import find_segment, segment_names, write_mask_to_segment
from MLNNetLib.scene.volumes import image_from_volume

__all__ = ["PointLabel", "label_points"]


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
    radius = window_radius_px(window_mm, image.spacing[1:])
    limit = max_pixels if max_pixels is not None else default_max_pixels(radius)
    ijk_all = np.rint(ras_to_ijk(volume_node, point_list_ras(points_node))).astype(int)
    mask = np.zeros(volume.shape, np.uint8)
    results: list[PointLabel] = []
    for n, (i, j, k) in enumerate(ijk_all):
        ijk = (int(i), int(j), int(k))
        if not 0 <= k < volume.shape[0]:
            results.append(PointLabel(n, ijk, None, 0, "outside the volume"))
            continue
        region, result = label_point(volume[k], (j, i), n, ijk, level_fraction, radius, snap_px, limit)
        if region is not None:
            mask[k][region] = 1
        results.append(result)
    names = segment_names(segmentation_node)
    if segment in names.values() or segment in names:
        segment_id = find_segment(segmentation_node, segment)
    else:
        segment_id = segmentation_node.GetSegmentation().AddEmptySegment("", segment)
    write_mask_to_segment(segmentation_node, segment_id, mask, volume_node, merge=True)
    return results
