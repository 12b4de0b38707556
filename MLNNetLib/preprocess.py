"""The one intensity preparation shared by training and inference, so a model always sees what it was trained on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from MLNNetLib.augment import breast_mask, normalize
from MLNNetLib.augment.tissue_range import scale_pool

LOWER_PERCENTILE, UPPER_PERCENTILE = 0.01, 99.99


def prepare_image(array: np.ndarray, spacing: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (image in [0,1] normalised on breast tissue, breast mask) for a 2-D array.

    Two passes: a global robust normalisation to find the breast, then the normalisation the model sees,
    computed over breast pixels only (DESIGN §2), so air and labels never set the contrast.
    The bounds are the 0.01st and 99.99th breast percentiles, not 0.5/99.5: calcifications are 0.05-0.5 % of
    breast pixels, so clipping at 99.5 flattened about 70 % of calcification pixels to the same value as bright
    dense tissue (measured on the synthetic FFDM domain), and in MONOCHROME1-style images, where calcifications
    are the darkest breast pixels, clipping at 0.5 flattened them into the air value: no branch could see them.
    Percentiles that extreme are set by a handful of pixels, so objects that are not tissue (metal clips,
    markers, macrocalcifications: larger than 1 mm and far outside the tissue range) are left out of the pool
    first (``augment.tissue_range``; ``spacing`` in mm sets what "larger than 1 mm" is, default 0.07 mm).
    Training and inference both call this function, so a model always sees what it was trained on.

    Outside the breast the result is 0 (air), whatever the air's stored value: an image whose pixels are
    inverted as a whole (a wrong photometric tag: air bright) then reaches the network as the inversion
    augmentation makes it (tissue inverted, air dark) instead of with a bright band along the skin line.
    For ordinary images the air is below the breast's lowest percentile anyway, so nothing changes.
    """
    data = np.asarray(array, dtype=np.float32)
    rough = normalize(data)
    breast = breast_mask(rough)
    if not breast.any():
        breast = np.ones_like(breast, dtype=bool)
    pool = scale_pool(data, breast, spacing)
    img01 = normalize(data, pool, low=LOWER_PERCENTILE, high=UPPER_PERCENTILE)
    if not breast.all():
        img01[~breast] = 0.0
    return img01, breast
