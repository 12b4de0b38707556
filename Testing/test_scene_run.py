"""segment_volume_node glue on real slicer-core nodes.

The model run itself is MLNNetLib.inference's (tested there; the lead adds the end-to-end test with a trained
tiny model). Here a plain threshold segmenter with segment_image's signature drives the glue, so what is
checked is the scene side: ROI -> pixels, new segment beside manual labels, probability volume, summary,
and that a cancelled run leaves the scene untouched.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from MLNNetLib.errors import Cancelled
from MLNNetLib.image import Geometry, Image
from MLNNetLib.inference import SegmentationResult
from MLNNetLib.progress import Progress
from MLNNetLib.scene import (
    MLN_SEGMENT_NAME,
    add_volume_from_image,
    ijk_to_ras,
    image_from_volume,
    new_segmentation_node,
    segment_names,
    segment_to_array,
    segment_volume_node,
    write_mask_to_segment,
)
from MLNNetLib.scene.run import SUMMARY_ATTRIBUTE, roi_pixels


def threshold_segmenter(ckpt, image, selection="cosine", options=None, progress=None, roi=None):
    """Bright pixels are 'calcifications'; reports like segment_image does."""
    calls.append({"roi": roi, "shape": image.array.shape, "spacing": image.spacing})
    prob = (image.array > 150).astype(np.float32) * 0.9
    if roi is not None:
        r0, c0, r1, c1 = roi
        keep = np.zeros(prob.shape[-2:], bool)
        keep[r0:r1, c0:c1] = True
        prob = prob * keep
    if progress is not None:
        progress.step(1, 1, "tiles")
    return SegmentationResult(mask=(prob > 0.5).astype(np.uint8), probability=prob, branch=1, scores=[0.2, 0.9],
                              ood=False, tiles=1, skipped_tiles=0, seconds=0.01, decisions=["threshold"], selection=selection)


calls: list[dict] = []


def _volume(mrml):
    img = np.full((40, 50), 100, np.float32)
    img[5:8, 5:8] = 200
    img[30:33, 40:44] = 200
    return add_volume_from_image(mrml.scene, Image(img, Geometry.identity((0.1, 0.1))), "mammo"), img


def test_segment_beside_manual_labels_with_probability(mrml):
    volume, img = _volume(mrml)
    seg = new_segmentation_node(mrml.scene, volume, "labels")
    manual_id = seg.GetSegmentation().AddEmptySegment("", "Level tracing")
    manual = np.zeros(img.shape, np.uint8)
    manual[5:8, 5:8] = 1
    write_mask_to_segment(seg, manual_id, manual, volume)
    summary = segment_volume_node(None, volume, seg, selection="cosine", probability=True, segmenter=threshold_segmenter)
    assert summary["branch"] == 1 and summary["scores"] == [0.2, 0.9] and summary["ood"] is False
    assert summary["segment_name"] == MLN_SEGMENT_NAME and summary["segmentation_node_id"] == seg.GetID()
    assert list(segment_names(seg)) == ["Level tracing", MLN_SEGMENT_NAME]
    np.testing.assert_array_equal(segment_to_array(seg, summary["segment_id"], volume), (img > 150).astype(np.uint8))
    np.testing.assert_array_equal(segment_to_array(seg, manual_id, volume), manual)
    prob_node = mrml.scene.GetNodeByID(summary["probability_node_id"])
    prob = image_from_volume(prob_node)
    np.testing.assert_allclose(prob.array, (img > 150) * 0.9)
    np.testing.assert_allclose(prob.geometry.spacing_xyz, (0.1, 0.1))
    assert json.loads(seg.GetAttribute(SUMMARY_ATTRIBUTE))["segment_id"] == summary["segment_id"]


def test_new_node_and_roi_restrict_the_run(mrml):
    volume, img = _volume(mrml)
    roi = mrml.scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "roi")
    lo, hi = ijk_to_ras(volume, [[25, 35], [37, 47]])  # rows 25..37, cols 35..47 around the second spot
    roi.SetCenter(*((lo + hi) / 2))
    roi.SetSize(*(np.abs(hi - lo) + [0, 0, 1]))
    assert roi_pixels(volume, roi) == (25, 35, 38, 48)
    calls.clear()
    before = mrml.scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode")
    summary = segment_volume_node(None, volume, roi_node=roi, segmenter=threshold_segmenter)
    assert calls[0]["roi"] == (25, 35, 38, 48) and calls[0]["shape"] == (40, 50)
    assert mrml.scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == before + 1
    seg = mrml.scene.GetNodeByID(summary["segmentation_node_id"])
    out = segment_to_array(seg, summary["segment_id"], volume)
    assert out[30:33, 40:44].all() and out[5:8, 5:8].sum() == 0  # only the spot inside the ROI
    assert summary["probability_node_id"] is None and summary["roi"] == [25, 35, 38, 48]


def test_cancelled_run_leaves_scene_unchanged(mrml):
    volume, _ = _volume(mrml)
    seg = new_segmentation_node(mrml.scene, volume, "labels")
    seg.GetSegmentation().AddEmptySegment("", "Level tracing")
    nodes_before = mrml.scene.GetNumberOfNodes()
    progress = Progress()
    progress.cancel()
    with pytest.raises(Cancelled):
        segment_volume_node(None, volume, seg, progress=progress, probability=True, segmenter=threshold_segmenter)
    with pytest.raises(Cancelled):
        segment_volume_node(None, volume, None, progress=progress, probability=True, segmenter=threshold_segmenter)
    assert mrml.scene.GetNumberOfNodes() == nodes_before
    assert list(segment_names(seg)) == ["Level tracing"]
    assert seg.GetAttribute(SUMMARY_ATTRIBUTE) is None


def test_dbt_volume_gives_one_3d_segment(mrml):
    stack = np.full((3, 20, 24), 100, np.float32)
    stack[0, 2:4, 2:4] = 200
    stack[2, 10:13, 5:9] = 200
    geometry = Geometry((0.1, 0.1, 1.0), (0.0, 0.0, 0.0), (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    volume = add_volume_from_image(mrml.scene, Image(stack, geometry), "dbt")
    calls.clear()
    summary = segment_volume_node(None, volume, segmenter=threshold_segmenter)
    assert calls[0]["shape"] == (3, 20, 24) and calls[0]["spacing"] == pytest.approx((1.0, 0.1, 0.1))
    seg = mrml.scene.GetNodeByID(summary["segmentation_node_id"])
    assert seg.GetSegmentation().GetNumberOfSegments() == 1
    np.testing.assert_array_equal(segment_to_array(seg, summary["segment_id"], volume), (stack > 150).astype(np.uint8))


@pytest.mark.slow
def test_end_to_end_with_tiny_model_trained_on_the_fly(mrml, tiny_checkpoint_path):
    """Real chain: tiny MLN-net trained a few steps (MLNNet/MLNNetModuleLib/testdata.py, also used by the Slicer self-test),
    checkpoint saved and reloaded, segment_image on a volume node, result written beside manual labels."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MLNNet"))
    from MLNNetModuleLib import testdata as MLNNetTestData

    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.inference import InferenceOptions

    ckpt = load_checkpoint(tiny_checkpoint_path)
    image, mask, spacing = MLNNetTestData.synthetic_case()
    volume = add_volume_from_image(mrml.scene, Image(image, Geometry.identity((spacing, spacing))), "synthetic")
    seg = new_segmentation_node(mrml.scene, volume, "labels")
    manual_id = seg.GetSegmentation().AddEmptySegment("", "Level tracing")
    write_mask_to_segment(seg, manual_id, mask, volume)
    steps: list[tuple[int, int]] = []
    summary = segment_volume_node(ckpt, volume, seg, selection="cosine", options=InferenceOptions(overlap=0.0),
                                  progress=Progress(lambda d, t, m: steps.append((d, t))), probability=True)
    assert summary["branch"] in (0, 1) and len(summary["scores"]) == 2 and isinstance(summary["ood"], bool)
    assert summary["tiles"] > 0 and steps and steps[-1][0] == steps[-1][1]
    assert list(segment_names(seg)) == ["Level tracing", MLN_SEGMENT_NAME]
    np.testing.assert_array_equal(segment_to_array(seg, manual_id, volume), mask)
    written = segment_to_array(seg, summary["segment_id"], volume)
    prob = image_from_volume(mrml.scene.GetNodeByID(summary["probability_node_id"])).array
    np.testing.assert_array_equal(written, (prob > 0.5).astype(np.uint8))
    assert summary["foreground_pixels"] == int(written.sum())
