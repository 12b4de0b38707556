"""Segments in a vtkMRMLSegmentationNode as numpy masks, without ever touching a user's segment.

The model's output goes into its own segment, named ``MLN_SEGMENT_NAME`` (numbered when that name is
taken), coded with a DICOM/SNOMED CT terminology entry for breast microcalcifications and drawn in a
colour that stands apart from Slicer's default label colours.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from MLNNetLib.errors import InputError

MLN_SEGMENT_NAME = "Microcalcifications (MLN-net)"
MLN_SEGMENT_COLOR = (1.0, 0.35, 0.0)  # orange-red: unlike Slicer's first auto colours and unlike white calcifications
# Slicer terminology string: context~category~type~type modifier~anatomic context~region~region modifier.
# SCT 44771000 "Microcalcifications of the breast" (DICOM CID 6011, BI-RADS calcification types);
# SCT 49755003 "Morphologically Altered Structure" is the category Slicer uses for lesions; SCT 76752008 = Breast.
CALCIFICATION_TERMINOLOGY = (
    "Segmentation category and type - DICOM master list"
    "~SCT^49755003^Morphologically Altered Structure"
    "~SCT^44771000^Microcalcifications of the breast"
    "~^^"
    "~Anatomic codes - DICOM master list"
    "~SCT^76752008^Breast"
    "~^^"
)


def segment_names(segmentation_node: Any) -> dict[str, str]:
    """Segment name -> segment ID, in display order."""
    seg = segmentation_node.GetSegmentation()
    return {seg.GetNthSegment(i).GetName(): seg.GetNthSegmentID(i) for i in range(seg.GetNumberOfSegments())}


def find_segment(segmentation_node: Any, name_or_id: str) -> str:
    """Segment ID for a name or an ID; InputError naming the node when there is none."""
    seg = segmentation_node.GetSegmentation()
    if seg.GetSegment(name_or_id) is not None:
        return name_or_id
    segment_id = seg.GetSegmentIdBySegmentName(name_or_id)
    if not segment_id:
        known = ", ".join(segment_names(segmentation_node)) or "none"
        raise InputError(None, f"segmentation '{segmentation_node.GetName()}' has no segment '{name_or_id}' (segments: {known})")
    return segment_id


def unique_segment_name(segmentation_node: Any, base: str = MLN_SEGMENT_NAME) -> str:
    """``base`` if free, else ``base 2``, ``base 3``, ...: a new result never takes a user's segment name."""
    taken = set(segment_names(segmentation_node))
    if base not in taken:
        return base
    n = 2
    while f"{base} {n}" in taken:
        n += 1
    return f"{base} {n}"


def new_segmentation_node(scene: Any, reference_volume: Any, name: str | None = None) -> Any:
    """Empty segmentation node on the reference volume's grid (and under the same parent transform)."""
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name or f"{reference_volume.GetName()} segmentation")
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume)
    if reference_volume.GetTransformNodeID():
        node.SetAndObserveTransformNodeID(reference_volume.GetTransformNodeID())
    return node


def _labelmap_like(volume_node: Any, mask: np.ndarray) -> Any:
    """vtkOrientedImageData with the volume's IJK->RAS holding ``mask`` (0/1 uint8)."""
    import slicer
    import vtk
    from vtk.util import numpy_support

    dims = volume_node.GetImageData().GetDimensions()
    shape = (dims[2], dims[1], dims[0])
    mask = np.asarray(mask)
    if mask.ndim == 2:
        mask = mask[np.newaxis]
    if mask.shape != shape:
        raise InputError(None, f"mask shape {mask.shape} does not match volume '{volume_node.GetName()}' shape {shape}")
    image = slicer.vtkOrientedImageData()
    image.SetDimensions(dims)
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    image.SetImageToWorldMatrix(matrix)
    numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())[:] = (mask > 0).astype(np.uint8).ravel()
    image.Modified()
    return image


def write_mask_to_segment(segmentation_node: Any, segment_id: str, mask: np.ndarray, reference_volume: Any, merge: bool = False) -> None:
    """Set (or OR into, with ``merge``) one segment's voxels from a mask on the reference volume's grid."""
    import slicer

    logic = slicer.vtkSlicerSegmentationsModuleLogic
    labelmap = _labelmap_like(reference_volume, mask)
    mode = logic.MODE_MERGE_MAX if merge else logic.MODE_REPLACE
    if not logic.SetBinaryLabelmapToSegment(labelmap, segmentation_node, segment_id, mode):
        raise InputError(None, f"could not write the mask into segment '{segment_id}' of '{segmentation_node.GetName()}'")


def add_mask_segment(
    segmentation_node: Any,
    mask: np.ndarray,
    reference_volume: Any,
    name: str = MLN_SEGMENT_NAME,
    color: tuple[float, float, float] = MLN_SEGMENT_COLOR,
    terminology: str | None = CALCIFICATION_TERMINOLOGY,
) -> str:
    """Add a NEW segment (name numbered if taken) holding ``mask``; existing segments are left untouched."""
    segment_name = unique_segment_name(segmentation_node, name)
    segment_id = segmentation_node.GetSegmentation().AddEmptySegment("", segment_name, list(color))
    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    if terminology:
        segment.SetTerminology(terminology)
    try:
        write_mask_to_segment(segmentation_node, segment_id, mask, reference_volume)
    except Exception:
        segmentation_node.GetSegmentation().RemoveSegment(segment_id)
        raise
    return segment_id


def segment_to_array(segmentation_node: Any, segment_id: str, reference_volume: Any) -> np.ndarray:
    """Segment voxels resampled (nearest) onto the reference volume's grid: uint8 0/1, numpy order.

    Single-slice volumes give (rows, cols); others (slices, rows, cols).
    """
    import slicer
    from vtk.util import numpy_support

    segment_id = find_segment(segmentation_node, segment_id)
    labelmap = slicer.vtkOrientedImageData()
    if not segmentation_node.GetBinaryLabelmapRepresentation(segment_id, labelmap):
        segmentation_node.CreateBinaryLabelmapRepresentation()
        if not segmentation_node.GetBinaryLabelmapRepresentation(segment_id, labelmap):
            raise InputError(None, f"segment '{segment_id}' of '{segmentation_node.GetName()}' has no labelmap")
    dims = reference_volume.GetImageData().GetDimensions()
    shape = (dims[2], dims[1], dims[0])
    empty_extent = labelmap.GetExtent()[1] < labelmap.GetExtent()[0]
    if empty_extent or labelmap.GetPointData().GetScalars() is None:
        out = np.zeros(shape, np.uint8)
    else:
        reference = slicer.vtkSlicerSegmentationsModuleLogic.CreateOrientedImageDataFromVolumeNode(reference_volume)
        resampled = slicer.vtkOrientedImageData()
        if not slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(labelmap, reference, resampled, False, False):
            raise InputError(None, f"could not resample segment '{segment_id}' to volume '{reference_volume.GetName()}'")
        out = (numpy_support.vtk_to_numpy(resampled.GetPointData().GetScalars()).reshape(shape) > 0).astype(np.uint8)
    return out[0] if shape[0] == 1 else out
