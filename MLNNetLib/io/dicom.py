"""DICOM mammograms (MG single frame), DBT stacks (multi-frame file or a folder holding one series).

Tags come from pydicom. Pixels come from pydicom's own decoders for uncompressed and RLE files (measured
6x faster than GDCM on the CBIS-DDSM RLE scans, identical values) and from SimpleITK/GDCM for everything else
(JPEG, JPEG-LS, JPEG 2000), each falling back to the other. pydicom returns stored values; what GDCM already
did is learnt once by ``sitk_probe``. The output follows the MONOCHROME2 convention (bright = dense) with the
modality rescale applied exactly once.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.io.defaults import DEFAULT_SLICE_SPACING_MM, default_spacing_warning
from MLNNetLib.io.dicom_tags import DicomHeader, is_dicom_file, parse_header, read_header, stored_dtype, stored_range
from MLNNetLib.io.sitk_probe import ReaderBehaviour, reader_behaviour
from MLNNetLib.io.validate import to_gray
from MLNNetLib.log import get_logger
from MLNNetLib.resources import check_memory

log = get_logger(__name__)


# Transfer syntaxes pydicom decodes by itself (uncompressed and RLE): measured ~6x faster than GDCM on the
# CBIS-DDSM RLE files (0.4 s vs 2.5 s for 4688x2592), and its output is the raw stored values.
_PYDICOM_NATIVE = {
    "1.2.840.10008.1.2",  # implicit VR little endian
    "1.2.840.10008.1.2.1",  # explicit VR little endian
    "1.2.840.10008.1.2.1.99",  # deflated explicit VR little endian
    "1.2.840.10008.1.2.2",  # explicit VR big endian
    "1.2.840.10008.1.2.5",  # RLE lossless
}
DECODERS = ("auto", "pydicom", "sitk")


RLE_MAX_RATIO = 64  # RLE codes at most 128 equal bytes in 2: no RLE stream decodes to more than 64x its size
MEMORY_ADVICE = "the header's Rows/Columns/NumberOfFrames may be wrong; otherwise use a machine with more memory"


def expected_pixel_bytes(header: DicomHeader) -> int:
    """Bytes of native pixel data the header's Rows x Columns x frames x samples x BitsAllocated describe."""
    n = header.rows * header.columns * header.frames * header.samples_per_pixel
    return (n * header.bits_allocated + 7) // 8


def check_pixel_data(header: DicomHeader) -> None:
    """Header against pixel data, before anything is decoded or allocated (a header claiming 65535x65535
    pixels over 294 KB of data used to take 14 s and end in a 32 GiB allocation error)."""
    path = header.path
    if header.rows < 1 or header.columns < 1 or header.frames < 1:
        raise InputError(path, f"header describes an empty image (Rows {header.rows}, Columns {header.columns}, "
                               f"NumberOfFrames {header.frames})")
    need = expected_pixel_bytes(header)
    layout = (f"Rows {header.rows} x Columns {header.columns} x {header.frames} frame(s) x "
              f"{header.samples_per_pixel} sample(s) x {header.bits_allocated} bits")
    extent = header.pixel_extent
    if extent is not None and extent.length is not None and extent.length < need:
        raise InputError(path, f"the header ({layout}) needs {need:,} bytes of pixel data, but the file holds "
                               f"{extent.length:,}: header and pixel data disagree (truncated or corrupt file); "
                               "nothing was decoded")
    if extent is not None and extent.encapsulated and header.transfer_syntax == "1.2.840.10008.1.2.5":
        stream = max(extent.file_size - extent.offset, 0)
        if stream * RLE_MAX_RATIO < need:
            raise InputError(path, f"the header ({layout}) needs {need:,} bytes of pixel data, but the file's "
                                   f"{stream:,} bytes of RLE data can hold at most {stream * RLE_MAX_RATIO:,}: header "
                                   "and pixel data disagree (truncated or corrupt file); nothing was decoded")
    pixels = header.rows * header.columns * header.frames
    # decoded stored values + the raw bytes + the float32 result + one float64 frame
    estimate = 2 * need + 4 * pixels + 8 * header.rows * header.columns * header.samples_per_pixel
    check_memory(estimate, f"decoding {layout}", path, MEMORY_ADVICE)


