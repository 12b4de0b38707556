"""PNG sheets of samples with calcification outlines, to check by eye that the data look like mammograms.

Images are shown as a DICOM reader returns them (MONOCHROME1 converted, a wrong MONOCHROME2 tag not), each
windowed to its own 0.5-99.8 % range. Samples are reduced to small previews as soon as they are made, so a
dataset of 0.05 mm images does not keep full images in memory for the sheet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from MLNNetLib.atomic import atomic_path
from MLNNetLib.synth.domains import DomainSpec

OVERVIEW_ROWS = 400
ZOOM_MM = 16.0


@dataclass
class Preview:
    title: str
    overview: np.ndarray  # windowed 0..1, at most OVERVIEW_ROWS rows
    scale: int  # overview pixel = scale x scale image pixels
    box: tuple[int, int, int]  # (row0, col0, size) of the zoom, image pixels
    zoom: np.ndarray  # windowed 0..1
    zoom_mask: np.ndarray  # bool
    isolated_px: list[tuple[float, float]]
    caption: str


def as_read(image: np.ndarray, spec: DomainSpec) -> np.ndarray:
    """What a DICOM reader returns for the stored ``image``: MONOCHROME1 is inverted, MONOCHROME2 kept."""
    return (spec.max_value - image) if spec.photometric == "MONOCHROME1" else image


def _window(image: np.ndarray) -> np.ndarray:
    vals = image[image > np.percentile(image, 5)] if image.size else image
    lo, hi = np.percentile(vals if vals.size else image, [0.5, 99.8])
    return np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32)


def _zoom_box(shape: tuple[int, int], info: dict, size: int) -> tuple[int, int]:
    calcs = info.get("calcifications", [])
    clustered = [c for c in calcs if c.get("cluster", 0) == 1] or [c for c in calcs if c.get("cluster", 0) > 0] or calcs
    if clustered:
        r, c = np.mean([c["centroid_px"] for c in clustered], axis=0)
    else:
        r, c = np.array(shape) / 2
    r0 = int(np.clip(r - size // 2, 0, max(shape[0] - size, 0)))
    c0 = int(np.clip(c - size // 2, 0, max(shape[1] - size, 0)))
    return r0, c0


def make_preview(title: str, image: np.ndarray, mask: np.ndarray, info: dict, zoom_mm: float = ZOOM_MM) -> Preview:
    spacing = float(info.get("spacing_mm", 0.1))
    shown = _window(image)
    k = max(1, image.shape[0] // OVERVIEW_ROWS)
    size = int(round(zoom_mm / spacing))
    r0, c0 = _zoom_box(image.shape, info, size)
    return Preview(title=title, overview=shown[::k, ::k].copy(), scale=k, box=(r0, c0, size),
                   zoom=shown[r0:r0 + size, c0:c0 + size].copy(), zoom_mask=mask[r0:r0 + size, c0:c0 + size].astype(bool),
                   isolated_px=[tuple(c["centroid_px"]) for c in info.get("calcifications", []) if c.get("cluster", 0) == 0],
                   caption=f"{info.get('case_label', '')}: {info.get('n_calcifications', 0)} calc, "
                           f"{info.get('n_clusters', 0)} clusters, {spacing:g} mm ({zoom_mm:g} mm box)")


def _draw(ax_full, ax_zoom, p: Preview) -> None:
    import matplotlib.pyplot as plt

    k = p.scale
    h, w = p.overview.shape
    ax_full.imshow(p.overview, cmap="gray", vmin=0, vmax=1, extent=(-0.5, w * k - 0.5, h * k - 0.5, -0.5))
    ax_full.set_title(p.title, fontsize=8)
    r0, c0, size = p.box
    ax_full.add_patch(plt.Rectangle((c0, r0), size, size, fill=False, ec="yellow", lw=0.8))
    for r, c in p.isolated_px:
        ax_full.plot(c, r, "o", ms=3, mfc="none", mec="cyan", mew=0.6)
    ax_zoom.imshow(p.zoom, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    edge = p.zoom_mask
    outline = ndimage.binary_dilation(edge, iterations=2) & ~ndimage.binary_dilation(edge, iterations=1)
    overlay = np.zeros(outline.shape + (4,))
    overlay[outline] = (1.0, 0.15, 0.1, 0.9)
    ax_zoom.imshow(overlay, interpolation="nearest")
    ax_zoom.set_title(p.caption, fontsize=6)


def _save(fig, path: str | os.PathLike, overwrite: bool) -> Path:
    import matplotlib.pyplot as plt

    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def write_contact_sheet(samples: Sequence[Preview], path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Row 1: whole images (zoom box yellow, isolated calcifications cyan); row 2: the zoom, annotation in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(samples), 1)
    fig, axes = plt.subplots(2, n, figsize=(3.0 * n, 6.4), squeeze=False, dpi=110)
    for j, p in enumerate(samples):
        _draw(axes[0, j], axes[1, j], p)
    return _save(fig, path, overwrite)


def write_style_sheet(rows: Sequence[tuple[str, Sequence[Preview]]], path: str | os.PathLike, overwrite: bool = False) -> Path:
    """One row per style, the same cases in the same columns (whole image, then its zoom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = max((len(p) for _, p in rows), default=1)
    fig, axes = plt.subplots(len(rows), 2 * cases, figsize=(2.6 * 2 * cases, 2.9 * len(rows)), squeeze=False, dpi=60)
    for i, (_name, previews) in enumerate(rows):
        for j, p in enumerate(previews):
            _draw(axes[i, 2 * j], axes[i, 2 * j + 1], p)
    return _save(fig, path, overwrite)
