"""Image files of a style: NRRD (spacing in the header) or a DICOM MG file whose photometric tag is what the
style says, so a MONOCHROME1 file is converted by the project's DICOM reader exactly as a real one would be,
and a wrongly tagged file is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from MLNNetLib.atomic import atomic_path
from MLNNetLib.synth.domains import DomainSpec

FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"  # Digital Mammography X-Ray Image Storage - For Presentation
FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"


def image_suffix(spec: DomainSpec) -> str:
    return ".dcm" if spec.file_format == "dicom" else ".nrrd"


def write_nrrd(array: np.ndarray, spacing_mm: float, path: Path, overwrite: bool, meta: dict[str, str] | None = None) -> Path:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(array)
    img.SetSpacing((float(spacing_mm),) * array.ndim)
    for k, v in (meta or {}).items():
        img.SetMetaData(k, v)
    with atomic_path(path, overwrite) as tmp:
        sitk.WriteImage(img, str(tmp), True)
    return path


def write_dicom(array: np.ndarray, spec: DomainSpec, info: dict[str, Any], path: Path, overwrite: bool) -> Path:
    """A single-frame MG DICOM (uncompressed, Explicit VR Little Endian) with deterministic UIDs."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    key = [str(info["seed"]), spec.name]
    sop_class = FOR_PROCESSING if spec.mapping == "raw" else FOR_PRESENTATION
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=key + ["sop"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[str(info["seed"]), "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=key + ["series"])
    ds.PatientName = f"MLNNet^Synthetic{info['seed']}"
    ds.PatientID = f"SYN{info['seed']}"
    ds.Modality = "MG"
    ds.Manufacturer = "MLNNetLib.synth"
    ds.ManufacturerModelName = spec.name
    ds.PresentationIntentType = "FOR PROCESSING" if spec.mapping == "raw" else "FOR PRESENTATION"
    ds.ImageLaterality = info["laterality"]
    ds.ViewPosition = info["view"]
    ds.ImageComments = f"synthetic style {spec.name}, seed {info['seed']}, case {info['case_label']}"
    ds.Rows, ds.Columns = (int(n) for n in array.shape)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = spec.photometric
    ds.BitsAllocated = 16
    ds.BitsStored = spec.bits
    ds.HighBit = spec.bits - 1
    ds.PixelRepresentation = 0
    pitch = float(info["spacing_mm"])
    ds.PixelSpacing = [pitch, pitch]
    ds.ImagerPixelSpacing = [pitch, pitch]
    ds.PixelData = np.ascontiguousarray(array.astype(np.uint16)).tobytes()
    with atomic_path(path, overwrite) as tmp:
        pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
    return path


def write_style_image(array: np.ndarray, spec: DomainSpec, info: dict[str, Any], path: Path, overwrite: bool) -> Path:
    if spec.file_format == "dicom":
        return write_dicom(array, spec, info, path, overwrite)
    meta = {"MLNNet_domain": spec.name, "MLNNet_photometric": spec.photometric, "MLNNet_seed": str(info["seed"])}
    return write_nrrd(array.astype(np.uint16), float(info["spacing_mm"]), path, overwrite, meta)
