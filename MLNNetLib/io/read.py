"""read_image / read_mask: one entry point for every file a user may hand us, checked before use."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.io.dicom import read_dicom_file, read_dicom_series
from MLNNetLib.io.dicom_tags import is_dicom_file
from MLNNetLib.io.generic import HEADER_SUFFIXES, RASTER_SUFFIXES, read_generic, suffix_of
from MLNNetLib.io.validate import check_finite, check_not_constant, check_size
from MLNNetLib.log import get_logger

log = get_logger(__name__)


def _read_any(path: str | os.PathLike, default_spacing: float | None) -> Image:
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file or folder")
    if p.is_dir():
        return read_dicom_series(p, default_spacing)
    if p.stat().st_size == 0:
        raise InputError(p, "file is empty (0 bytes)")
    if is_dicom_file(p) or suffix_of(p) in (".dcm", ".dicom"):
        return read_dicom_file(p, default_spacing)
    if suffix_of(p) not in HEADER_SUFFIXES + RASTER_SUFFIXES and _gdcm_claims(p):
        # DICOM without the Part-10 preamble: SimpleITK would read it but invent a 1 mm spacing
        return read_dicom_file(p, default_spacing, force=True)
    return read_generic(p, default_spacing)


def _gdcm_claims(path: Path) -> bool:
    import SimpleITK as sitk

    try:
        return sitk.ImageFileReader.GetImageIOFromFileName(str(path)) == "GDCMImageIO"
    except RuntimeError:
        return False


def read_image(path: str | os.PathLike, default_spacing: float | None = None) -> Image:
    """Read a mammogram (2-D) or DBT stack (3-D) as float32 with spacing in mm.

    ``default_spacing`` (mm) is used only when the file has no physical spacing; the library default is
    ``DEFAULT_SPACING_MM`` and either way a warning lands in ``image.meta["warnings"]``.
    Raises InputError for missing, unreadable, empty, colour, non-finite or constant images.
    """
    image = _read_any(path, default_spacing)
    check_size(image.array, path)
    check_finite(image.array, path)
    check_not_constant(image.array, path)
    return image


def geometry_mismatch(a: Geometry, shape_a: tuple[int, ...], b: Geometry, shape_b: tuple[int, ...]) -> str | None:
    """Why two images do not share a pixel grid, or None when they do."""
    if tuple(shape_a) != tuple(shape_b):
        return f"shape {tuple(shape_a)} != {tuple(shape_b)}"
    if not np.allclose(a.spacing_xyz, b.spacing_xyz, rtol=1e-6, atol=0.0):
        return f"spacing {a.spacing} mm != {b.spacing} mm"
    if not np.allclose(a.origin_xyz, b.origin_xyz, rtol=1e-6, atol=1e-6):
        return f"origin {a.origin_xyz} != {b.origin_xyz}"
    if not np.allclose(a.direction, b.direction, rtol=0.0, atol=1e-6):
        return f"direction {a.direction} != {b.direction}"
    return None


def read_mask(path: str | os.PathLike, like: Image | None = None) -> Image:
    """Read a binary mask as uint8 0/1 on the same grid as ``like``.

    Any two-valued mask (0/1, 0/255, False/True) is accepted; more values (a probability map or a
    multi-label map) are refused. A mask file without physical spacing (PNG...) takes ``like``'s geometry
    when its shape matches; otherwise shape, spacing (1e-6 relative), origin and direction must agree.
    """
    mask = _read_any(path, like.spacing[-1] if like is not None else None)
    check_size(mask.array, path)
    check_finite(mask.array, path)
    values = np.unique(mask.array)
    if values.size > 2 or (values.size == 2 and values[0] != 0) or (values.size == 1 and values[0] not in (0, 1)):
        shown = values[:6].tolist()
        raise InputError(path, f"not a binary mask: {values.size} distinct value(s) {shown}{'...' if values.size > 6 else ''}; expected 0 and one foreground value")
    binary = (mask.array != 0).astype(np.uint8)
    geometry = mask.geometry
    if like is not None:
        if mask.meta.get("spacing_source") == "default" and binary.shape == like.array.shape:
            log.info("%s: mask file has no geometry; using that of %s", path, like.path)
            geometry = like.geometry
            mask.meta["warnings"] = [w for w in mask.meta.get("warnings", []) if "spacing" not in w]
            mask.meta["spacing_source"] = "like"
        problem = geometry_mismatch(geometry, binary.shape, like.geometry, like.array.shape)
        if problem is not None:
            raise InputError(path, f"mask does not match image {like.path}: {problem}")
    return Image(binary, geometry, os.fspath(path), mask.meta)
