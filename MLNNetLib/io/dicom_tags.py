"""DICOM header facts (spacing, rescale, photometric, positions) read with pydicom, never guessed.

SimpleITK's own DICOM spacing is not trusted: GDCM takes ImagerPixelSpacing for mammography SOP classes,
ignores PixelSpacing there, and falls back to 1 mm silently. We read the tags ourselves.

A spacing tag that is present but invalid (``0\\0``, negative, one value) is not "no tag": the problem is
recorded with the tag and its value (``spacing_problems``) and the reader refuses the file unless the user
gives a spacing. The PixelData element's length is read from the file without loading the pixels
(``PixelExtent``), so a header claiming more pixels than the file holds is refused before any allocation.
"""

from __future__ import annotations

import os
import struct
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


@dataclass(frozen=True)
class PixelExtent:
    """Where the pixel data lies in the file and how long it is, read without loading it."""

    length: int | None  # bytes of a native (uncompressed) PixelData value; None if encapsulated or unknown
    encapsulated: bool  # compressed frames in items (undefined length)
    offset: int  # file position of the PixelData element (0 if unknown)
    file_size: int


_DEFLATED = "1.2.840.10008.1.2.1.99"
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UT", b"UC", b"UR"}


def _pixel_extent(fh, ds, file_size: int) -> PixelExtent:
    """Parse the PixelData element header at the current file position (pydicom stopped just before it)."""
    unknown = PixelExtent(None, False, 0, file_size)
    ts = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if ts == _DEFLATED:
        return unknown  # the whole data set is deflated: positions in the file mean nothing
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        implicit, little = ts == "1.2.840.10008.1.2", ts != "1.2.840.10008.1.2.2"
    offset = fh.tell()
    head = fh.read(12)
    if len(head) < 8:
        return unknown
    order = "<" if little else ">"
    group, element = struct.unpack(order + "HH", head[:4])
    if (group, element) != (0x7FE0, 0x0010):
        return unknown
    if implicit:
        length = struct.unpack(order + "I", head[4:8])[0]
    elif head[4:6] in _LONG_VRS and len(head) >= 12:
        length = struct.unpack(order + "I", head[8:12])[0]
    else:
        length = struct.unpack(order + "H", head[6:8])[0]
    if length == 0xFFFFFFFF:
        return PixelExtent(None, True, offset, file_size)
    return PixelExtent(int(length), False, offset, file_size)


def read_header(path: str | os.PathLike, force: bool = False):
    """pydicom dataset without pixels; ``force`` reads old files that lack the Part-10 preamble.
    The PixelData element's extent is kept as ``ds.mlnnet_pixel_extent`` (for ``parse_header``)."""
    import pydicom

    try:
        with open(path, "rb") as fh:
            ds = pydicom.dcmread(fh, stop_before_pixels=True, force=force)
            try:
                extent = _pixel_extent(fh, ds, os.fstat(fh.fileno()).st_size)
            except (OSError, struct.error):
                extent = PixelExtent(None, False, 0, 0)
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    except Exception as exc:  # pydicom raises several types for broken files
        raise InputError(path, f"not a readable DICOM file ({exc})") from exc
    ds.mlnnet_pixel_extent = extent
    return ds


def _floats(value: Any) -> list[float] | None:
    if value is None:
        return None
    try:
        seq = list(value) if not isinstance(value, (str, bytes)) and hasattr(value, "__iter__") else [value]
        out = [float(v) for v in seq]
    except (TypeError, ValueError):
        return None
    return out or None


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, bytes)) and not value.strip()) or \
        (hasattr(value, "__len__") and not isinstance(value, (str, bytes)) and len(value) == 0)


def shown_value(value: Any) -> str:
    """A tag value as DICOM writes it (multi-values joined by backslashes)."""
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
        return "\\".join(str(v) for v in value)
    return str(value)


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
    spacing_problems: list[str] = field(default_factory=list)  # present but invalid in-plane spacing tags
    slice_problems: list[str] = field(default_factory=list)  # present but invalid slice spacing tags (warnings)
    pixel_extent: PixelExtent | None = None


def _in_plane(ds) -> tuple[tuple[float, float] | None, str, list[str]]:
    """(spacing, source tag, problems): the first valid of PixelSpacing (top level, then functional groups)
    and ImagerPixelSpacing; every invalid one met before it is named with its value."""
    problems = []
    candidates = [("PixelSpacing", ds.get("PixelSpacing")),
                  ("PixelSpacing", _functional(ds, "PixelMeasuresSequence", "PixelSpacing")),
                  ("ImagerPixelSpacing", ds.get("ImagerPixelSpacing"))]
    for tag, raw in candidates:
        if _is_empty(raw):
            continue
        pair = _positive_pair(raw)
        if pair is not None:
            return pair, tag, problems
        problems.append(f"{tag} is '{shown_value(raw)}', not two positive numbers (row and column spacing in mm)")
    return None, "default", problems


def parse_header(ds, path: str | os.PathLike) -> DicomHeader:
    if "Rows" not in ds or "Columns" not in ds:
        raise InputError(path, "DICOM file holds no image (no Rows/Columns)")
    spacing, source, problems = _in_plane(ds)
    slice_spacing, slice_source, slice_problems = None, None, []
    for tag in ("SpacingBetweenSlices", "SliceThickness"):
        raw = ds.get(tag)
        if raw is None or _is_empty(raw):
            raw = _functional(ds, "PixelMeasuresSequence", tag)
        value = _positive(raw)
        if value is not None:
            slice_spacing, slice_source = value, tag
            break
        if not _is_empty(raw) and int(ds.get("NumberOfFrames") or 1) > 1:
            slice_problems.append(f"{tag} is '{shown_value(raw)}', not a positive number of mm; ignored")
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
        spacing_problems=problems,
        slice_problems=slice_problems,
        pixel_extent=getattr(ds, "mlnnet_pixel_extent", None),
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
