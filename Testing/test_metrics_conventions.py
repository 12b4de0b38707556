"""Metric conventions of issue 12 (items 11-13): the paper's ASD under its name, one-to-one lesion matching (one blob
over a cluster is one detection, an all-foreground prediction is no detector), undefined object-level rates where
the reference (or the prediction) has no objects, and every caller aggregating that correctly."""

from __future__ import annotations

import numpy as np
import pytest
from medpy.metric import binary as mb

from MLNNetLib.metrics import cluster_detection, evaluate_masks, lesion_detection

SPACING = (0.1, 0.1)


def _cluster(shape=(80, 80), origin=(20, 20), n=8, step=5) -> np.ndarray:
    """``n`` 2x2-px calcifications ``step`` px apart along a row: one cluster by the seed's rule."""
    m = np.zeros(shape, bool)
    r, c = origin
    for k in range(n):
        m[r:r + 2, c + k * step:c + k * step + 2] = True
    return m


def test_asd_in_tables_is_the_papers_symmetric_distance_and_the_directed_one_keeps_its_name() -> None:
    from MLNNetLib.experiments.evaluation import TABLE_METRICS, ImageScore, markdown_table, summarize

    ref = np.zeros((30, 30), bool)
    ref[10:14, 10:14] = True
    pred = ref.copy()
    pred[10:14, 20:22] = True  # a false positive 6 px away: directed (pred -> ref) and symmetric ASD differ
    r = evaluate_masks(pred, ref, SPACING)
    assert r["asd"] == pytest.approx(mb.assd(pred, ref, SPACING)) and "assd" not in r
    assert r["asd_directed"] == pytest.approx(mb.asd(pred, ref, SPACING))
    assert r["asd"] != pytest.approx(r["asd_directed"])
    table = markdown_table([("m", "t", summarize([ImageScore("a", "t", r, {})]))])
    assert "asd" in TABLE_METRICS and "ASD (mm)" in table and f"{r['asd']:.2f}" in table


def test_one_blob_over_a_cluster_is_one_detection() -> None:
    ref = _cluster()
    blob = np.zeros_like(ref)
    blob[19:23, 19:57] = True  # one region drawn over the whole cluster
    det = lesion_detection(blob, ref, SPACING)
    assert (det.n_ref, det.n_pred, det.found, det.matched) == (8, 1, 1, 1)  # any-overlap counting said 8 of 8
    assert det.sensitivity == pytest.approx(1 / 8) and det.precision == 1.0
    # one calcification split into two predicted fragments: one hit, one false positive
    ref1 = np.zeros((20, 20), bool)
    ref1[5:9, 5:10] = True
    frag = np.zeros_like(ref1)
    frag[5:9, 5:7] = True
    frag[5:9, 8:10] = True
    det = lesion_detection(frag, ref1, SPACING)
    assert (det.n_ref, det.n_pred, det.found) == (1, 2, 1) and det.precision == 0.5


def test_an_all_foreground_prediction_is_not_a_perfect_detector() -> None:
    ref = _cluster()
    ref[60:62, 60:62] = True
    allfg = np.ones_like(ref)
    r = evaluate_masks(allfg, ref, SPACING)
    assert r["dice"] < 0.05
    assert r["lesion_sensitivity"] == 0.0 and r["lesion_precision"] == 0.0  # it was 1.0 and 1.0
    assert r["cluster_sensitivity"] == 0.0 and r["cluster_precision"] is None  # one giant object: no cluster
    # a prediction somewhat larger than each calcification still counts
    from scipy import ndimage

    grown = ndimage.binary_dilation(ref, iterations=1)  # 4x4 around each 2x2, still apart
    r = evaluate_masks(grown, ref, SPACING)
    assert r["lesion_sensitivity"] == 1.0 and r["lesion_precision"] == 1.0


def test_cluster_sensitivity_is_undefined_without_a_reference_cluster_and_means_skip_it() -> None:
    from MLNNetLib.experiments.evaluation import ImageScore, summarize
    from MLNNetLib.experiments.malignancy import _finite_mean

    lonely = np.zeros((80, 80), bool)
    lonely[10:12, 10:12] = True  # one calcification: no cluster in the reference
    r = evaluate_masks(lonely, lonely, SPACING)
    assert r["cluster_sensitivity"] is None and r["cluster_precision"] is None  # was 1.0
    assert r["lesion_sensitivity"] == 1.0
    det = cluster_detection(np.zeros_like(lonely), lonely, SPACING)
    assert det.n_ref == 0 and det.sensitivity is None
    clustered = _cluster()
    half = clustered.copy()
    half[:, 40:] = False  # 4 of 8 calcifications predicted: no predicted cluster
    r2 = evaluate_masks(half, clustered, SPACING)
    assert r2["cluster_sensitivity"] == 0.0 and r2["cluster_precision"] is None
    scores = [ImageScore("a", "d", r, {}), ImageScore("b", "d", r2, {})]
    mean, _ = summarize(scores, keys=("cluster_sensitivity",))["cluster_sensitivity"]
    assert mean == 0.0  # the image without a reference cluster does not count as a perfect 1.0
    assert _finite_mean([r["cluster_sensitivity"], r2["cluster_sensitivity"]]) == 0.0
    pooled = cluster_detection(lonely, lonely, SPACING) + cluster_detection(half, clustered, SPACING)
    assert pooled.sensitivity == 0.0 and pooled.n_ref == 1


def test_evaluation_table_in_the_scene_and_the_cli_carry_the_new_names(tmp_path, capsys) -> None:
    import json

    from MLNNetLib.cli import main
    from MLNNetLib.image import Geometry
    from MLNNetLib.io import write_image
    from MLNNetLib.scene.evaluation import DISTANCE_KEYS, METRIC_ORDER

    assert "asd_directed" in METRIC_ORDER and "asd_directed" in DISTANCE_KEYS and "assd" not in METRIC_ORDER
    ref = np.zeros((40, 40), np.uint8)
    ref[5:7, 5:7] = 1
    p = str(write_image(np.ones_like(ref), Geometry.identity(SPACING), tmp_path / "pred.nrrd"))
    q = str(write_image(ref, Geometry.identity(SPACING), tmp_path / "ref.nrrd"))
    assert main(["evaluate", "--pred", p, "--ref", q]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lesion_sensitivity"] == 0.0 and out["lesion_precision"] == 0.0  # issue 13 item 9
    assert out["cluster_sensitivity"] is None and "asd_directed" in out
