"""`mlnnet evaluate` and `mlnnet benchmark metrics` end to end: real files in, one JSON object out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from medpy.metric import binary as mb

from MLNNetLib.cli import main
from MLNNetLib.image import Geometry
from MLNNetLib.io import write_image
from MLNNetLib.metrics import METRIC_KEYS


def _masks() -> tuple[np.ndarray, np.ndarray]:
    ref = np.zeros((40, 50), np.uint8)
    ref[5:9, 5:9] = 1
    ref[20:23, 30:34] = 1
    ref[30, 10] = 1
    pred = np.zeros_like(ref)
    pred[6:10, 5:9] = 1
    pred[21:23, 31:35] = 1
    pred[35, 45] = 1
    return pred, ref


def _write(tmp_path, name, array, spacing):
    return str(write_image(array, Geometry.identity(spacing), tmp_path / name))


def test_evaluate_prints_one_json_object_equal_to_medpy(tmp_path, capsys):
    pred, ref = _masks()
    spacing = (0.1, 0.07)
    p = _write(tmp_path, "pred.nrrd", pred, spacing)
    r = _write(tmp_path, "ref.nrrd", ref, spacing)
    assert main(["evaluate", "--pred", p, "--ref", r]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    result = json.loads(out[0])
    assert set(METRIC_KEYS) <= set(result)
    assert result["spacing"] == pytest.approx(list(spacing))
    assert result["hd"] == pytest.approx(mb.hd(pred, ref, spacing), abs=1e-6)
    assert result["hd95"] == pytest.approx(mb.hd95(pred, ref, spacing), abs=1e-6)
    assert result["asd"] == pytest.approx(mb.assd(pred, ref, spacing), abs=1e-6)  # the paper's ASD: both surfaces
    assert result["asd_directed"] == pytest.approx(mb.asd(pred, ref, spacing), abs=1e-6)
    assert result["dice"] == pytest.approx(mb.dc(pred, ref))
    assert result["lesion_sensitivity"] == pytest.approx(2 / 3) and result["lesion_precision"] == pytest.approx(2 / 3)
    assert result["empty"] is None and result["cluster_sensitivity"] is None  # no reference cluster: undefined


def test_evaluate_spacing_override_and_no_clusters(tmp_path, capsys):
    pred, ref = _masks()
    p = _write(tmp_path, "pred.nrrd", pred, (1.0, 1.0))
    r = _write(tmp_path, "ref.nrrd", ref, (1.0, 1.0))
    assert main(["evaluate", "--pred", p, "--ref", r, "--spacing", "0.05", "--no-clusters"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["spacing"] == [0.05, 0.05]
    assert result["hd"] == pytest.approx(mb.hd(pred, ref, 0.05), abs=1e-6)
    assert result["cluster_sensitivity"] is None


def test_evaluate_refuses_mismatched_masks(tmp_path, capsys):
    pred, ref = _masks()
    p = _write(tmp_path, "pred.nrrd", pred[:-1], (0.1, 0.1))
    r = _write(tmp_path, "ref.nrrd", ref, (0.1, 0.1))
    assert main(["evaluate", "--pred", p, "--ref", r]) == 2
    err = capsys.readouterr().err
    assert "pred.nrrd" in err
    assert main(["evaluate", "--pred", r, "--ref", r, "--spacing", "0.1", "0.1", "0.1"]) == 2
    assert "--spacing" in capsys.readouterr().err


def test_benchmark_metrics_tiny_outputs_valid_json_with_equal_values(capsys):
    assert main(["benchmark", "metrics", "--size", "256", "--objects", "10", "--repeats", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["benchmark"] == "metrics" and result["size"] == [256, 256]
    assert {"ratio", "target", "meets_target", "ours_seconds", "medpy_seconds"} <= set(result)
    assert result["values_equal"] is True
    for key in ("hd", "hd95", "asd", "assd"):
        assert result["ours"][key] == pytest.approx(result["medpy"][key], abs=1e-6)
    assert result["ref_pixels"] > 0 and result["pred_pixels"] > 0
    assert isinstance(result["meets_target"], bool)
