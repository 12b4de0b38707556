"""Segment a volume node with a trained model and put the result into the scene.

The computation runs first on plain arrays; the scene is changed only after it succeeded, so a failed or
cancelled run (``MLNNetLib.errors.Cancelled``) leaves every node as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.scene.markups import ras_to_ijk
from MLNNetLib.scene.segments import MLN_SEGMENT_NAME, add_mask_segment, new_segmentation_node
from MLNNetLib.scene.volumes import add_volume_from_image, image_from_volume, update_volume_from_image, volume_array_shape

log = get_logger(__name__)
SUMMARY_ATTRIBUTE = "MLNNet.summary"


def roi_pixels(volume_node: Any, roi_node: Any) -> tuple[int, int, int, int]:
    """(row0, col0, row1, col1), half open, of the volume pixels inside a markups ROI's RAS bounding box."""
    bounds = [0.0] * 6
    roi_node.GetRASBounds(bounds)
    corners = np.array([[x, y, z] for x in bounds[0:2] for y in bounds[2:4] for z in bounds[4:6]])
    ijk = ras_to_ijk(volume_node, corners)
    dims = volume_node.GetImageData().GetDimensions()
    col0, row0 = (int(np.floor(v + 0.5)) for v in ijk[:, :2].min(axis=0))
    col1, row1 = (int(np.floor(v + 0.5)) + 1 for v in ijk[:, :2].max(axis=0))
    col0, col1 = max(col0, 0), min(col1, dims[0])
    row0, row1 = max(row0, 0), min(row1, dims[1])
    if row1 <= row0 or col1 <= col0:
        raise InputError(None, f"ROI '{roi_node.GetName()}' does not overlap volume '{volume_node.GetName()}'")
    return row0, col0, row1, col1


def segment_volume_node(
    ckpt: Any,
    volume_node: Any,
    segmentation_node: Any = None,
    selection: str | int = "polarity",
    options: Any = None,
    progress: Any = None,
    roi_node: Any = None,
    probability: bool | Any = False,
    segment_name: str = MLN_SEGMENT_NAME,
    segmenter: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Run MLN-net on ``volume_node`` and add the mask as a new segment (beside any existing ones).

    ``probability``: False (none), True (new volume node) or an existing scalar volume node to overwrite.
    ``segmenter`` defaults to ``MLNNetLib.inference.segment_image`` (same signature). Returns the result
    summary (branch, scores, ood, decisions, ...) plus the IDs of the nodes written.
    """
    if segmenter is None:
        from MLNNetLib.inference import segment_image as segmenter
    image = image_from_volume(volume_node)
    roi = roi_pixels(volume_node, roi_node) if roi_node is not None else None
    result = segmenter(ckpt, image, selection=selection, options=options, progress=progress, roi=roi)
    return add_result_to_scene(
        volume_node, np.asarray(result.mask), result.summary(), segmentation_node,
        probability_array=result.probability, probability=probability, segment_name=segment_name, roi=roi,
    )


def add_result_to_scene(
    volume_node: Any,
    mask: np.ndarray,
    summary: dict[str, Any],
    segmentation_node: Any = None,
    probability_array: np.ndarray | None = None,
    probability: bool | Any = False,
    segment_name: str = MLN_SEGMENT_NAME,
    roi: tuple[int, int, int, int] | None = None,
) -> dict[str, Any]:
    """Put a finished segmentation (mask on ``volume_node``'s grid) into the scene as a new segment.

    Shared by the in-process run above and the background run of the Slicer module
    (``MLNNetLib.scene.jobs``), so both leave the scene in the same state. Nothing is changed when the mask
    does not fit the volume. Returns ``summary`` plus the IDs of the nodes written.
    """
    image_shape = volume_array_shape(volume_node)
    mask = np.asarray(mask)
    if mask.shape != image_shape:
        raise InputError(None, f"segmentation returned shape {mask.shape} for an image of shape {image_shape}")
    wants_probability = probability is not None and probability is not False
    if wants_probability and (probability_array is None or np.shape(probability_array) != image_shape):
        raise InputError(None, f"probability map of shape {np.shape(probability_array)} does not fit the image {image_shape}")

    # Only now, with a finished result, is the scene touched.
    scene = volume_node.GetScene()
    created = segmentation_node is None
    if created:
        segmentation_node = new_segmentation_node(scene, volume_node, f"{volume_node.GetName()} MLN-net")
    try:
        segment_id = add_mask_segment(segmentation_node, mask, volume_node, name=segment_name)
    except Exception:
        if created:
            scene.RemoveNode(segmentation_node)
        raise
    summary = dict(summary)
    summary.update(
        volume_node_id=volume_node.GetID(),
        segmentation_node_id=segmentation_node.GetID(),
        segment_id=segment_id,
        segment_name=segmentation_node.GetSegmentation().GetSegment(segment_id).GetName(),
        probability_node_id=None,
        roi=list(roi) if roi is not None else None,
    )
    if wants_probability:
        prob = np.asarray(probability_array, dtype=np.float32)
        if probability is True:
            prob_node = add_volume_from_image(scene, prob, f"{volume_node.GetName()} MLN-net probability", like=volume_node)
        else:
            prob_node = probability
            update_volume_from_image(prob_node, prob)
            prob_node.CopyOrientation(volume_node)
        summary["probability_node_id"] = prob_node.GetID()
    segmentation_node.SetAttribute(SUMMARY_ATTRIBUTE, json.dumps(summary))
    log.info("segment '%s' added to '%s' (branch %s, ood %s)", summary["segment_name"], segmentation_node.GetName(), summary.get("branch"), summary.get("ood"))
    return summary
