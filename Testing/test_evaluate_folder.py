"""``evaluate --pred DIR --ref DIR`` / ``--manifest``: per-case CSV, aggregate with groups, missing cases reported,
undefined metrics kept out of the means, region and point references."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from MLNNetLib.cli import main
from MLNNetLib.metrics.aggregate import format_mean_std, grouped, mean_std, summarise
from MLNNetLib.synth import write_dataset

import replicas

SHAPE = (320, 272)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    write_dataset("ffdm", 3, seed=7, out=root / "ffdm", shape=SHAPE, spacing_mm=0.1)  # 0, 6 and 18 calcifications
    return root / "ffdm"


def _copy_pred(src: Path, dst: Path, change=None) -> None:
    import SimpleITK as sitk

    img = sitk.ReadImage(str(src))
    if change is not None:
        arr = change(sitk.GetArrayFromImage(img))
        new = sitk.GetImageFromArray(arr)
        new.CopyInformation(img)
        img = new
    dst.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(img, str(dst))


def _cases(out: Path) -> dict[str, dict]:
    with (out / "evaluation_cases.csv").open(newline="") as f:
        return {r["case_id"]: r for r in csv.DictReader(f)}


def test_mean_std_excludes_undefined_and_counts_it():
    assert mean_std([1.0, None, 0.0, float("nan")]) == {"mean": 0.5, "std": 0.5, "n": 2, "undefined": 2}
    assert mean_std([None, None]) == {"mean": None, "std": None, "n": 0, "undefined": 2}
    rows = [{"d": "a", "x": 1.0}, {"d": "a", "x": None}, {"d": "b", "x": 0.2}]
    assert summarise(rows, ["x"])["x"]["n"] == 2
    assert grouped(rows, ["x"], ["d"])["d"]["a"] == {"cases": 2, "metrics": {"x": {"mean": 1.0, "std": 0.0, "n": 1, "undefined": 1}}}
    assert format_mean_std(mean_std([0.5, 0.7, None]), percent=True) == "60.0 ± 10.0 (1 undefined)"


def test_folder_against_reference_folder_with_missing_cases(data, tmp_path, capsys):
    items = json.loads((data / "manifest.json").read_text())["items"]
    ids = [i["id"] for i in sorted(items, key=lambda i: -i["n_calcifications"])]  # ids[0], ids[1] have calcifications
    assert items and min(i["n_calcifications"] for i in items if i["id"] in ids[:2]) > 1
    pred = tmp_path / "pred"
    _copy_pred(data / "masks" / f"{ids[0]}.nrrd", pred / f"{ids[0]}_calc.nrrd")  # perfect
    half = {}

    def drop_half(arr):
        labels, n = ndimage.label(arr, structure=np.ones((3, 3)))
        keep = np.isin(labels, np.arange(1, n + 1, 2))
        half["kept"], half["n"] = len(range(1, n + 1, 2)), n
        return (arr * keep).astype(arr.dtype)

    _copy_pred(data / "masks" / f"{ids[1]}.nrrd", pred / f"{ids[1]}_calc.nrrd", drop_half)
    _copy_pred(data / "masks" / f"{ids[1]}.nrrd", pred / "extra_calc.nrrd")  # no reference
    code = main(["evaluate", "--pred", str(pred), "--ref", str(data / "masks")])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and result["evaluated"] == 2 and result["missing_pred"] == 1 and result["missing_ref"] == 1
    rows = _cases(pred)
    assert rows[ids[0]]["dice"] == "1.0" and rows[ids[2]]["status"] == "missing_pred" and rows["extra"]["status"] == "missing_ref"
    assert float(rows[ids[1]]["lesion_sensitivity"]) == pytest.approx(half["kept"] / half["n"])
    assert float(rows[ids[1]]["lesion_precision"]) == 1.0
    summary = json.loads((pred / "evaluation_summary.json").read_text())
    assert summary["missing_pred"] == [ids[2]] and summary["missing_ref"] == ["extra"]
    assert summary["metrics"]["lesion_sensitivity"]["mean"] == pytest.approx((1 + half["kept"] / half["n"]) / 2)
    assert summary["pooled"]["lesions"]["n_ref"] == int(rows[ids[0]]["ref_lesions"]) + int(rows[ids[1]]["ref_lesions"])
    assert main(["evaluate", "--pred", str(pred), "--ref", str(data / "masks")]) == 2  # outputs exist: refused
    assert "already exists" in capsys.readouterr().err


def test_manifest_groups_and_segment_folder_round_trip(data, tmp_path, capsys):
    """segment --input images/ --output DIR, then evaluate --pred DIR --manifest: every case paired by id."""
    ckpt = replicas.tiny_checkpoint(tmp_path / "tiny.safetensors")
    out = tmp_path / "seg"
    assert main(["segment", "--no-progress", "--model", str(ckpt), "--input", str(data / "images"), "--output", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--pred", str(out), "--manifest", str(data), "--out", str(tmp_path / "ev")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["evaluated"] == 3 and result["missing_pred"] == 0 and result["missing_ref"] == 0
    summary = json.loads((tmp_path / "ev" / "evaluation_summary.json").read_text())
    assert set(summary["groups"]["domain"]) == {"ffdm"} and summary["groups"]["domain"]["ffdm"]["cases"] == 3
    assert set(summary["groups"]["pathology"]) <= {"benign", "malignant"} and "label_kind" in summary["groups"]
    rows = _cases(tmp_path / "ev")
    assert all(r["status"] == "ok" and r["domain"] == "ffdm" for r in rows.values())


def test_region_references_scored_at_region_level(tmp_path, capsys):
    root = tmp_path / "cbis"
    truth = replicas.cbis_replica(root)
    assert main(["prepare", "cbis-ddsm", str(root), "--out", str(tmp_path / "m"), "--no-progress"]) == 0
    capsys.readouterr()
    from MLNNetLib.image import Geometry
    from MLNNetLib.io import write_image

    pred = tmp_path / "pred"
    a = "Calc-Training_P_00005_RIGHT_CC"  # two regions: a hit in the first, a spot outside both
    m = np.zeros(replicas.SHAPE, np.uint8)
    m[15, 45] = 1
    m[100, 5] = 1
    write_image(m, Geometry.identity((0.05, 0.05)), pred / f"{a}_calc.nrrd")
    b = "Calc-Training_P_00007_LEFT_MLO"
    write_image(np.zeros(replicas.SHAPE, np.uint8), Geometry.identity((0.05, 0.05)), pred / f"{b}_calc.nrrd")
    assert main(["evaluate", "--pred", str(pred), "--manifest", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    rows = _cases(pred)
    assert rows[a]["region_sensitivity"] == "0.5" and rows[a]["region_precision"] == "0.5" and rows[a]["dice"] == ""
    assert rows[b]["region_sensitivity"] == "0.0" and rows[b]["region_precision"] == ""  # no prediction: undefined
    assert rows["Calc-Test_P_00038_LEFT_CC"]["status"] == "missing_pred"
    summary = json.loads((pred / "evaluation_summary.json").read_text())
    assert summary["metrics"]["region_precision"] == {"mean": 0.5, "std": 0.0, "n": 1, "undefined": 1}
    assert summary["metrics"]["dice"]["n"] == 0 and summary["metrics"]["dice"]["undefined"] == 2
    assert summary["groups"]["pathology"]["malignant"]["cases"] == 1
    assert len(truth["labels"]) == 3


def test_point_references_are_traced_before_scoring(tmp_path, capsys):
    from MLNNetLib.datasets.manifest import write_manifest
    from MLNNetLib.labels.points import write_points
    from MLNNetLib.synth import generate_case
    from MLNNetLib.image import Geometry
    from MLNNetLib.io import write_image

    image, truth, _ = generate_case("ffdm", 3, shape=(384, 320), spacing_mm=0.1)
    img_path = write_image(image.astype(np.float32), Geometry.identity((0.1, 0.1)), tmp_path / "img.nrrd")
    labels, n = ndimage.label(truth, structure=np.ones((3, 3)))
    points = write_points(tmp_path / "img.points.json", ndimage.center_of_mass(truth, labels, range(1, n + 1)))
    write_manifest(tmp_path / "manifest.json", "test", [{"id": "img", "patient_id": "p", "image": str(img_path),
                   "label": str(points), "label_kind": "points", "spacing_mm": [0.1, 0.1], "spacing_source": "header"}])
    write_image(truth.astype(np.uint8), Geometry.identity((0.1, 0.1)), tmp_path / "pred" / "img_calc.nrrd")
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--manifest", str(tmp_path / "manifest.json")]) == 0
    capsys.readouterr()
    row = _cases(tmp_path / "pred")["img"]
    assert row["label_kind"] == "points" and float(row["lesion_sensitivity"]) == 1.0 and float(row["dice"]) > 0.75
