"""DICOM Segmentation objects (highdicom) for a predicted calcification mask on its DICOM source image(s).

The segment is coded as the Slicer module codes it (``MLNNetLib.scene.segments``): category SCT 49755003
"Morphologically Altered Structure", type SCT 44771000 "Microcalcifications of the breast", anatomic region
SCT 76752008 "Breast", algorithm type AUTOMATIC (MLNNet and its version), the module's orange as display colour.
The SEG references the source instances, so a PACS or Slicer's DICOM module places it on the mammogram. A 2-D
mammogram gives one frame; a multi-frame DBT file or a series of single-frame slices gives one frame per slice
(in the source's frame / position order, as ``read_image`` stacks them). Empty frames are kept, so the frames
always match the source one to one. For projection images without a frame of reference the spacing is left to
the source image (see ``_drop_partial_pixel_measures``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from MLNNetLib.atomic import atomic_path
from MLNNetLib.errors import InputError

SEGMENT_LABEL = "Microcalcifications (MLN-net)"
SEGMENT_CODES = {"category": ("49755003", "Morphologically Altered Structure"),
                 "type": ("44771000", "Microcalcifications of the breast"), "region": ("76752008", "Breast")}
DISPLAY_RGB = (255, 89, 0)  # MLN_SEGMENT_COLOR (1.0, 0.35, 0.0) of the Slicer module, 8-bit


def _description():
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code

    from MLNNetLib import __version__

    algorithm = hd.AlgorithmIdentificationSequence(name="MLNNet MLN-net", version=__version__,
                                                   family=codes.cid7162.ArtificialIntelligence)
    code = {k: Code(v[0], "SCT", v[1]) for k, v in SEGMENT_CODES.items()}
    return hd.seg.SegmentDescription(
        segment_number=1, segment_label=SEGMENT_LABEL, segmented_property_category=code["category"],
        segmented_property_type=code["type"], algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm, anatomic_regions=[code["region"]],
        display_color=hd.color.CIELabColor.from_rgb(*DISPLAY_RGB) if hasattr(hd.color.CIELabColor, "from_rgb")
        else None)


def _drop_partial_pixel_measures(seg) -> None:
    """A projection mammogram (no frame of reference) with PixelSpacing gets a Pixel Measures item without
    SliceThickness, which highdicom itself then refuses to read; without a frame of reference the SEG's frames are
    tied to the source pixels one to one, so the item is dropped (the spacing stays in the source image)."""
    if seg.get("FrameOfReferenceUID"):
        return
    for group in seg.get("SharedFunctionalGroupsSequence") or []:
        measures = group.get("PixelMeasuresSequence")
        if measures and "SliceThickness" not in measures[0]:
            del group.PixelMeasuresSequence


def write_dicom_seg(mask: np.ndarray, source_files: Sequence[str | os.PathLike], path: str | os.PathLike,
                    overwrite: bool = False, series_description: str = "MLNNet microcalcifications") -> Path:
    """Write ``mask`` (rows x cols, or slices x rows x cols) as a binary DICOM SEG on ``source_files``."""
    import highdicom as hd
    import pydicom

    from MLNNetLib import __version__

    if not source_files:
        raise InputError(path, "a DICOM SEG needs DICOM source images; the input is not DICOM")
    sources = [pydicom.dcmread(os.fspath(f)) for f in source_files]
    frames = np.asarray(mask, dtype=bool)
    if frames.ndim == 2:
        frames = frames[None]
    per_source = sum(int(s.get("NumberOfFrames") or 1) for s in sources)
    if frames.shape[0] != per_source or frames.shape[1:] != (int(sources[0].Rows), int(sources[0].Columns)):
        raise InputError(path, f"mask of shape {tuple(frames.shape)} does not match the {per_source} source frame(s) of "
                               f"{int(sources[0].Rows)}x{int(sources[0].Columns)} px")
    try:
        with warnings.catch_warnings():  # CBIS-DDSM's PatientName is a case folder name: highdicom warns, harmlessly
            warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
            seg = hd.seg.Segmentation(
                source_images=sources, pixel_array=frames.astype(np.uint8),
                segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=[_description()],
                series_instance_uid=hd.UID(), series_number=900, sop_instance_uid=hd.UID(), instance_number=1,
                manufacturer="MLNNet", manufacturer_model_name="MLN-net", software_versions=__version__,
                device_serial_number="none", series_description=series_description, omit_empty_frames=False)
    except (ValueError, AttributeError, TypeError) as exc:
        raise InputError(source_files[0], f"cannot build a DICOM SEG on this image ({exc})") from None
    _drop_partial_pixel_measures(seg)
    with atomic_path(path, overwrite) as tmp:
        seg.save_as(tmp)
    return Path(path)


def read_dicom_seg(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """(mask frames x rows x cols uint8, segment facts) of a SEG written here (for round trips and tests)."""
    import highdicom as hd

    seg = hd.seg.segread(os.fspath(path))
    frames = seg.pixel_array
    desc = seg.SegmentSequence[0]
    facts = {"label": str(desc.SegmentLabel), "type": str(desc.SegmentedPropertyTypeCodeSequence[0].CodeValue),
             "category": str(desc.SegmentedPropertyCategoryCodeSequence[0].CodeValue),
             "referenced": [str(s.ReferencedSOPInstanceUID) for s in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence]}
    return np.asarray(frames).reshape(-1, int(seg.Rows), int(seg.Columns)).astype(np.uint8), facts
