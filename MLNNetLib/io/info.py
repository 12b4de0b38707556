"""image_info: what a file holds and where its spacing came from, as one JSON-able dict."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from MLNNetLib.io.read import read_image


def image_info(path: str | os.PathLike, default_spacing: float | None = None) -> dict[str, Any]:
    image = read_image(path, default_spacing)
    a = image.array
    p_lo, p_hi = np.percentile(a, [0.5, 99.5])
    meta = image.meta
    info: dict[str, Any] = {
        "path": os.fspath(path),
        "format": meta.get("format"),
        "shape": list(a.shape),
        "dtype": meta.get("file_dtype", str(a.dtype)),
        "spacing": [float(s) for s in image.spacing],
        "spacing_source": meta.get("spacing_source"),
        "origin": [float(v) for v in image.geometry.origin_xyz],
        "direction": [float(v) for v in image.geometry.direction],
        "photometric": meta.get("photometric"),
        "modality": meta.get("modality"),
        "frames": meta.get("frames"),
        "intensity": {"min": float(a.min()), "max": float(a.max()), "p0.5": float(p_lo), "p99.5": float(p_hi)},
        "warnings": list(meta.get("warnings", [])),
    }
    if "slice_spacing_source" in meta:
        info["slice_spacing_source"] = meta["slice_spacing_source"]
    return info
