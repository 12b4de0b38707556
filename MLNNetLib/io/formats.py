"""Which image file formats we write, and what each can hold: checked before any work, not after it.

One table for ``write_image`` and for output plans (``MLNNetLib.outputs.OutputPlan.image``), so a command
refuses ``--probability p.jpg`` before inference runs instead of after it. Rasters keep no spacing; JPEG is
refused outright (lossy: it changes mask and probability values); two-file formats (.mhd, .nhdr) cannot be
renamed into place atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from MLNNetLib.io.generic import suffix_of

DEFAULT_SUFFIX = ".nrrd"
ANY_DTYPE = None
# suffix -> (dtypes it holds or None for all numeric types, dimensions it holds)
WRITABLE: dict[str, tuple[tuple[str, ...] | None, tuple[int, ...]]] = {
    ".nrrd": (ANY_DTYPE, (2, 3)),
    ".nii": (ANY_DTYPE, (2, 3)),
    ".nii.gz": (ANY_DTYPE, (2, 3)),
    ".mha": (ANY_DTYPE, (2, 3)),
    ".tif": (("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32"), (2, 3)),
    ".tiff": (("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32"), (2, 3)),
    ".png": (("bool", "uint8", "uint16"), (2,)),
    ".bmp": (("bool", "uint8"), (2,)),
}
TWO_FILE = (".mhd", ".nhdr", ".hdr", ".img")
LOSSY = (".jpg", ".jpeg")
SUGGESTED = ".nrrd, .nii.gz or .mha"


def image_output_path(path: str | os.PathLike) -> Path:
    """The file ``write_image`` writes for ``path``: a name without extension gets ``.nrrd``."""
    path = Path(path)
    return path if suffix_of(path) else path.with_name(path.name + DEFAULT_SUFFIX)


def image_format_problem(path: str | os.PathLike, dtype: str | np.dtype | None, ndim: int | None = None) -> str | None:
    """Why ``path``'s format cannot hold a ``dtype`` image of ``ndim`` dimensions, or None when it can."""
    suffix = suffix_of(image_output_path(path))
    if suffix in TWO_FILE:
        return f"{suffix} writes two files and cannot be written atomically; use {SUGGESTED}"
    if suffix in LOSSY:
        return f"{suffix} is lossy JPEG and would change the pixel values; use {SUGGESTED}"
    if suffix not in WRITABLE:
        return f"{suffix} is not an image format this tool writes; use {SUGGESTED}"
    dtypes, dims = WRITABLE[suffix]
    name = None if dtype is None else np.dtype(dtype).name
    if name is not None and dtypes is not None and name not in dtypes:
        what = "integer pixels only" if not any(d.startswith("float") for d in dtypes) else "only"
        return f"{suffix} holds {what} ({', '.join(dtypes)}), not {name}; use {SUGGESTED}"
    if ndim is not None and ndim not in dims:
        return f"{suffix} holds {'/'.join(f'{d}-D' for d in dims)} images, not {ndim}-D; use {SUGGESTED}"
    return None
