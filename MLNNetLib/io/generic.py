"""Non-DICOM files through SimpleITK: volumes with a physical header (NRRD, NIfTI, MHA) and plain rasters
(PNG, BMP, TIFF, PGM) that have no physical spacing at all."""

from __future__ import annotations

import os

import numpy as np
import SimpleITK as sitk

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.io.defaults import default_spacing_warning
from MLNNetLib.io.pgm import read_pgm
from MLNNetLib.io.validate import to_gray
from MLNNetLib.log import get_logger

log = get_logger(__name__)

HEADER_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
RASTER_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".pgm", ".pnm", ".jpg", ".jpeg")


def suffix_of(path: str | os.PathLike) -> str:
    name = os.path.basename(os.fspath(path)).lower()
    return ".nii.gz" if name.endswith(".nii.gz") else os.path.splitext(name)[1]


def _squeeze_single_slice(image: sitk.Image, path: str) -> sitk.Image:
    """A 3-D file with one slice is a 2-D image (NIfTI/DICOM writers often add a unit third axis)."""
    if image.GetDimension() == 3 and image.GetSize()[2] == 1:
        log.info("%s: single-slice 3-D file read as a 2-D image", path)
        return image[:, :, 0]
    return image


def read_generic(path: str | os.PathLike, default_spacing: float | None = None) -> Image:
    path = os.fspath(path)
    suffix = suffix_of(path)
    try:
        image = sitk.GetImageFromArray(read_pgm(path)) if suffix in (".pgm", ".pnm") else sitk.ReadImage(path)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown reason"
        raise InputError(path, f"not a readable image file ({reason[:200]})") from exc
    if image.GetDimension() not in (2, 3):
        raise InputError(path, f"{image.GetDimension()}-D image; expected a 2-D mammogram or a 3-D DBT stack")
    image = _squeeze_single_slice(image, path)
    warnings: list[str] = []
    array = sitk.GetArrayFromImage(image)
    # ITK expands 8-bit (palette) BMPs to RGB: equal channels there are plain gray, not worth a warning
    array = to_gray(array, image.GetNumberOfComponentsPerPixel(), path, [] if suffix == ".bmp" else warnings)
    meta = {"photometric": "MONOCHROME2", "warnings": warnings, "modality": "", "frames": int(array.shape[0]) if array.ndim == 3 else 1,
            "file_dtype": str(array.dtype), "format": suffix.lstrip(".").upper() or "unknown"}
    if suffix in RASTER_SUFFIXES or suffix not in HEADER_SUFFIXES and _looks_unitless(image):
        value, message = default_spacing_warning(default_spacing, f"{suffix or 'this'} file carries no physical pixel spacing")
        log.warning("%s: %s", path, message)
        warnings.append(message)
        geometry = Geometry.identity((value,) * array.ndim)
        meta["spacing_source"] = "default"
    else:
        geometry = Geometry(tuple(image.GetSpacing()), tuple(image.GetOrigin()), tuple(image.GetDirection()))
        meta["spacing_source"] = "header"
        log.debug("%s: spacing %s mm from the file header", path, geometry.spacing)
        if all(abs(sp - 1.0) < 1e-12 for sp in geometry.spacing[-2:]):
            message = "header gives exactly 1 mm in-plane spacing, which often means 'not set' (mammograms are 0.05-0.1 mm)"
            log.warning("%s: %s", path, message)
            warnings.append(message)
    return Image(np.ascontiguousarray(array, dtype=np.float32), geometry, path, meta)


def _looks_unitless(image: sitk.Image) -> bool:
    """Unknown formats whose reader reports unit spacing and no origin carry no geometry worth trusting."""
    return all(s == 1.0 for s in image.GetSpacing()) and all(o == 0.0 for o in image.GetOrigin())
