"""A quick-look PNG of a segmentation: the mammogram with the predicted calcifications and clusters outlined,
downsampled to a readable size.

A 3000 x 4600 mammogram shown at 1000 px loses every 1-10 px calcification, so calcifications are not painted
at display resolution but marked: a small orange circle around each one (sized to the calcification, at least
a few display pixels), and every cluster (the quantification rule: dilate by 1.09 mm, more than 5
calcifications, MLNNetLib.quantify.clusters) outlined by the convex hull of its calcifications in yellow with
its number and count. A DBT stack is shown as its maximum-intensity projection with the union of its masks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from MLNNetLib.atomic import atomic_path

CALC_COLOUR, CLUSTER_COLOUR = (1.0, 0.35, 0.0), (1.0, 0.9, 0.1)  # the Slicer module's segment colour; yellow


def _display(image: np.ndarray, factor: int) -> np.ndarray:
    """Area-averaged by ``factor``, then normalised on breast percentiles (as the model sees it) at display size."""
    from MLNNetLib.preprocess import prepare_image

    image = np.asarray(image, dtype=np.float32)
    if factor > 1:
        rows, cols = (s // factor * factor for s in image.shape)
        image = image[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))
    return prepare_image(image)[0]


def overlay_figure(image: np.ndarray, mask: np.ndarray, spacing: tuple[float, float], title: str = "", max_side: int = 1200):
    """A matplotlib figure (Agg) of the overlay; returns (figure, counts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Polygon

    from MLNNetLib.quantify.clusters import find_clusters

    image, mask = np.asarray(image, dtype=np.float32), np.asarray(mask) > 0
    if image.ndim == 3:
        image, mask = image.max(axis=0), mask.any(axis=0)
    factor = max(1, int(np.ceil(max(image.shape) / max_side)))
    shown = _display(image, factor)
    clusters = find_clusters(mask, spacing)
    n = clusters.n_components
    fig, ax = plt.subplots(figsize=(shown.shape[1] / 100 + 0.2, shown.shape[0] / 100 + 0.6), dpi=100)
    ax.imshow(shown, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    if n:
        idx = np.arange(1, n + 1)
        centres = np.asarray(ndimage.center_of_mass(mask, clusters.component_labels, idx)).reshape(-1, 2) / factor
        sizes = np.asarray(ndimage.sum(mask, clusters.component_labels, idx))
        for (r, c), size in zip(centres, sizes):
            radius = max(3.0, float(np.sqrt(size / np.pi)) / factor + 2.0)
            ax.add_patch(Circle((c, r), radius, fill=False, linewidth=0.8, edgecolor=CALC_COLOUR))
    for cid in range(1, clusters.n_clusters + 1):
        pts = np.argwhere(clusters.cluster_labels == cid).astype(float) / factor
        hull = _hull(pts)
        ax.add_patch(Polygon(hull[:, ::-1], closed=True, fill=False, linewidth=1.2, edgecolor=CLUSTER_COLOUR))
        top = hull[np.argmin(hull[:, 0])]
        ax.text(top[1], top[0] - 6, f"C{cid} ({len(clusters.members(cid))})", color=CLUSTER_COLOUR, fontsize=7,
                ha="center", va="bottom")
    ax.set_axis_off()
    ax.set_title(f"{title}\n{n} calcification(s), {clusters.n_clusters} cluster(s); shown at 1/{factor}".strip(), fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig, {"calcifications": n, "clusters": clusters.n_clusters, "downsampling": factor}


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull of (row, col) points, padded by 3 display px; a small square for degenerate sets."""
    from scipy.spatial import ConvexHull, QhullError

    centre = points.mean(axis=0)
    try:
        hull = points[ConvexHull(points).vertices]
    except (QhullError, ValueError):
        r0, c0 = points.min(axis=0)
        r1, c1 = points.max(axis=0)
        hull = np.array([(r0, c0), (r0, c1), (r1, c1), (r1, c0)], dtype=float)
    direction = hull - centre
    norm = np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-6)
    return hull + 3.0 * direction / norm


def write_overlay(path: str | os.PathLike, image: np.ndarray, mask: np.ndarray, spacing: tuple[float, float],
                  title: str = "", overwrite: bool = False, max_side: int = 1200) -> dict:
    """Write the overlay PNG atomically; returns the counts shown."""
    import matplotlib.pyplot as plt

    fig, counts = overlay_figure(image, mask, tuple(spacing[-2:]), title, max_side)
    try:
        with atomic_path(Path(path), overwrite) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return counts
