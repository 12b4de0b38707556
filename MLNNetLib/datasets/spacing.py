"""Pixel spacing of an image file and where it came from, from the header only (as ``read_image`` decides it)."""

from __future__ import annotations

from pathlib import Path

from MLNNetLib.errors import InputError


def header_spacing(path: Path, default_mm: float | None = None) -> tuple[list[float], str]:
    """([row, col] spacing in mm, source). Files without spacing get ``default_mm`` (source "option") or the
    library default (source "default"), exactly what ``read_image(path, default_spacing=default_mm)`` uses."""
    from MLNNetLib.io.defaults import DEFAULT_SPACING_MM
    from MLNNetLib.io.dicom_tags import is_dicom_file, parse_header, read_header
    from MLNNetLib.io.generic import HEADER_SUFFIXES, suffix_of

    fallback = ([float(default_mm)] * 2, "option") if default_mm else ([DEFAULT_SPACING_MM] * 2, "default")
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and is_dicom_file(p)]
        if not files:
            raise InputError(path, "folder holds no DICOM (Part-10) files")
        path = files[0]
    if is_dicom_file(path) or suffix_of(path) in (".dcm", ".dicom"):
        h = parse_header(read_header(path), path)
        return (list(h.pixel_spacing), h.spacing_source) if h.pixel_spacing is not None else fallback
    if suffix_of(path) not in HEADER_SUFFIXES:
        return fallback
    from MLNNetLib.datasets.shapes import header_reader

    spacing = [float(s) for s in reversed(header_reader(path).GetSpacing())]
    return spacing[-2:], "header"
