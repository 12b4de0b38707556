"""A PNG grid of samples with calcification outlines, to check by eye that the data look like mammograms."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from MLNNetLib.atomic import atomic_path


def _display(image: np.ndarray, inverted: bool = False) -> np.ndarray:
    """Window to the 0.5-99.8 % range of the non-background pixels for viewing (files keep raw values)."""
    vals = image[image > np.percentile(image, 5)] if image.size else image
    lo, hi = np.percentile(vals if vals.size else image, [0.5, 99.8])
    return np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1)


def _zoom_box(mask: np.ndarray, info: dict, size: int) -> tuple[int, int]:
    calcs = info.get("calcifications", [])
    clustered = [c for c in calcs if c.get("cluster", 0) == 1] or calcs
    if clustered:
        r, c = np.mean([c["centroid_px"] for c in clustered], axis=0)
    else:
        r, c = np.array(mask.shape) / 2
    r0 = int(np.clip(r - size // 2, 0, max(mask.shape[0] - size, 0)))
    c0 = int(np.clip(c - size // 2, 0, max(mask.shape[1] - size, 0)))
    return r0, c0


def write_contact_sheet(samples: Sequence[tuple[str, np.ndarray, np.ndarray, dict]], path: str | os.PathLike,
                        overwrite: bool = False, zoom_mm: float = 16.0) -> Path:
    """samples: (title, image, mask, info). Row 1: whole images (clusters circled); row 2: zoom on a cluster
    with the exact mask outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(samples), 1)
    fig, axes = plt.subplots(2, n, figsize=(3.0 * n, 6.4), squeeze=False, dpi=110)
    for j, (title, image, mask, info) in enumerate(samples):
        spacing = float(info.get("spacing_mm", 0.1))
        ax = axes[0, j]
        k = max(1, image.shape[0] // 400)  # the overview needs no more pixels than the page shows
        ax.imshow(_display(image)[::k, ::k], cmap="gray", extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
        ax.set_title(title, fontsize=8)
        size = int(round(zoom_mm / spacing))
        r0, c0 = _zoom_box(mask, info, size)
        ax.add_patch(plt.Rectangle((c0, r0), size, size, fill=False, ec="yellow", lw=0.8))
        for c in info.get("calcifications", []):
            if c.get("cluster", 0) == 0:
                ax.plot(c["centroid_px"][1], c["centroid_px"][0], "o", ms=3, mfc="none", mec="cyan", mew=0.6)
        ax2 = axes[1, j]
        crop = _display(image)[r0:r0 + size, c0:c0 + size]
        ax2.imshow(crop, cmap="gray", interpolation="nearest")
        edge = mask[r0:r0 + size, c0:c0 + size].astype(bool)
        outline = ndimage.binary_dilation(edge, iterations=2) & ~ndimage.binary_dilation(edge, iterations=1)
        overlay = np.zeros(outline.shape + (4,))
        overlay[outline] = (1.0, 0.15, 0.1, 0.9)
        ax2.imshow(overlay, interpolation="nearest")
        ax2.set_title(f"{info.get('case_label', '')}: {info.get('n_calcifications', 0)} calc, "
                      f"{info.get('n_clusters', 0)} clusters ({zoom_mm:g} mm)", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
