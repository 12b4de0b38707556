"""write_image: arrays back to files with the input's geometry, atomically, never clobbering by accident."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from MLNNetLib.atomic import atomic_path
from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry
from MLNNetLib.io.formats import image_format_problem, image_output_path
from MLNNetLib.io.generic import RASTER_SUFFIXES, suffix_of
from MLNNetLib.log import get_logger

log = get_logger(__name__)


def to_sitk(array: np.ndarray, geometry: Geometry) -> sitk.Image:
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.ndim != geometry.ndim:
        raise ValueError(f"array is {array.ndim}-D but geometry is {geometry.ndim}-D")
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(geometry.spacing_xyz)
    image.SetOrigin(geometry.origin_xyz)
    image.SetDirection(geometry.direction)
    return image


def write_image(array: np.ndarray, geometry: Geometry, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``array`` with ``geometry``; the format follows the extension (no extension -> compressed NRRD).

    Raster formats (PNG, BMP, TIFF) lose the spacing; what each format holds is ``io.formats.WRITABLE``.
    """
    path = image_output_path(path)
    suffix = suffix_of(path)
    array = np.asarray(array)
    problem = image_format_problem(path, array.dtype, array.ndim)
    if problem:
        raise InputError(path, problem)
    image = to_sitk(array, geometry)
    with atomic_path(path, overwrite) as tmp:
        try:
            sitk.WriteImage(image, str(tmp), useCompression=suffix not in RASTER_SUFFIXES)
        except RuntimeError as exc:
            raise InputError(path, f"SimpleITK cannot write this image ({str(exc).strip().splitlines()[-1][:200]})") from exc
    log.info("wrote %s (%s, spacing %s mm)", path, array.dtype, geometry.spacing)
    return path