def _sitk_pixels(path: str) -> tuple[np.ndarray, int]:
    image = sitk.ReadImage(path)
    return sitk.GetArrayFromImage(image), image.GetNumberOfComponentsPerPixel()


def _pixels(header: DicomHeader, warnings: list[str], decoder: str = "auto") -> tuple[np.ndarray, str]:
    """Frames x rows x cols array in MONOCHROME2 convention, rescaled once; also the file's pixel dtype.

    ``decoder``: "auto" uses pydicom for uncompressed/RLE files and SimpleITK (GDCM: JPEG, JPEG 2000...)
    otherwise, each falling back to the other; "pydicom"/"sitk" force one (tests compare them).
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    check_pixel_data(header)
    path = header.path
    use_pydicom = decoder == "pydicom" or (
        decoder == "auto" and header.transfer_syntax in _PYDICOM_NATIVE and header.photometric != "PALETTE COLOR")
    stored = ReaderBehaviour(applies_rescale=False, inverts_monochrome1=False)  # pydicom returns stored values
    try:
        if use_pydicom:
            array, components = _pydicom_pixels(path)
            behaviour = stored
        else:
            array, components = _sitk_pixels(path)
            behaviour = reader_behaviour()
    except (RuntimeError, InputError) as first:
        if decoder != "auto":
            raise InputError(path, f"cannot decode the DICOM pixel data ({_last_line(first)})") from first
        try:
            if use_pydicom:
                array, components = _sitk_pixels(path)
                behaviour = reader_behaviour()
            else:
                array, components = _pydicom_pixels(path)
                behaviour = stored
        except (RuntimeError, InputError) as second:
            raise InputError(path, f"cannot decode the DICOM pixel data ({_last_line(first)}; {_last_line(second)})") from second
        log.info("%s: first decoder failed (%s); the other one succeeded", path, _last_line(first))
    if components == 1 and header.samples_per_pixel > 1:
        components = header.samples_per_pixel
    array = to_gray(array, components, path, warnings)
    file_dtype = stored_dtype(header) if components == 1 else str(array.dtype)
    if array.ndim == 2:
        array = array[None]
    rescale = not behaviour.applies_rescale and (header.slope != 1.0 or header.intercept != 0.0)
    invert = header.photometric == "MONOCHROME1" and not behaviour.inverts_monochrome1
    lo, hi = stored_range(header)
    values = np.empty(array.shape, dtype=np.float32)
    for i in range(array.shape[0]):  # float64 arithmetic one frame at a time: a DBT stack never sits in float64
        frame = array[i].astype(np.float64)
        if rescale:
            frame = frame * header.slope + header.intercept
        if invert:
            frame = (lo + hi) - frame
        values[i] = frame
    del array
    if header.photometric == "MONOCHROME1":
        log.info("%s: MONOCHROME1 inverted to the MONOCHROME2 convention (bright = dense)", path)
    elif header.photometric not in ("MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR"):
        warnings.append(f"unusual PhotometricInterpretation {header.photometric!r}; read as MONOCHROME2")
    if header.slope != 1.0 or header.intercept != 0.0:
        log.info("%s: RescaleSlope %g, RescaleIntercept %g applied once", path, header.slope, header.intercept)
    return values, file_dtype


def _last_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1][:200] if text else type(exc).__name__


def _pydicom_pixels(path: str) -> tuple[np.ndarray, int]:
    """Stored pixel values via pydicom's own handlers (no rescale, no inversion)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        array = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for undecodable data
        raise InputError(path, f"pydicom: {exc}") from exc
    components = int(ds.get("SamplesPerPixel") or 1)
    if components > 1 and str(ds.get("PhotometricInterpretation", "")).startswith("YBR"):
        from pydicom.pixels import convert_color_space

        array = convert_color_space(array, str(ds.PhotometricInterpretation), "RGB")
    return np.asarray(array), components


