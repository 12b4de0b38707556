"""Pictures of predicted vs reference calcifications: the whole image and a zoom on the densest cluster.

Colours: green = found (prediction overlaps reference), red = false positive, yellow = missed reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from MLNNetLib.atomic import atomic_path
from MLNNetLib.preprocess import prepare_image


def _zoom_window(ref: np.ndarray, pred: np.ndarray, size: int) -> tuple[slice, slice]:
    """Window of ``size`` px around the densest patch of reference (else predicted) calcifications."""
    target = ref if ref.any() else pred
    if not target.any():
        r, c = np.array(ref.shape) // 2
    else:
        density = ndimage.uniform_filter(target.astype(np.float32), size=max(8, size // 4))
        r, c = np.unravel_index(int(np.argmax(density)), density.shape)
    r0 = int(np.clip(r - size // 2, 0, max(0, ref.shape[0] - size)))
    c0 = int(np.clip(c - size // 2, 0, max(0, ref.shape[1] - size)))
    return slice(r0, r0 + size), slice(c0, c0 + size)


def colour_overlay(image01: np.ndarray, pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    rgb = np.repeat(np.clip(image01, 0, 1)[..., None], 3, axis=2) * 0.85
    pred, ref = pred > 0, ref > 0
    labels, n = ndimage.label(pred, structure=np.ones((3, 3)))
    hit = np.zeros(n + 1, bool)
    hit[np.unique(labels[ref & pred])] = True
    hit[0] = False
    tp_components = hit[labels]
    fp = pred & ~tp_components
    missed = ref & ~pred
    for mask, colour in ((tp_components, (0.1, 0.9, 0.1)), (fp, (1.0, 0.15, 0.1)), (missed, (1.0, 0.9, 0.0))):
        edge = mask ^ ndimage.binary_erosion(mask)
        rgb[ndimage.binary_dilation(edge)] = colour
    return rgb


def save_overlay(path: Path, image: np.ndarray, pred: np.ndarray, ref: np.ndarray, title: str, zoom: int = 192) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img01 = prepare_image(image)[0] if image.dtype != np.float32 or image.max() > 1.0 else image
    rows, cols = _zoom_window(ref, pred, zoom)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4.8))
    a.imshow(colour_overlay(img01, pred, ref))
    a.add_patch(plt.Rectangle((cols.start, rows.start), zoom, zoom, fill=False, edgecolor="cyan", lw=1))
    a.set_title("whole image")
    b.imshow(colour_overlay(img01[rows, cols], pred[rows, cols], ref[rows, cols]), interpolation="nearest")
    b.set_title("zoom: green found, red false +, yellow missed", fontsize=9)
    for ax in (a, b):
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
