"""Background-preserving grayscale inversion g = T - f (paper eq. 5): source-dissimilar augmentation.

T is the top of the normalised range (1.0), not the image maximum, so inverting twice gives the
original image back exactly. Only pixels inside the breast mask are inverted; the air stays dark
(the reference code turned it white, DESIGN §8).
"""

from __future__ import annotations

import numpy as np


def invert(img01: np.ndarray, mask: np.ndarray, top: float = 1.0) -> np.ndarray:
    """Return float32 ``top - img01`` inside ``mask`` and ``img01`` unchanged outside it."""
    img = np.asarray(img01, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != img.shape:
        raise ValueError(f"invert: mask shape {mask.shape} differs from image shape {img.shape}")
    return np.where(mask, np.float32(top) - img, img).astype(np.float32)