def _in_plane_spacing(header: DicomHeader, default_spacing: float | None, warnings: list[str]) -> tuple[tuple[float, float], str]:
    invalid = "; ".join(header.spacing_problems)
    if header.pixel_spacing is not None:
        log.info("%s: pixel spacing %s mm from %s", header.path, header.pixel_spacing, header.spacing_source)
        if invalid:
            message = f"{invalid}; using {header.spacing_source} {header.pixel_spacing} mm instead"
            log.warning("%s: %s", header.path, message)
            warnings.append(message)
        return header.pixel_spacing, header.spacing_source
    if invalid and default_spacing is None:
        raise InputError(header.path, f"{invalid}: the pixel spacing is unknown; pass the true spacing "
                                      "(segment/info --default-spacing MM)")
    value, message = default_spacing_warning(default_spacing, invalid or "no PixelSpacing or ImagerPixelSpacing tag")
    log.warning("%s: %s", header.path, message)
    warnings.append(message)
    return (value, value), "default"


def _normal(orientation: tuple[float, ...] | None) -> np.ndarray | None:
    if orientation is None:
        return None
    row, col = np.array(orientation[:3]), np.array(orientation[3:])
    n = np.cross(row, col)
    return n / np.linalg.norm(n) if np.linalg.norm(n) > 0 else None


def _direction3(orientation: tuple[float, ...] | None) -> tuple[float, ...]:
    """SimpleITK direction (row-major 3x3, columns = x, y, z axes) from ImageOrientationPatient."""
    n = _normal(orientation)
    if n is None:
        return tuple(np.eye(3).ravel().tolist())
    row, col = np.array(orientation[:3]), np.array(orientation[3:])
    return tuple(np.stack([row, col, n], axis=1).ravel().tolist())


def _spacing_from_positions(positions: list[tuple[float, float, float]], orientation, path: str, warnings: list[str]) -> float | None:
    n = _normal(orientation)
    if n is None or len(positions) < 2:
        return None
    steps = np.diff([float(np.dot(p, n)) for p in positions])
    if np.any(np.abs(steps) <= 1e-6):
        raise InputError(path, "two slices share the same position; not a single stack")
    step = float(np.median(np.abs(steps)))
    if np.max(np.abs(np.abs(steps) - step)) > 0.01 * step:
        warnings.append(f"slice positions are unevenly spaced (steps {np.round(steps, 4).tolist()} mm); using the median {step:g} mm")
    return step


def _slice_spacing(header: DicomHeader, positions, path: str, warnings: list[str], prefer_positions: bool) -> tuple[float, str]:
    from_positions = _spacing_from_positions(positions, header.orientation, path, warnings) if positions else None
    candidates = [(from_positions, "positions"), (header.slice_spacing, header.slice_spacing_source)]
    if not prefer_positions:
        candidates.reverse()
    for value, source in candidates:
        if value is not None:
            log.info("%s: slice spacing %g mm from %s", path, value, source)
            return float(value), str(source)
    message = f"no slice spacing (SpacingBetweenSlices, SliceThickness or positions); using {DEFAULT_SLICE_SPACING_MM} mm"
    log.warning("%s: %s", path, message)
    warnings.append(message)
    return DEFAULT_SLICE_SPACING_MM, "default"


def _make_image(values: np.ndarray, header: DicomHeader, path: str, default_spacing: float | None, warnings: list[str],
                file_dtype: str, positions: list, prefer_positions: bool) -> Image:
    (row_sp, col_sp), source = _in_plane_spacing(header, default_spacing, warnings)
    meta = {"photometric": header.photometric, "spacing_source": source, "warnings": warnings,
            "modality": header.modality, "frames": int(values.shape[0]), "file_dtype": file_dtype, "format": "DICOM"}
    for problem in header.slice_problems if values.shape[0] > 1 else []:
        log.warning("%s: %s", path, problem)
        warnings.append(problem)
    if values.shape[0] == 1:  # projection mammogram: no patient frame worth keeping, origin 0, identity
        geometry = Geometry((col_sp, row_sp), (0.0, 0.0), (1.0, 0.0, 0.0, 1.0))
        array = values[0]
    else:
        z, z_source = _slice_spacing(header, positions, path, warnings, prefer_positions)
        meta["slice_spacing_source"] = z_source
        origin = positions[0] if positions else (0.0, 0.0, 0.0)
        direction = _direction3(header.orientation)
        n = _normal(header.orientation)
        if positions and n is not None and float(np.dot(np.subtract(positions[-1], positions[0]), n)) < 0:
            d = np.array(direction).reshape(3, 3)
            d[:, 2] *= -1  # frames run against the slice normal: the z axis follows the frames
            direction = tuple(d.ravel().tolist())
        geometry = Geometry((col_sp, row_sp, z), tuple(float(v) for v in origin), direction)
        array = values
    return Image(np.ascontiguousarray(array, dtype=np.float32), geometry, path, meta)


