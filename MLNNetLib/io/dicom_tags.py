"""DICOM header facts (spacing, rescale, photometric, positions) read with pydicom, never guessed.

SimpleITK's own DICOM spacing is not trusted: GDCM takes ImagerPixelSpacing for mammography SOP classes,
ignores PixelSpacing there, and falls back to 1 mm silently. We read the tags ourselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from MLNNetLib.errors import InputError


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Part-10 files carry 'DICM' after a 128-byte preamble."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_header(path: str | os.PathLike, force: bool = False):
    """pydicom dataset without pixels; ``force`` reads old files that lack the Part-10 preamble."""
    import pydicom

    try:
        return pydicom.dcmread(os.fspath(path), stop_before_pixels=True, force=force)
    except Exception as exc:  # pydicom raises several types for broken files
        raise InputError(path, f"not a readable DICOM file ({exc})") from exc


def _floats(value: Any) -> list[float] | None:
    if value is None:
        return None
    try:
        seq = list(value) if not isinstance(value, (str, bytes)) and hasattr(value, "__iter__") else [value]
        out = [float(v) for v in seq]
    except (TypeError, ValueError):
        return None
    return out or None


def _positive_pair(value: Any) -> tuple[float, float] | None:
    vals = _floats(value)
    if vals is None or len(vals) != 2 or not all(np.isfinite(vals)) or min(vals) <= 0:
        return None
    return float(vals[0]), float(vals[1])


def _positive(value: Any) -> float | None:
    vals = _floats(value)
    if not vals or not np.isfinite(vals[0]) or vals[0] <= 0:
        return None
    return float(vals[0])


def _functional(ds, sequence: str, item: str):
    """First item of a Shared (else first Per-frame) functional group macro, for enhanced multi-frame files."""
    for group in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        groups = ds.get(group)
        if groups:
            macro = groups[0].get(sequence)
            if macro:
                value = macro[0].get(item)
                if value is not None:
                    return value
    return None


@dataclass
class DicomHeader:
    """What the reader needs from one DICOM file's header."""

    path: str
    rows: int
    columns: int
    frames: int
    photometric: str
    modality: str
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    slope: float
    intercept: float
    pixel_spacing: tuple[float, float] | None  # array order (between rows, between columns), mm
    spacing_source: str
    slice_spacing: float | None
    slice_spacing_source: str | None
    orientation: tuple[float, ...] | None  # ImageOrientationPatient (row cosines, column cosines)
    position: tuple[float, float, float] | None
    frame_positions: list[tuple[float, float, float]] = field(default_factory=list)
    instance_number: int | None = None
    series_uid: str | None = None
    transfer_syntax: str = ""


def parse_header(ds, path: str | os.PathLike) -> DicomHeader:
    if "Rows" not in ds or "Columns" not in ds:
        raise InputError(path, "DICOM file holds no image (no Rows/Columns)")
    spacing, source = None, "default"
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        spacing = _positive_pair(ds.get(tag)) or (_positive_pair(_functional(ds, "PixelMeasuresSequence", tag)) if tag == "PixelSpacing" else None)
        if spacing is not None:
            source = tag
            break
    slice_spacing, slice_source = None, None
    for tag in ("SpacingBetweenSlices", "SliceThickness"):
        value = _positive(ds.get(tag)) or _positive(_functional(ds, "PixelMeasuresSequence", tag))
        if value is not None:
            slice_spacing, slice_source = value, tag
            break
    slope = ds.get("RescaleSlope", _functional(ds, "PixelValueTransformationSequence", "RescaleSlope"))
    intercept = ds.get("RescaleIntercept", _functional(ds, "PixelValueTransformationSequence", "RescaleIntercept"))
    orientation = ds.get("ImageOrientationPatient", _functional(ds, "PlaneOrientationSequence", "ImageOrientationPatient"))
    position = ds.get("ImagePositionPatient")
    frame_positions: list[tuple[float, float, float]] = []
    for item in ds.get("PerFrameFunctionalGroupsSequence") or []:
        plane = item.get("PlanePositionSequence")
        if plane and plane[0].get("ImagePositionPatient") is not None:
            frame_positions.append(tuple(float(v) for v in plane[0].ImagePositionPatient))
    return DicomHeader(
        path=os.fspath(path),
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        frames=int(ds.get("NumberOfFrames") or 1),
        photometric=str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip(),
        modality=str(ds.get("Modality", "")).strip(),
        samples_per_pixel=int(ds.get("SamplesPerPixel") or 1),
        bits_allocated=int(ds.get("BitsAllocated") or 16),
        bits_stored=int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16),
        signed=int(ds.get("PixelRepresentation") or 0) == 1,
        slope=float(slope) if slope not in (None, "") else 1.0,
        intercept=float(intercept) if intercept not in (None, "") else 0.0,
        pixel_spacing=spacing,
        spacing_source=source,
        slice_spacing=slice_spacing,
        slice_spacing_source=slice_source,
        orientation=tuple(float(v) for v in orientation) if orientation is not None and len(orientation) == 6 else None,
        position=tuple(float(v) for v in position) if position is not None and len(position) == 3 else None,
        frame_positions=frame_positions,
        instance_number=int(ds.InstanceNumber) if ds.get("InstanceNumber") not in (None, "") else None,
        series_uid=str(ds.get("SeriesInstanceUID", "")) or None,
        transfer_syntax=str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or ""),
    )


def stored_dtype(header: DicomHeader) -> str:
    """The dtype of the pixels as stored in the file (before any rescale)."""
    return f"{'int' if header.signed else 'uint'}{header.bits_allocated}"


def stored_range(header: DicomHeader) -> tuple[float, float]:
    """Range of values the stored bits can hold, after the modality rescale (for MONOCHROME1 inversion)."""
    if header.signed:
        lo, hi = -(2 ** (header.bits_stored - 1)), 2 ** (header.bits_stored - 1) - 1
    else:
        lo, hi = 0, 2**header.bits_stored - 1
    a, b = header.slope * lo + header.intercept, header.slope * hi + header.intercept
    return min(a, b), max(a, b)
