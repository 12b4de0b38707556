"""Reference labels from points: level-tracing outlines around bright blobs, on real slicer-core nodes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.scene import (
    add_point_list,
    add_volume_from_image,
    ijk_to_ras,
    label_points,
    new_segmentation_node,
    segment_names,
    segment_to_array,
    write_mask_to_segment,
)

BLOBS = [((15, 20), 1.2), ((40, 60), 2.0), ((60, 25), 1.6)]  # (row, col), sigma px


def _image(shape=(80, 90), seed=0):
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    img = 100 + rng.normal(0, 1.0, shape)
    for (r, c), s in BLOBS:
        img += 60 * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * s * s))
    return img.astype(np.float32)


def test_half_maximum_outline_around_each_point(mrml):
    img = _image()
    volume = add_volume_from_image(mrml.scene, Image(img, Geometry.identity((0.07, 0.07))), "mammo")
    seg = new_segmentation_node(mrml.scene, volume)
    # points placed roughly (one pixel off) on each blob, plus one outside the image
    clicks = [(r + 1, c - 1) for (r, c), _ in BLOBS]
    ras = ijk_to_ras(volume, np.array(clicks + [(200, 200)]))
    points = add_point_list(mrml.scene, ras, name="calcifications")
    results = label_points(volume, points, seg, "Reference calcifications")

    assert [r.note for r in results[:3]] == ["", "", ""]
    assert results[3].note == "outside the volume" and results[3].pixels == 0
    out = segment_to_array(seg, "Reference calcifications", volume)
    labels, n = ndimage.label(out)
    assert n == 3
    for ((r, c), s), res in zip(BLOBS, results):
        component = labels == labels[r, c]
        assert labels[r, c] > 0
        # a Gaussian of sigma s is above half maximum within radius s*sqrt(2 ln 2): compare areas
        expected_area = np.pi * (s * np.sqrt(2 * np.log(2))) ** 2
        assert 0.5 * expected_area <= component.sum() <= 2.0 * expected_area + 4, (s, component.sum())
        assert res.pixels == component.sum()
        assert 125 < res.level < 135  # ~ background 100 + 0.5 * 60
        assert not ndimage.binary_fill_holes(component).sum() > component.sum()  # filled, no holes
    assert out.sum() == sum(r.pixels for r in results)


def test_raw_level_like_slicer_effect_and_merge_into_existing_segment(mrml):
    img = _image()
    volume = add_volume_from_image(mrml.scene, Image(img, Geometry.identity((0.07, 0.07))), "mammo")
    seg = new_segmentation_node(mrml.scene, volume)
    sid = seg.GetSegmentation().AddEmptySegment("", "manual")
    before = np.zeros(img.shape, np.uint8)
    before[2:4, 2:4] = 1
    write_mask_to_segment(seg, sid, before, volume)
    (r, c), _ = BLOBS[1]
    # a seed on the blob's flank: the iso-line through it encloses the brighter core
    points = add_point_list(mrml.scene, ijk_to_ras(volume, [[r, c + 2]]))
    results = label_points(volume, points, seg, "manual", level_fraction=None)
    assert results[0].level == pytest.approx(float(img[r, c + 2]))
    out = segment_to_array(seg, sid, volume)
    np.testing.assert_array_equal(out[2:4, 2:4], 1)  # the user's earlier label is kept
    traced = out.copy()
    traced[2:4, 2:4] = 0
    assert traced[r, c] == 1 and traced[r, c + 2] == 1 and 5 <= traced.sum() <= 40
    assert list(segment_names(seg)) == ["manual"]


def test_dbt_point_labels_only_its_slice_and_empty_list_refused(mrml):
    img = np.stack([_image(seed=s) for s in range(3)])
    volume = add_volume_from_image(mrml.scene, Image(img, Geometry.identity((1.0, 0.1, 0.1))), "dbt")
    seg = new_segmentation_node(mrml.scene, volume)
    (r, c), _ = BLOBS[0]
    points = add_point_list(mrml.scene, ijk_to_ras(volume, [[1, r, c]]))
    label_points(volume, points, seg, "ref")
    out = segment_to_array(seg, "ref", volume)
    assert out.shape == (3, 80, 90)
    assert out[0].sum() == 0 and out[2].sum() == 0 and out[1, r, c] == 1
    with pytest.raises(InputError, match="no points"):
        label_points(volume, add_point_list(mrml.scene, np.zeros((0, 3))), seg, "ref")


def test_points_on_synthetic_calcifications_reproduce_the_true_mask(mrml):
    """Points at the centres of the calcifications of a synthetic mammogram (MLNNetLib.synth): every point,
    one-pixel spots included, gets a label, and the labels agree with the exact mask."""
    from MLNNetLib.synth import generate_case

    image, truth, _ = generate_case("ffdm", 3, shape=(384, 320), spacing_mm=0.1)
    volume = add_volume_from_image(mrml.scene, Image(image.astype(np.float32), Geometry.identity((0.1, 0.1))), "synthetic")
    seg = new_segmentation_node(mrml.scene, volume)
    labels, n = ndimage.label(truth)
    sizes = np.bincount(labels.ravel())[1:]
    assert n >= 10 and sizes.min() == 1  # the case has one-pixel calcifications
    centres = np.array(ndimage.center_of_mass(truth, labels, range(1, n + 1))).round()
    results = label_points(volume, add_point_list(mrml.scene, ijk_to_ras(volume, centres)), seg, "ref")
    assert all(r.pixels > 0 and r.note == "" for r in results)
    out = segment_to_array(seg, "ref", volume)
    dice = 2 * np.count_nonzero(out & truth) / (out.sum() + truth.sum())
    assert dice > 0.75, dice