def read_dicom_file(path: str | os.PathLike, default_spacing: float | None = None, decoder: str = "auto",
                    force: bool = False) -> Image:
    """One DICOM file: an MG projection (2-D) or a multi-frame DBT volume (3-D).

    ``force`` accepts files without the Part-10 preamble (recognised as DICOM by GDCM).
    """
    path = os.fspath(path)
    header = parse_header(read_header(path, force), path)
    warnings: list[str] = []
    values, file_dtype = _pixels(header, warnings, decoder)
    positions = header.frame_positions if len(header.frame_positions) == values.shape[0] else []
    return _make_image(values, header, path, default_spacing, warnings, file_dtype, positions, prefer_positions=False)


def _series_files(folder: Path) -> list[tuple[Path, DicomHeader]]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and is_dicom_file(p))
    if not files:
        raise InputError(folder, "folder holds no DICOM (Part-10) files")
    by_series: dict[str | None, list[tuple[Path, DicomHeader]]] = defaultdict(list)
    for f in files:
        h = parse_header(read_header(f), f)
        by_series[h.series_uid].append((f, h))
    if len(by_series) > 1:
        raise InputError(folder, f"folder holds {len(by_series)} DICOM series; pass the folder of one series")
    return next(iter(by_series.values()))


def _sort_slices(members: list[tuple[Path, DicomHeader]], folder: Path, warnings: list[str]) -> list[tuple[Path, DicomHeader]]:
    """Sort by position along the slice normal; fall back to InstanceNumber, then file name, with a warning."""
    n = _normal(members[0][1].orientation)
    if n is not None and all(h.position is not None for _, h in members):
        return sorted(members, key=lambda m: float(np.dot(m[1].position, n)))
    if all(h.instance_number is not None for _, h in members):
        warnings.append("slices have no ImagePositionPatient/ImageOrientationPatient; sorted by InstanceNumber")
        return sorted(members, key=lambda m: m[1].instance_number)
    warnings.append("slices have no position or InstanceNumber; sorted by file name")
    return members


def read_dicom_series(folder: str | os.PathLike, default_spacing: float | None = None) -> Image:
    """A folder holding one series of single-frame slices -> a 3-D stack sorted by position."""
    folder = Path(folder)
    members = _series_files(folder)
    if len(members) == 1:
        return read_dicom_file(members[0][0], default_spacing)
    warnings: list[str] = []
    members = _sort_slices(members, folder, warnings)
    first = members[0][1]
    for f, h in members:
        if h.frames != 1:
            raise InputError(f, f"series slice has {h.frames} frames; expected single-frame slices")
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise InputError(f, f"slice is {h.rows}x{h.columns} but {members[0][0].name} is {first.rows}x{first.columns}")
        if h.pixel_spacing != first.pixel_spacing:
            raise InputError(f, f"pixel spacing {h.pixel_spacing} differs from {members[0][0].name} ({first.pixel_spacing})")
    check_memory(8 * len(members) * first.rows * first.columns, f"stacking {len(members)} slices of "
                 f"{first.rows}x{first.columns} px", folder, MEMORY_ADVICE)  # the slices + their float32 stack
    slices, file_dtype = [], ""
    for _, h in members:
        values, file_dtype = _pixels(h, warnings)
        slices.append(values[0])
    positions = [h.position for _, h in members] if all(h.position is not None for _, h in members) else []
    image = _make_image(np.stack(slices), first, os.fspath(folder), default_spacing, warnings, file_dtype, positions, prefer_positions=True)
    image.meta["files"] = [os.fspath(f) for f, _ in members]
    log.info("%s: %d slices of one series stacked", folder, len(members))
    return image
