"""The one intensity scale of every density feature (density, density_8, density_32, contrast, blurriness).

Raw pixel values mean different things on every scanner (12-bit processed FFDM, 10-bit DBT, 16-bit film scans,
inverted MONOCHROME1 data), so a classifier trained on densities in one scanner's units and applied to another's
sees shifted features. Densities are therefore always measured on the image as the segmentation model sees it:
``preprocess.prepare_image`` (breast-tissue percentiles to [0, 1], clips and markers left out of the scale),
turned so that bright means dense also for MONOCHROME1 data that arrive without conversion. The quantify
command, the Slicer module and the analysis experiment all go through :func:`density_image`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DENSITY_UNIT = "normalised intensity 0-1 (breast-tissue percentiles, MLNNetLib.preprocess), bright = dense"
AS_GIVEN_UNIT = "intensity units of the image as given (not normalised)"
DENSITY_UNITS = ("normalised", "as_given")


def density_image(array: np.ndarray, spacing: Sequence[float] | None = None, photometric: str = "MONOCHROME2") -> np.ndarray:
    """float32 image in :data:`DENSITY_UNIT`: the model's view of ``array``, bright = dense in every domain."""
    from MLNNetLib.preprocess import prepare_image

    img01 = prepare_image(np.asarray(array, dtype=np.float32), spacing)[0]
    return (1.0 - img01).astype(np.float32) if photometric == "MONOCHROME1" else img01
