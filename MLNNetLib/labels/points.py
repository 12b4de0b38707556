"""Calcification centres as a label: a small JSON file of pixel coordinates, turned into masks by level tracing.

File format (``format: mlnnet-points``): ``{"format": "mlnnet-points", "version": 1, "coordinates":
"pixel (row, col), 0-based, of the image's array", "points": [[row, col], ...], "mask": null}``; rows/cols may
be fractional (INbreast gives sub-pixel centres) and are rounded to the nearest pixel when traced. ``mask``
optionally names a mask file (relative to the points file) of calcifications outlined in full (INbreast
contours), OR-ed with the traced points.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from MLNNetLib.atomic import write_text
from MLNNetLib.errors import InputError
from MLNNetLib.labels.level_tracing import PointLabel, default_max_pixels, label_point, window_radius_px

POINTS_FORMAT = "mlnnet-points"
COORDINATES = "pixel (row, col), 0-based, of the image's array"


def write_points(path: str | os.PathLike, points: Sequence[Sequence[float]], overwrite: bool = False,
                 mask: str | None = None) -> Path:
    rows = [[float(p[0]), float(p[1])] for p in points]
    data = {"format": POINTS_FORMAT, "version": 1, "coordinates": COORDINATES, "points": rows, "mask": mask}
    return write_text(path, json.dumps(data, indent=1) + "\n", overwrite)


def points_mask_file(path: str | os.PathLike) -> Path | None:
    """The outline mask a points file names (absolute), or None."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rel = data.get("mask") if isinstance(data, dict) else None
    return None if not rel else (Path(path).parent / rel)


def read_points(path: str | os.PathLike) -> np.ndarray:
    """(n, 2) float array of (row, col); InputError naming the file for anything else."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a readable points file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != POINTS_FORMAT:
        raise InputError(path, f"not a points file (expected \"format\": \"{POINTS_FORMAT}\")")
    pts = data.get("points")
    try:
        array = np.asarray(pts, dtype=np.float64).reshape(-1, 2) if pts else np.zeros((0, 2))
    except (TypeError, ValueError):
        raise InputError(path, "points must be a list of [row, col] pairs") from None
    if not np.all(np.isfinite(array)):
        raise InputError(path, "points hold non-finite coordinates")
    return array


def points_to_mask(plane: np.ndarray, points: np.ndarray, spacing_rc: Sequence[float], level_fraction: float | None = 0.5,
                   window_mm: float = 2.0, snap_px: int = 2, max_pixels: int | None = None) -> tuple[np.ndarray, list[PointLabel]]:
    """One filled level-tracing outline per point on a 2-D image (see ``level_tracing``), OR-ed into one mask.

    ``window_mm`` bounds the local window of the relative level (and so the largest object); ``max_pixels``
    (default: a quarter of that window) rejects runaway outlines, which are reported, not written.
    """
    if level_fraction is not None and not 0.0 < level_fraction < 1.0:
        raise InputError(None, f"level_fraction must be in (0, 1), got {level_fraction}")
    radius = window_radius_px(window_mm, tuple(spacing_rc))
    limit = max_pixels if max_pixels is not None else default_max_pixels(radius)
    mask = np.zeros(plane.shape, np.uint8)
    results = []
    for n, (r, c) in enumerate(np.rint(np.asarray(points, dtype=np.float64).reshape(-1, 2)).astype(int)):
        region, result = label_point(plane, (r, c), n, (int(c), int(r)), level_fraction, radius, snap_px, limit)
        if region is not None:
            mask[region] = 1
        results.append(result)
    return mask, results
