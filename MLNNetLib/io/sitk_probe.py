"""Find out once what SimpleITK's GDCM reader does to DICOM pixels, instead of trusting a version number.

ITK's GDCMImageIO applies Rescale Slope/Intercept and (in recent ITK) inverts MONOCHROME1 itself; older
builds did not invert. Reading a tiny known file tells us which steps are already done, so each is applied
exactly once whatever SimpleITK is installed.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk


@dataclass(frozen=True)
class ReaderBehaviour:
    applies_rescale: bool
    inverts_monochrome1: bool


_STORED = np.array([[0, 100], [200, 300]], dtype=np.uint16)
_SLOPE, _INTERCEPT, _BITS = 2.0, -10.0, 12


def _write_probe(path: Path) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"  # Digital Mammography X-Ray, for presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "MG"
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = _STORED.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, _BITS, _BITS - 1, 0
    ds.RescaleSlope, ds.RescaleIntercept = str(_SLOPE), str(_INTERCEPT)
    ds.PixelData = _STORED.tobytes()
    ds.save_as(path, enforce_file_format=True)


@functools.lru_cache(maxsize=1)
def reader_behaviour() -> ReaderBehaviour:
    """Classify SimpleITK's output on the probe as one of four (rescaled?, inverted?) outcomes."""
    with tempfile.TemporaryDirectory(prefix="mlnnet-probe-") as tmp:
        path = Path(tmp) / "probe.dcm"
        _write_probe(path)
        got = sitk.GetArrayFromImage(sitk.ReadImage(str(path))).reshape(_STORED.shape).astype(np.float64)
    top = float(2**_BITS - 1)
    outcomes = {
        (True, True): _SLOPE * (top - _STORED) + _INTERCEPT,
        (True, False): _SLOPE * _STORED + _INTERCEPT,
        (False, True): top - _STORED.astype(np.float64),
        (False, False): _STORED.astype(np.float64),
    }
    for (rescale, invert), expected in outcomes.items():
        if np.array_equal(got, expected):
            return ReaderBehaviour(rescale, invert)
    raise RuntimeError(f"SimpleITK read the DICOM probe as {got.tolist()}; cannot tell what it did to the pixels")
