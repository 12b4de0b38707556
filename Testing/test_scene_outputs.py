"""Tables, evaluation table and cluster point lists on real slicer-core nodes."""

from __future__ import annotations

import math
import numpy as np
import pytest

from MLNNetLib.image import Geometry, Image
from MLNNetLib.metrics import evaluate_masks
from MLNNetLib.quantify.clusters import find_clusters
from MLNNetLib.scene import (
    add_mask_segment,
    add_volume_from_image,
    cluster_centres,
    dict_table,
    evaluate_segments,
    new_segmentation_node,
    quantify_segment,
    rows_table,
    table_to_rows,
)


def test_rows_table_types_order_and_missing_values(mrml):
    rows = [
        {"label": 1, "area_mm2": 0.25, "shape": "round", "clustered": True},
        {"label": 2, "area_mm2": 1.5, "shape": "linear", "clustered": False, "extra": 7.0},
    ]
    node = rows_table(mrml.scene, rows, "calcifications")
    table = node.GetTable()
    assert [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())] == ["label", "area_mm2", "shape", "clustered", "extra"]
    assert table.GetNumberOfRows() == 2
    back = table_to_rows(node)
    assert back[0]["label"] == 1 and back[1]["area_mm2"] == pytest.approx(1.5) and back[1]["shape"] == "linear"
    assert back[0]["clustered"] == 1 and back[1]["clustered"] == 0
    assert math.isnan(back[0]["extra"]) and back[1]["extra"] == pytest.approx(7.0)


def test_dict_table_of_image_features(mrml):
    node = dict_table(mrml.scene, {"calc_num": 12, "density": 0.123456789, "clu_num": 2}, "features")
    assert table_to_rows(node) == [
        {"name": "calc_num", "value": "12"},
        {"name": "density", "value": "0.123457"},
        {"name": "clu_num", "value": "2"},
    ]


def test_evaluation_table_matches_metrics_in_mm(mrml):
    spacing = (0.1, 0.05)  # rows, cols (mm): anisotropic so a wrong axis order would change HD
    volume = add_volume_from_image(mrml.scene, Image(np.zeros((40, 50), np.float32), Geometry.identity(spacing)), "img")
    ref = np.zeros((40, 50), np.uint8)
    ref[5:9, 5:9] = 1
    ref[20:23, 30:34] = 1
    pred = np.zeros_like(ref)
    pred[6:9, 5:10] = 1  # overlaps the first calcification only
    manual = new_segmentation_node(mrml.scene, volume, "manual")
    ref_id = add_mask_segment(manual, ref, volume, name="reference")
    auto = new_segmentation_node(mrml.scene, volume, "auto")
    add_mask_segment(auto, pred, volume)
    metrics, table = evaluate_segments(manual, "reference", auto, "Microcalcifications (MLN-net)", volume)
    expected = evaluate_masks(pred, ref, spacing)
    for key in ("tpr", "precision", "dice", "hd", "hd95", "asd", "lesion_sensitivity"):
        assert metrics[key] == pytest.approx(expected[key]), key
    assert metrics["lesion_sensitivity"] == pytest.approx(0.5)
    assert metrics["dice"] == pytest.approx(2 * 12 / (28 + 15))
    rows = {r["name"]: r for r in table_to_rows(table)}
    assert list(rows)[:6] == ["tpr", "precision", "dice", "hd", "hd95", "asd"]
    assert rows["hd"]["unit"] == "mm" and rows["dice"]["unit"] == ""
    assert float(rows["hd"]["value"]) == pytest.approx(expected["hd"], rel=1e-5)
    # evaluating reads the segments, it does not change them
    assert manual.GetSegmentation().GetNumberOfSegments() == 1 and auto.GetSegmentation().GetNumberOfSegments() == 1
    assert manual.GetSegmentation().GetNthSegmentID(0) == ref_id


def test_cluster_centres_point_list(mrml):
    geometry = Geometry((0.068, 0.05), (5.0, 7.0), (1.0, 0.0, 0.0, 1.0))
    volume = add_volume_from_image(mrml.scene, Image(np.zeros((60, 80), np.float32), geometry), "img")
    mask = np.zeros((60, 80), np.uint8)
    for r, c in [(10, 10), (10, 14), (14, 10), (14, 14), (12, 18), (18, 12)]:  # six dots close together
        mask[r : r + 2, c : c + 2] = 1
    mask[50:52, 70:72] = 1  # a lone calcification: no cluster
    clusters = find_clusters(mask, (0.05, 0.068))
    assert clusters.n_clusters == 1
    node = cluster_centres(volume, clusters)
    assert node.GetNumberOfControlPoints() == 1
    assert node.GetNthControlPointLabel(0) == "Cluster 1: 6 calcifications"
    pos = np.zeros(3)
    node.GetNthControlPointPosition(0, pos)
    rows, cols = np.nonzero(clusters.cluster_labels == 1)
    centre = (rows.mean(), cols.mean())
    # LPS (5 + 0.068 * col, 7 + 0.05 * row) -> RAS flips x and y
    np.testing.assert_allclose(pos, [-(5 + 0.068 * centre[1]), -(7 + 0.05 * centre[0]), 0.0])


def test_quantify_segment_writes_tables_and_points(mrml):
    spacing = (0.068, 0.068)
    img = np.full((60, 80), 100.0, np.float32)
    mask = np.zeros((60, 80), np.uint8)
    for r, c in [(10, 10), (10, 14), (14, 10), (14, 14), (12, 18), (18, 12)]:
        mask[r : r + 2, c : c + 2] = 1
    mask[50:52, 70:72] = 1
    img[mask > 0] = 200.0
    volume = add_volume_from_image(mrml.scene, Image(img, Geometry.identity(spacing)), "img")
    seg = new_segmentation_node(mrml.scene, volume)
    add_mask_segment(seg, mask, volume, name="calcs")
    out = quantify_segment(volume, seg, "calcs")
    assert out["n_calcifications"] == 7 and out["n_clusters"] == 1
    calc_rows = table_to_rows(mrml.scene.GetNodeByID(out["calcifications"]))
    assert len(calc_rows) == 7
    feature_rows = {r["name"]: r["value"] for r in table_to_rows(mrml.scene.GetNodeByID(out["features_table"]))}
    assert feature_rows["calc_num"] in ("7", "7.0") and feature_rows["clu_num"] in ("1", "1.0")
    points = mrml.scene.GetNodeByID(out["points"])
    assert points.GetNumberOfControlPoints() == 1 and points.GetNthControlPointLabel(0) == "Cluster 1: 6 calcifications"
