"""The one intensity preparation shared by training and inference, so a model always sees what it was trained on."""

from __future__ import annotations

import numpy as np

from MLNNetLib.augment import breast_mask, normalize

LOWER_PERCENTILE, UPPER_PERCENTILE = 0.01, 99.99


def prepare_image(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (image in [0,1] normalised on breast tissue, breast mask) for a 2-D array.

    Two passes: a global robust normalisation to find the breast, then the normalisation the model sees,
    computed over breast pixels only (DESIGN §2), so air and labels never set the contrast.
    The bounds are the 0.01st and 99.99th breast percentiles, not 0.5/99.5: calcifications are 0.05-0.5 % of
    breast pixels, so clipping at 99.5 flattened about 70 % of calcification pixels to the same value as bright
    dense tissue (measured on the synthetic FFDM domain), and in MONOCHROME1-style images, where calcifications
    are the darkest breast pixels, clipping at 0.5 flattened them into the air value: no branch could see them.
    """
    rough = normalize(np.asarray(array, dtype=np.float32))
    breast = breast_mask(rough)
    if not breast.any():
        breast = np.ones_like(breast, dtype=bool)
    return normalize(np.asarray(array, dtype=np.float32), breast, low=LOWER_PERCENTILE, high=UPPER_PERCENTILE), breast
