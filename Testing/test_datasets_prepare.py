"""``mlnnet prepare`` on replicas of CBIS-DDSM, INbreast and a pairs folder (real DICOM files), the manifest
schema and ``prepare --check``; every bad input named in issue 10 gets a clear error and leaves nothing behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from MLNNetLib.cli import main
from MLNNetLib.datasets.manifest import check_manifest, load_manifest
from MLNNetLib.errors import InputError
from MLNNetLib.io import read_image, read_mask
from MLNNetLib.labels.points import points_mask_file, read_points

import replicas


def _prepare(capsys, *argv) -> dict:
    code = main(["prepare", *argv, "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cbis(tmp_path_factory):
    root = tmp_path_factory.mktemp("cbis")
    return root, replicas.cbis_replica(root)


def test_cbis_ddsm_manifest_and_label_images_exactly(cbis, tmp_path, capsys):
    root, truth = cbis
    out = tmp_path / "cbis_out"
    summary = _prepare(capsys, "cbis-ddsm", str(root), "--out", str(out))
    assert summary == {"manifest": str(out / "manifest.json"), "cases": 3, "patients": 3,
                       "label_kinds": {"region": 3}, "skipped": 0}
    m = load_manifest(out, deep=True)
    assert m.data["format"] == "mlnnet-manifest" and m.data["schema_version"] == 1 and m.source == "cbis-ddsm"
    by_id = {i["id"]: i for i in m.items}
    assert sorted(by_id) == sorted(truth["labels"])
    a = by_id["Calc-Training_P_00005_RIGHT_CC"]
    assert (a["patient_id"], a["laterality"], a["view"], a["subset"]) == ("P_00005", "R", "CC", "train")
    assert a["pathology"] == "malignant" and a["birads"] == "5" and a["label_kind"] == "region"
    assert [(x["id"], x["pathology"], x["birads"]) for x in a["abnormalities"]] == [("1", "malignant", "5"), ("2", "benign", "3")]
    assert a["abnormalities"][0]["bbox"] == [10, 40, 30, 60] and a["abnormalities"][0]["descriptors"]["calc_type"] == "PLEOMORPHIC"
    assert a["spacing_mm"] == [0.05, 0.05] and a["spacing_source"] == "default"
    assert by_id["Calc-Training_P_00007_LEFT_MLO"]["pathology"] == "benign_without_callback"
    assert by_id["Calc-Test_P_00038_LEFT_CC"]["subset"] == "test"
    for cid, expected in truth["labels"].items():
        image = read_image(by_id[cid]["image"])
        np.testing.assert_array_equal(image.array, truth["images"][cid])  # the full mammogram, not a crop or mask
        label = read_mask(by_id[cid]["label"], like=image)
        np.testing.assert_array_equal(label.array, expected.astype(np.uint8))  # union of the abnormalities' masks
    stored = json.loads((out / "manifest.json").read_text())
    assert not Path(stored["items"][0]["image"]).is_absolute()  # relative paths: the pair of folders can move
    assert not any(p.name.startswith(".prepare-") for p in out.iterdir())


def test_cbis_subset_and_spacing_option(cbis, tmp_path, capsys):
    root, _ = cbis
    summary = _prepare(capsys, "cbis-ddsm", str(root), "--out", str(tmp_path / "t"), "--subset", "test", "--spacing", "0.0435")
    assert summary["cases"] == 1
    item = load_manifest(tmp_path / "t").items[0]
    assert item["spacing_mm"] == [0.0435, 0.0435] and item["spacing_source"] == "option"
    assert read_mask(item["label"], like=read_image(item["image"], default_spacing=0.0435)).array.any()


def test_cbis_row_whose_dicoms_are_absent(cbis, tmp_path, capsys):
    root = tmp_path / "cbis_broken"
    shutil.copytree(cbis[0], root)
    replicas.add_cbis_row_without_dicoms(root)
    out = tmp_path / "out"
    assert main(["prepare", "cbis-ddsm", str(root), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "calc_case_description_train_set.csv line 5" in err and "P_00099" in err
    assert "no folder named Calc-Training_P_00099_LEFT_CC" in err
    assert not out.exists()  # nothing created
    summary = _prepare(capsys, "cbis-ddsm", str(root), "--out", str(out), "--skip-bad")
    assert summary["cases"] == 3 and summary["skipped"] == 1
    skipped = json.loads((out / "manifest.json").read_text())["skipped"]
    assert "P_00099" in skipped[0]["what"] and "no folder named" in skipped[0]["reason"]


def test_cbis_missing_csv_and_existing_manifest_refused(cbis, tmp_path, capsys):
    root, _ = cbis
    assert main(["prepare", "cbis-ddsm", str(root), "--out", str(tmp_path / "o"), "--abnormality", "mass"]) == 2
    assert "mass_case_description_train_set.csv: CBIS-DDSM description CSV not found" in capsys.readouterr().err
    out = tmp_path / "o2"
    _prepare(capsys, "cbis-ddsm", str(root), "--out", str(out), "--subset", "test")
    before = (out / "manifest.json").read_bytes()
    assert main(["prepare", "cbis-ddsm", str(root), "--out", str(out), "--subset", "test"]) == 2
    assert "already exists" in capsys.readouterr().err and (out / "manifest.json").read_bytes() == before


def test_cbis_mask_of_another_size_is_an_error_naming_the_folder(cbis, tmp_path, capsys):
    root = tmp_path / "cbis_small_mask"
    shutil.copytree(cbis[0], root)
    for f in (root / "CBIS-DDSM" / "Calc-Test_P_00038_LEFT_CC_1").rglob("*.dcm"):
        replicas.mg(f, np.zeros((10, 10)))  # neither file has the mammogram's size any more
    assert main(["prepare", "cbis-ddsm", str(root), "--out", str(tmp_path / "o"), "--subset", "test"]) == 2
    err = capsys.readouterr().err
    assert "Calc-Test_P_00038_LEFT_CC_1" in err and "no file of the full mammogram's size 120x90" in err


def test_inbreast_points_contours_clusters(tmp_path, capsys):
    root = tmp_path / "INbreast"
    replicas.inbreast_replica(root)
    out = tmp_path / "inb"
    summary = _prepare(capsys, "inbreast", str(root), "--out", str(out))
    assert summary["cases"] == 1 and summary["skipped"] == 1 and summary["label_kinds"] == {"points": 1}
    m = load_manifest(out, deep=True)
    item = m.items[0]
    assert (item["id"], item["patient_id"], item["laterality"], item["view"]) == ("22678622", "7a3ba2e0f0c2b3f8", "R", "CC")
    assert item["birads"] == "4c" and item["descriptors"] == {"acr_density": "2"}
    assert item["spacing_mm"] == [0.07, 0.07] and item["spacing_source"] == "PixelSpacing"
    np.testing.assert_allclose(read_points(item["label"]), [(y, x) for x, y in replicas.CALC_POINTS_XY], atol=1e-5)
    outline = read_mask(points_mask_file(item["label"]), like=read_image(item["image"])).array
    expected = np.zeros(replicas.SHAPE, np.uint8)
    expected[80:87, 20:27] = 1  # pixel centres inside the contour plus its vertices
    np.testing.assert_array_equal(outline, expected)
    kinds = [(a["type"], a["descriptors"]["name"]) for a in item["abnormalities"]]
    assert kinds == [("calcification", "Calcification")] * 3 + [("cluster", "Cluster"), ("other", "Mass")]
    assert item["abnormalities"][3]["bbox"] == [25, 55, 41, 76]
    skipped = json.loads((out / "manifest.json").read_text())["skipped"]
    assert skipped[0]["what"].endswith("22678700.xml") and "no calcification ROIs (ROIs: Mass)" in skipped[0]["reason"]


def test_inbreast_xml_without_calcification_rois_is_an_error(tmp_path, capsys):
    root = tmp_path / "INbreast"
    replicas.inbreast_replica(root)
    (root / "AllXML" / "22678622.xml").unlink()
    assert main(["prepare", "inbreast", str(root), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "22678700.xml" in err and "no INbreast annotation holds calcification ROIs" in err
    assert not (tmp_path / "o").exists()
    summary = _prepare(capsys, "inbreast", str(root), "--out", str(tmp_path / "neg"), "--negatives")
    assert summary["label_kinds"] == {"calcification": 1}  # kept as a negative with an empty mask


def test_inbreast_broken_plist_named(tmp_path, capsys):
    root = tmp_path / "INbreast"
    replicas.inbreast_replica(root)
    (root / "AllXML" / "22678700.xml").write_text("<plist><dict><key>Images</key></dict></plist>")
    assert main(["prepare", "inbreast", str(root), "--out", str(tmp_path / "o")]) == 2
    assert "22678700.xml: not an INbreast annotation plist" in capsys.readouterr().err


def test_pairs_folder(tmp_path, capsys):
    truth = replicas.pairs_replica(tmp_path / "pairs")
    out = tmp_path / "pairs_out"
    summary = _prepare(capsys, "pairs", str(tmp_path / "pairs"), "--out", str(out), "--patient-regex", r"(P\d+)_")
    assert summary["cases"] == 3 and summary["patients"] == 2 and summary["label_kinds"] == {"calcification": 3}
    m = load_manifest(out, deep=True)
    by_id = {i["id"]: i for i in m.items}
    assert sorted(by_id) == sorted(truth)
    assert by_id["sub__P02_c"]["spacing_mm"] == [0.1, 0.1] and by_id["sub__P02_c"]["spacing_source"] == "header"
    assert by_id["P01_a"]["spacing_source"] == "default"
    for cid, (img, mask) in truth.items():
        image = read_image(by_id[cid]["image"])
        np.testing.assert_array_equal(image.array, img)
        np.testing.assert_array_equal(read_mask(by_id[cid]["label"], like=image).array, mask)


def test_pairs_label_without_image_refused(tmp_path, capsys):
    replicas.pairs_replica(tmp_path / "pairs")
    (tmp_path / "pairs" / "P01_a.png").unlink()
    assert main(["prepare", "pairs", str(tmp_path / "pairs"), "--out", str(tmp_path / "o")]) == 2
    assert "P01_a_mask.png: label without an image" in capsys.readouterr().err


@pytest.fixture
def manifest(tmp_path, capsys) -> Path:
    replicas.pairs_replica(tmp_path / "pairs")
    _prepare(capsys, "pairs", str(tmp_path / "pairs"), "--out", str(tmp_path / "m"), "--patient-regex", r"(P\d+)_")
    return tmp_path / "m" / "manifest.json"


def _edit(path: Path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data["items"])
    path.write_text(json.dumps(data))


def test_check_reports_missing_file_other_size_and_duplicate_ids_case_by_case(manifest, tmp_path, capsys):
    assert main(["prepare", "--check", str(manifest)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["valid"] is True

    def break_it(items):
        items[0]["image"] = "does/not/exist.png"
        items[1]["label"] = items[2]["image"].replace("P02_c.nrrd", "P02_c.nrrd")  # 40x30 ok; replaced below
        items[2]["id"] = items[1]["id"]

    _edit(manifest, break_it)
    import SimpleITK as sitk

    other = tmp_path / "other_size.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((20, 30), np.uint8)), str(other))
    _edit(manifest, lambda items: items[1].update(label=str(other)))
    assert main(["prepare", "--check", str(manifest)]) == 2
    lines = capsys.readouterr().out.strip().splitlines()
    problems = lines[:-1]
    assert any(p.startswith("case P01_a: image") and "is missing" in p for p in problems)
    assert any(p.startswith("case P01_b: label") and "is 20x30 px but image" in p and "40x30 px" in p for p in problems)
    assert any("case P01_b: id used by 2 cases" in p for p in problems)
    assert json.loads(lines[-1])["valid"] is False
    with pytest.raises(InputError, match="invalid manifest"):
        load_manifest(manifest)


def test_schema_violations_are_attributed_to_cases(manifest):
    _edit(manifest, lambda items: (items[0].update(label_kind="blob"), items[1].pop("patient_id")))
    problems = [str(p) for p in check_manifest(manifest)]
    assert any(p.startswith("case P01_a: label_kind") for p in problems), problems
    assert any(p.startswith("case P01_b:") and "patient_id" in p for p in problems), problems


def test_synth_writes_schema_version_1(tmp_path):
    from MLNNetLib.synth import load_manifest as synth_load, write_dataset

    write_dataset("ffdm", 2, 4, tmp_path / "s", shape=(320, 272), spacing_mm=0.1)
    m = load_manifest(tmp_path / "s", deep=True)
    assert m.source == "synth" and all(i["label_kind"] == "calcification" for i in m.items)
    assert m.items[0]["patient_id"] == "synth_4_0000" and m.items[0]["mask"] == m.items[0]["label"]
    assert "calcifications" in m.items[0] and "n_clusters" in m.items[0] and m.items[0]["domain"] == "ffdm"
    legacy = synth_load(tmp_path / "s")
    assert Path(legacy["items"][0]["mask"]).is_file()


def test_relative_source_and_output_paths(tmp_path, capsys, monkeypatch):
    """Typed from a shell: relative paths for the collection and the output folder."""
    monkeypatch.chdir(tmp_path)
    replicas.cbis_replica(tmp_path / "cbis")
    replicas.inbreast_replica(tmp_path / "inb")
    replicas.pairs_replica(tmp_path / "pairs")
    for fmt, src in (("cbis-ddsm", "cbis"), ("inbreast", "inb"), ("pairs", "pairs")):
        _prepare(capsys, fmt, src, "--out", f"out/{src}")
        assert main(["prepare", "--check", f"out/{src}"]) == 0
        capsys.readouterr()
        m = load_manifest(tmp_path / "out" / src, deep=True)
        assert all(Path(i["image"]).is_file() and Path(i["label"]).is_file() for i in m.items)
