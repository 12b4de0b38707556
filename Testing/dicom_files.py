"""Real DICOM files for the tests, built with pydicom (shared by the DICOM reader tests and the bad-input suite)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MG_CLASS = "1.2.840.10008.5.1.4.1.1.1.2"
STORED = (np.arange(30, dtype=np.uint16).reshape(5, 6) * 100)  # 0..2900, fits 12 bits


def write_dicom(path: Path, stored: np.ndarray, photometric: str = "MONOCHROME2", series_uid: str | None = None,
                bits_stored: int = 12, **tags) -> Path:
    """A minimal but valid Part-10 file; ``tags`` are set verbatim (e.g. PixelSpacing=[0.1, 0.2])."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MG_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MG_CLASS, meta.MediaStorageSOPInstanceUID
    ds.Modality = "MG"
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = stored.shape[-2:]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits_stored, bits_stored - 1, 0
    if stored.ndim == 3:
        ds.NumberOfFrames = stored.shape[0]
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = np.ascontiguousarray(stored, dtype=np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
