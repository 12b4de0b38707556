"""Segments on real slicer-core nodes: new segment beside a manual one, no overwrite, round trip, .seg.nrrd."""

from __future__ import annotations

import numpy as np
import pytest

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.scene import (
    CALCIFICATION_TERMINOLOGY,
    MLN_SEGMENT_COLOR,
    MLN_SEGMENT_NAME,
    add_mask_segment,
    add_volume_from_image,
    find_segment,
    load_segmentation,
    new_segmentation_node,
    save_segmentation,
    segment_names,
    segment_to_array,
    write_mask_to_segment,
)


def _volume(mrml, shape=(24, 32), spacing=(0.1, 0.07)):
    geometry = Geometry.identity(spacing) if len(shape) == 2 else Geometry((0.07, 0.1, 1.0), (1.0, 2.0, 3.0), (-1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    return add_volume_from_image(mrml.scene, Image(np.zeros(shape, np.float32), geometry), "img")


def _manual(seg_node, volume, mask, name="Level tracing"):
    sid = seg_node.GetSegmentation().AddEmptySegment("", name, [0.5, 0.68, 0.5])
    write_mask_to_segment(seg_node, sid, mask, volume)
    return sid


def test_new_segment_beside_manual_never_overwrites(mrml):
    volume = _volume(mrml)
    seg = new_segmentation_node(mrml.scene, volume, "labels")
    manual = np.zeros((24, 32), np.uint8)
    manual[3:6, 4:9] = 1
    manual_id = _manual(seg, volume, manual)
    # a user segment that already carries our name must not be replaced either
    users_own = np.zeros((24, 32), np.uint8)
    users_own[20:22, 1:3] = 1
    users_id = _manual(seg, volume, users_own, name=MLN_SEGMENT_NAME)

    pred = np.zeros((24, 32), np.uint8)
    pred[4:5, 6:20] = 1  # overlaps the manual segment on purpose
    new_id = add_mask_segment(seg, pred, volume)
    again = add_mask_segment(seg, pred, volume)

    names = segment_names(seg)
    assert list(names) == ["Level tracing", MLN_SEGMENT_NAME, f"{MLN_SEGMENT_NAME} 2", f"{MLN_SEGMENT_NAME} 3"]
    assert names[f"{MLN_SEGMENT_NAME} 2"] == new_id and names[f"{MLN_SEGMENT_NAME} 3"] == again
    np.testing.assert_array_equal(segment_to_array(seg, manual_id, volume), manual)
    np.testing.assert_array_equal(segment_to_array(seg, users_id, volume), users_own)
    np.testing.assert_array_equal(segment_to_array(seg, new_id, volume), pred)
    segment = seg.GetSegmentation().GetSegment(new_id)
    assert segment.GetTerminology() == CALCIFICATION_TERMINOLOGY
    assert "44771000" in segment.GetTerminology() and "Microcalcifications of the breast" in segment.GetTerminology()
    np.testing.assert_allclose(segment.GetColor(), MLN_SEGMENT_COLOR)


def test_segment_array_round_trip_3d_and_wrong_shape(mrml):
    volume = _volume(mrml, shape=(3, 10, 12))
    seg = new_segmentation_node(mrml.scene, volume)
    mask = (np.random.default_rng(3).random((3, 10, 12)) > 0.8).astype(np.uint8)
    sid = add_mask_segment(seg, mask, volume)
    out = segment_to_array(seg, sid, volume)
    assert out.shape == (3, 10, 12) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, mask)
    empty_id = add_mask_segment(seg, np.zeros_like(mask), volume, name="empty")
    assert segment_to_array(seg, empty_id, volume).sum() == 0
    with pytest.raises(InputError, match="does not match"):
        add_mask_segment(seg, np.zeros((10, 12), np.uint8), volume)
    assert "Microcalcifications (MLN-net) 2" not in segment_names(seg)  # the failed add left nothing behind
    with pytest.raises(InputError, match="no segment 'nope'"):
        find_segment(seg, "nope")


def test_save_and_reload_seg_nrrd(mrml, tmp_path):
    volume = _volume(mrml)
    seg = new_segmentation_node(mrml.scene, volume)
    manual = np.zeros((24, 32), np.uint8)
    manual[1:4, 1:4] = 1
    _manual(seg, volume, manual)
    pred = np.zeros((24, 32), np.uint8)
    pred[10:13, 20:30] = 1
    add_mask_segment(seg, pred, volume)
    path = save_segmentation(seg, tmp_path / "case.seg.nrrd")
    assert path.is_file() and [p.name for p in tmp_path.iterdir()] == ["case.seg.nrrd"]
    with pytest.raises(FileExistsError):
        save_segmentation(seg, path)
    save_segmentation(seg, path, overwrite=True)

    loaded = load_segmentation(mrml.scene, path)
    assert loaded.GetName() == "case"
    names = segment_names(loaded)
    assert list(names) == ["Level tracing", MLN_SEGMENT_NAME]
    np.testing.assert_array_equal(segment_to_array(loaded, names["Level tracing"], volume), manual)
    np.testing.assert_array_equal(segment_to_array(loaded, names[MLN_SEGMENT_NAME], volume), pred)
    assert loaded.GetSegmentation().GetSegment(names[MLN_SEGMENT_NAME]).GetTerminology() == CALCIFICATION_TERMINOLOGY
    with pytest.raises(InputError, match="no such"):
        load_segmentation(mrml.scene, tmp_path / "missing.seg.nrrd")
    with pytest.raises(InputError, match=".seg.nrrd"):
        save_segmentation(seg, tmp_path / "case.nii")
