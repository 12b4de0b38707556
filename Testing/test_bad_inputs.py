"""Bad inputs x commands through the real CLI (issue 13): each case exits 2 with a message naming the file (or
option) and the problem, prints no traceback, and writes nothing (no file, no temp file, no folder).

The cases are data: ``GROUPS`` maps a group name to {case id: Case}. A Case builds its argv from the shared
workspace ``w`` and lists the fragments stderr must hold. To add one, add an entry; a case expected to succeed
(``rc=0``) can judge the JSON on stdout with ``check`` -- e.g. issue 13 item 9 (an all-foreground prediction
must not report lesion precision 1.0) once one-to-one lesion matching lands:
``Case(lambda w: ["evaluate", "--pred", w.all_ones, "--ref", w.mask], (), rc=0, check=lambda r: r["lesion_precision"] < 0.5)``.
A few cases also run through ``python -m MLNNetLib`` in a subprocess (``test_entry_point_sample``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import MLNNetLib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from MLNNetLib.cli import main

from dicom_files import write_dicom
from test_reliability_cli import _features
from test_segment_cli import checkpoint, phantom, write  # noqa: F401  (checkpoint is a fixture)

ROOT = Path(MLNNetLib.__file__).resolve().parents[1]  # subprocesses run the code under test


@dataclass(frozen=True)
class Case:
    argv: Callable[[SimpleNamespace], list[str]]
    expect: tuple[str, ...]  # fragments of stderr (file name, problem); "{name}" = the bad file's name
    rc: int = 2
    check: Callable[[dict], bool] | None = None  # for rc 0: judge the JSON printed on stdout
    read_only: bool = False  # make w.ro really read-only for this case


def seg(w, *extra) -> list[str]:
    return ["segment", "--no-progress", "--model", str(w.ckpt), "--input", str(w.image), *extra]


# ----------------------------------------------------------------------------------- bad files, by role

BAD_IMAGES = {  # file name in w.bad -> what the message must say
    "missing.nrrd": "no such file",
    "empty.nrrd": "file is empty (0 bytes)",
    "text.nrrd": "not a readable image file",
    "truncated.nrrd": "not a readable image file",
    "folder": "folder holds no DICOM",
    "constant.nrrd": "constant image",
    "nan.nrrd": "NaN or infinite",
    "colour.png": "colour (RGB) image",
    "one_pixel.nrrd": "empty or 1-pixel image",
    "four_d.nrrd": "4-D image",
    "zero_spacing.dcm": "PixelSpacing is '0\\0'",
    "lying_rows.dcm": "header and pixel data disagree",
}
IMAGE_READERS = {
    "info": lambda w, p: ["info", p],
    "segment": lambda w, p: ["segment", "--no-progress", "--model", str(w.ckpt), "--input", p],
    "quantify-image": lambda w, p: ["quantify", "--image", p, "--mask", str(w.mask)],
}
BAD_MASKS = {
    "missing.nrrd": "no such file",
    "empty.nrrd": "file is empty (0 bytes)",
    "text.nrrd": "not a readable image file",
    "three_values.nrrd": "not a binary mask: 3 distinct value(s)",
    "probability.nrrd": "not a binary mask",
    "other_shape.nrrd": "does not match image",
    "other_spacing.nrrd": "does not match image",
}
MASK_READERS = {
    "quantify-mask": lambda w, p: ["quantify", "--image", str(w.image), "--mask", p],
    "evaluate-pred": lambda w, p: ["evaluate", "--pred", p, "--ref", str(w.mask)],
    "evaluate-ref": lambda w, p: ["evaluate", "--pred", str(w.mask), "--ref", p],
}
BAD_CHECKPOINTS = {  # file name in w.bad_ckpt (each .safetensors with its .json, except where noted)
    "missing.safetensors": "checkpoint file not found",
    "flipped.safetensors": "sha256 does not match the header",
    "edited.safetensors": "header was changed after the model was saved (spacing_mm",
    "no_header.safetensors": "checkpoint header not found",
    "bad_json.safetensors": "checkpoint header is not valid JSON",
    "other_format.safetensors": "unsupported checkpoint format",
    "an_image.safetensors": "not a readable safetensors file",
}
MODEL_READERS = {
    "segment": lambda w, p: ["segment", "--no-progress", "--model", p, "--input", str(w.image)],
    "analysis": lambda w, p: ["analysis", "--model", p, "--out", str(w.root / "analysis_out"), "--cases", "5"],
}


def _product(files: dict[str, str], readers: dict, folder: str, stem_only: bool = False) -> dict[str, Case]:
    """Every bad file through every reader; the message must name the file (a checkpoint: its .safetensors
    or its .json header, whichever is wrong) and the problem."""
    cases = {}
    for rname, reader in readers.items():
        for fname, problem in files.items():
            named = f"{fname.split('.')[0]}." if stem_only else fname
            cases[f"{rname}-{fname}"] = Case(lambda w, r=reader, f=fname: r(w, str(getattr(w, folder) / f)),
                                             (named, problem))
    return cases


# ------------------------------------------------------------------------------------ bad outputs

OUTPUT_CASES = {
    # segment --output (uint8 mask) and --probability (float32)
    "segment-output-read-only": Case(lambda w: seg(w, "--output", str(w.ro / "m.nrrd")), ("m.nrrd", "read-only file system"), read_only=True),
    "segment-output-in-new-folder-of-read-only": Case(lambda w: seg(w, "--output", str(w.ro / "a" / "b" / "m.nrrd")),
                                                       ("m.nrrd", "read-only file system"), read_only=True),
    "segment-output-parent-is-a-file": Case(lambda w: seg(w, "--output", str(w.existing / "sub" / "m.nrrd")),
                                            ("m.nrrd", "cannot create its folder", "is a file")),
    "segment-output-is-a-folder": Case(lambda w: seg(w, "--output", str(w.folder_nrrd)), ("folder.nrrd", "is a folder")),
    "segment-output-exists": Case(lambda w: seg(w, "--output", str(w.existing)), ("existing.nrrd", "already exists", "--overwrite")),
    "segment-output-is-the-input": Case(lambda w: seg(w, "--output", str(w.image), "--overwrite"),
                                        ("image.nrrd", "also an input (--input)", "even with --overwrite")),
    "segment-output-is-the-model-header": Case(lambda w: seg(w, "--output", str(w.ckpt.with_suffix(".nrrd")), "--overwrite"),
                                               ("tiny.json", "also an input (--model)")),
    "segment-output-csv": Case(lambda w: seg(w, "--output", str(w.root / "m.csv")), ("m.csv", "not an image format")),
    "segment-output-jpeg": Case(lambda w: seg(w, "--output", str(w.root / "m.jpg")), ("m.jpg", "lossy JPEG")),
    "segment-output-two-file": Case(lambda w: seg(w, "--output", str(w.root / "m.mhd")), ("m.mhd", "cannot be written atomically")),
    "segment-probability-png": Case(lambda w: seg(w, "--probability", str(w.root / "p.png")), ("p.png", "integer pixels only")),
    "segment-probability-bmp": Case(lambda w: seg(w, "--probability", str(w.root / "p.bmp")), ("p.bmp", "integer pixels only")),
    "segment-probability-read-only": Case(lambda w: seg(w, "--probability", str(w.ro / "p.nrrd")), ("p.nrrd", "read-only"), read_only=True),
    "segment-probability-is-the-input": Case(lambda w: seg(w, "--probability", str(w.image), "--overwrite"),
                                             ("image.nrrd", "also an input (--input)")),
    "segment-probability-is-the-output": Case(lambda w: seg(w, "--output", str(w.root / "same.nrrd"), "--probability",
                                                            str(w.root / "same.nrrd")), ("same.nrrd", "name the same file")),
    "segment-probability-is-the-model": Case(lambda w: seg(w, "--probability", str(w.ckpt), "--overwrite"),
                                             ("tiny.safetensors", "also an input (--model)")),
    # quantify --out / --clusters-out (CSV tables)
    "quantify-out-read-only": Case(lambda w: ["quantify", "--image", str(w.image), "--mask", str(w.mask), "--out", str(w.ro / "t.csv")],
                                   ("t.csv", "read-only file system"), read_only=True),
    "quantify-out-is-the-mask": Case(lambda w: ["quantify", "--image", str(w.image), "--mask", str(w.mask), "--out", str(w.mask), "--overwrite"],
                                     ("mask.nrrd", "also an input (--mask)")),
    "quantify-out-is-the-image": Case(lambda w: ["quantify", "--image", str(w.image), "--mask", str(w.mask), "--out", str(w.image), "--overwrite"],
                                      ("image.nrrd", "also an input (--image)")),
    "quantify-out-same-as-clusters": Case(lambda w: ["quantify", "--image", str(w.image), "--mask", str(w.mask), "--out",
                                                     str(w.root / "t.csv"), "--clusters-out", str(w.root / "t.csv")],
                                          ("t.csv", "name the same file")),
    "quantify-out-not-csv": Case(lambda w: ["quantify", "--image", str(w.image), "--mask", str(w.mask), "--out", str(w.root / "t.nrrd")],
                                 ("t.nrrd", "CSV table")),
    "quantify-out-exists": Case(lambda w: ["quantify", "--image", str(w.image), "--mask", str(w.mask), "--out", str(w.table)],
                                ("existing.csv", "already exists")),
    "quantify-clusters-out-read-only": Case(lambda w: ["quantify", "--image", str(w.image), "--mask", str(w.mask), "--clusters-out",
                                                       str(w.ro / "c.csv")], ("c.csv", "read-only file system"), read_only=True),
    # classify predict --out, classify train --out
    "classify-predict-out-is-the-features": Case(lambda w: ["classify", "predict", "--model", str(w.classifier), "--features",
                                                            str(w.features), "--out", str(w.features), "--overwrite"],
                                                 ("features.csv", "also an input (--features)")),
    "classify-predict-out-read-only": Case(lambda w: ["classify", "predict", "--model", str(w.classifier), "--features",
                                                      str(w.features), "--out", str(w.ro / "p.csv")], ("p.csv", "read-only"), read_only=True),
    "classify-train-out-read-only": Case(lambda w: ["classify", "train", "--features", str(w.features), "--label-column", "label",
                                                    "--out", str(w.ro / "c")], ("read-only file system",), read_only=True),
    "classify-train-out-is-a-file": Case(lambda w: ["classify", "train", "--features", str(w.features), "--label-column", "label",
                                                    "--out", str(w.table)], ("existing.csv", "is a file")),
    "classify-train-out-exists": Case(lambda w: ["classify", "train", "--features", str(w.features), "--label-column", "label",
                                                 "--out", str(w.classifier.parent)], ("already exists", "--overwrite")),
    # folder outputs: synth, train, analysis
    "synth-out-read-only": Case(lambda w: ["synth", "--domain", "ffdm", "--count", "1", "--out", str(w.ro / "s")],
                                ("read-only file system",), read_only=True),
    "synth-out-is-a-file": Case(lambda w: ["synth", "--domain", "ffdm", "--count", "1", "--out", str(w.table)], ("existing.csv", "is a file")),
    "train-out-read-only": Case(lambda w: ["train", "--data", str(w.data), "--out", str(w.ro / "t"), "--device", "cpu"],
                                ("read-only file system",), read_only=True),
    "train-out-is-a-file": Case(lambda w: ["train", "--data", str(w.data), "--out", str(w.table), "--device", "cpu"], ("existing.csv", "is a file")),
    "train-out-is-the-data": Case(lambda w: ["train", "--data", str(w.data), "--out", str(w.data), "--device", "cpu"],
                                  ("data", "also an input")),
    "analysis-out-read-only": Case(lambda w: ["analysis", "--model", str(w.ckpt), "--out", str(w.ro / "a")], ("read-only file system",),
                                   read_only=True),
    "analysis-out-is-a-file": Case(lambda w: ["analysis", "--model", str(w.ckpt), "--out", str(w.table)], ("existing.csv", "is a file")),
}

# ------------------------------------------------------------------------------------ bad values

VALUE_CASES = {
    "segment-default-spacing-zero": Case(lambda w: seg(w, "--default-spacing", "0"), ("--default-spacing", "must be > 0")),
    "segment-default-spacing-negative": Case(lambda w: seg(w, "--default-spacing", "-0.1"), ("--default-spacing", "must be > 0")),
    "segment-default-spacing-nan": Case(lambda w: seg(w, "--default-spacing", "nan"), ("--default-spacing", "finite number")),
    "segment-default-spacing-text": Case(lambda w: seg(w, "--default-spacing", "abc"), ("--default-spacing", "a number is needed")),
    "segment-overlap-one-and-a-half": Case(lambda w: seg(w, "--overlap", "1.5"), ("overlap must be in [0, 1)",)),
    "segment-threshold-above-one": Case(lambda w: seg(w, "--threshold", "1.5"), ("threshold must be in [0, 1)",)),
    "segment-tile-three": Case(lambda w: seg(w, "--tile", "3"), ("tile must be >= 8",)),
    "segment-batch-zero": Case(lambda w: seg(w, "--batch-size", "0"), ("batch_size must be >= 1",)),
    "segment-roi-outside": Case(lambda w: seg(w, "--roi", "0", "0", "500", "500"), ("image.nrrd", "outside the image")),
    "segment-branch-absent": Case(lambda w: seg(w, "--branch", "5"), ("branch 5 does not exist",)),
    "segment-device-absent": Case(lambda w: seg(w, "--device", "nodevice"), ("nodevice",)),
    "segment-no-breast": Case(lambda w: seg(w, "--input", str(w.noise)), ("noise.nrrd", "no breast found")),
    "info-default-spacing-zero": Case(lambda w: ["info", str(w.image), "--default-spacing", "0"], ("--default-spacing must be positive",)),
    "quantify-slice-on-2d": Case(lambda w: ["quantify", "--image", str(w.image), "--mask", str(w.mask), "--slice", "5"],
                                 ("image.nrrd", "--slice 5 given, but the image is 2-D")),
    "evaluate-spacing-negative": Case(lambda w: ["evaluate", "--pred", str(w.mask), "--ref", str(w.mask), "--spacing", "-1"],
                                      ("--spacing", "must be > 0")),
    "evaluate-spacing-three-for-2d": Case(lambda w: ["evaluate", "--pred", str(w.mask), "--ref", str(w.mask), "--spacing", "1", "1", "1"],
                                          ("--spacing needs 1 or 2 values",)),
    "synth-shape-huge": Case(lambda w: ["synth", "--domain", "ffdm", "--count", "1", "--out", str(w.root / "s"), "--shape", "100000", "100000"],
                             ("100000x100000", "of memory", "--shape")),
    "synth-count-zero": Case(lambda w: ["synth", "--domain", "ffdm", "--count", "0", "--out", str(w.root / "s")], ("--count", "must be >= 1")),
    "synth-spacing-five": Case(lambda w: ["synth", "--domain", "ffdm", "--count", "1", "--out", str(w.root / "s"), "--spacing", "5"],
                               ("spacing 5.0 mm is outside",)),
    "synth-shape-tiny": Case(lambda w: ["synth", "--domain", "ffdm", "--count", "1", "--out", str(w.root / "s"), "--shape", "10", "10"],
                             ("too small",)),
    "benchmark-metrics-size-zero": Case(lambda w: ["benchmark", "metrics", "--size", "0"], ("--size", "must be >= 32")),
    "benchmark-metrics-spacing-negative": Case(lambda w: ["benchmark", "metrics", "--spacing", "-1", "0"], ("--spacing", "must be > 0")),
    "benchmark-metrics-objects-zero": Case(lambda w: ["benchmark", "metrics", "--objects", "0"], ("--objects", "must be >= 1")),
    "train-data-missing": Case(lambda w: ["train", "--data", str(w.root / "nodata"), "--out", str(w.root / "t"), "--device", "cpu"],
                               ("nodata", "data folder does not exist")),
    "train-data-without-manifest": Case(lambda w: ["train", "--data", str(w.bad), "--out", str(w.root / "t"), "--device", "cpu"],
                                        ("no manifest.json",)),
    "train-source-domain-absent": Case(lambda w: ["train", "--data", str(w.data), "--source-domain", "dbt", "--out", str(w.root / "t"),
                                                  "--device", "cpu"], ("no images of domain 'dbt'",)),
    "train-three-domains": Case(lambda w: ["train", "--data", str(w.data), "--num-domains", "3", "--out", str(w.root / "t"),
                                           "--device", "cpu"], ("num_domains=3",)),
    "classify-train-blank-cell": Case(lambda w: ["classify", "train", "--features", str(w.blank_cell), "--label-column", "label",
                                                 "--out", str(w.root / "c")], ("blank.csv", "column 'f2' is numeric but row 7 is blank")),
    "classify-train-text-cell": Case(lambda w: ["classify", "train", "--features", str(w.text_cell), "--label-column", "label",
                                                "--out", str(w.root / "c")], ("text.csv", "row 7 is 'n/a'")),
    "classify-train-no-label-column": Case(lambda w: ["classify", "train", "--features", str(w.features), "--label-column", "kind",
                                                      "--out", str(w.root / "c")], ("features.csv", "no column 'kind'")),
    "classify-train-one-class": Case(lambda w: ["classify", "train", "--features", str(w.one_class), "--label-column", "label",
                                                "--out", str(w.root / "c")], ("one_class.csv", "needs exactly 2 classes")),
    "classify-train-features-missing": Case(lambda w: ["classify", "train", "--features", str(w.root / "none.csv"), "--label-column",
                                                       "label", "--out", str(w.root / "c")], ("none.csv", "not found")),
    "classify-predict-missing-column": Case(lambda w: ["classify", "predict", "--model", str(w.classifier), "--features", str(w.one_class_no_f2)],
                                            ("no_f2.csv", "missing feature column", "f2")),
    "classify-predict-model-not-skops": Case(lambda w: ["classify", "predict", "--model", str(w.table), "--features", str(w.features)],
                                             ("existing.csv",)),
}

GROUPS: dict[str, dict[str, Case]] = {
    "images": _product(BAD_IMAGES, IMAGE_READERS, "bad"),
    "masks": _product(BAD_MASKS, MASK_READERS, "bad_masks"),
    "checkpoints": _product(BAD_CHECKPOINTS, MODEL_READERS, "bad_ckpt", stem_only=True),
    "outputs": OUTPUT_CASES,
    "values": VALUE_CASES,
}
ALL = [(f"{g}/{cid}", case) for g, cases in GROUPS.items() for cid, case in cases.items()]


# ------------------------------------------------------------------------------------ the workspace

def _nrrd(array: np.ndarray, path: Path, spacing=0.1) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((spacing,) * array.ndim)
    sitk.WriteImage(image, str(path), True)
    return path


def _bad_images(folder: Path, good: Path) -> None:
    folder.mkdir()
    (folder / "empty.nrrd").write_bytes(b"")
    (folder / "text.nrrd").write_text("this is not an image\n")
    (folder / "truncated.nrrd").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (folder / "folder").mkdir()
    _nrrd(np.full((100, 130), 7.0, np.float32), folder / "constant.nrrd")
    nan = phantom()
    nan[10, 10] = np.nan
    _nrrd(nan, folder / "nan.nrrd")
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[..., 0] = 200
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(folder / "colour.png"))
    _nrrd(np.ones((1, 1), np.float32), folder / "one_pixel.nrrd")
    sitk.WriteImage(sitk.JoinSeries([sitk.GetImageFromArray(np.random.default_rng(0).random((3, 8, 8)).astype(np.float32))] * 2),
                    str(folder / "four_d.nrrd"))
    write_dicom(folder / "zero_spacing.dcm", (phantom() * 2).astype(np.uint16), PixelSpacing=["0", "0"])
    path = write_dicom(folder / "lying_rows.dcm", (phantom() * 2).astype(np.uint16), PixelSpacing=[0.1, 0.1])
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = 65535, 65535
    ds.save_as(path)


def _bad_masks(folder: Path, ref: np.ndarray) -> None:
    folder.mkdir()
    (folder / "empty.nrrd").write_bytes(b"")
    (folder / "text.nrrd").write_text("no mask here\n")
    three = ref.astype(np.uint8)
    three[:5, :5] = 2
    _nrrd(three, folder / "three_values.nrrd")
    _nrrd(np.random.default_rng(0).random(ref.shape).astype(np.float32), folder / "probability.nrrd")
    _nrrd(np.zeros((60, 70), np.uint8), folder / "other_shape.nrrd")
    _nrrd(ref.astype(np.uint8), folder / "other_spacing.nrrd", spacing=0.2)


def _bad_checkpoints(folder: Path, good: Path, image: Path) -> None:
    folder.mkdir()
    header = json.loads(good.with_suffix(".json").read_text())

    def copy(name: str) -> Path:
        dst = folder / name
        shutil.copy(good, dst)
        shutil.copy(good.with_suffix(".json"), dst.with_suffix(".json"))
        return dst

    data = bytearray(copy("flipped.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (folder / "flipped.safetensors").write_bytes(bytes(data))
    copy("edited.safetensors").with_suffix(".json").write_text(json.dumps({**header, "spacing_mm": [0.2, 0.2]}))
    copy("no_header.safetensors").with_suffix(".json").unlink()
    copy("bad_json.safetensors").with_suffix(".json").write_text("{ not json")
    copy("other_format.safetensors").with_suffix(".json").write_text(json.dumps({**header, "format": "someone-else/9"}))
    dst = copy("an_image.safetensors")
    dst.write_bytes(image.read_bytes())
    dst.with_suffix(".json").write_text(json.dumps({**header, "sha256": __import__("hashlib").sha256(dst.read_bytes()).hexdigest()}))


@pytest.fixture(scope="module")
def w(tmp_path_factory, checkpoint) -> SimpleNamespace:
    from MLNNetLib.classify import train_classifiers
    from MLNNetLib.synth import write_dataset

    root = tmp_path_factory.mktemp("bad_inputs")
    ns = SimpleNamespace(root=root)
    ns.ckpt = root / "model" / "tiny.safetensors"
    ns.ckpt.parent.mkdir()
    shutil.copy(checkpoint, ns.ckpt)
    shutil.copy(checkpoint.with_suffix(".json"), ns.ckpt.with_suffix(".json"))
    ns.image = write(phantom(), root / "image.nrrd", (0.1, 0.1))
    ref = phantom() > 1150
    ns.mask = write(ref.astype(np.uint8), root / "mask.nrrd", (0.1, 0.1))
    ns.noise = write(np.random.default_rng(2).normal(20, 5, (100, 130)).clip(0).astype(np.float32), root / "noise.nrrd", (0.1, 0.1))
    ns.existing = write(np.zeros((100, 130), np.uint8), root / "existing.nrrd", (0.1, 0.1))
    ns.folder_nrrd = root / "folder.nrrd"
    ns.folder_nrrd.mkdir()
    ns.table = root / "existing.csv"
    ns.table.write_text("a,b\n1,2\n")
    ns.bad, ns.bad_masks, ns.bad_ckpt = root / "bad", root / "bad_masks", root / "bad_ckpt"
    _bad_images(ns.bad, ns.image)
    _bad_masks(ns.bad_masks, ref)
    _bad_checkpoints(ns.bad_ckpt, ns.ckpt, ns.image)
    ns.features = _features(root / "features.csv", None)
    ns.blank_cell = _features(root / "blank.csv", "")
    ns.text_cell = _features(root / "text.csv", "n/a")
    lines = ns.features.read_text().splitlines()
    (root / "one_class.csv").write_text("\n".join([lines[0]] + [ln.replace("malignant", "benign") for ln in lines[1:]]) + "\n")
    ns.one_class = root / "one_class.csv"
    (root / "no_f2.csv").write_text("\n".join(",".join(ln.split(",")[:3]) for ln in lines) + "\n")
    ns.one_class_no_f2 = root / "no_f2.csv"
    train_classifiers(ns.features, "label", root / "classifier", models=["dt"], n_boot=5)
    ns.classifier = root / "classifier" / "model.skops"
    write_dataset("ffdm", 1, seed=1, out=root / "data", shape=(256, 256), spacing_mm=0.1)
    ns.data = root / "data"
    ns.ro = root / "ro"
    ns.ro.mkdir()
    return ns


def snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = ()
        for f in filenames:
            st = os.stat(os.path.join(dirpath, f))
            out[os.path.relpath(os.path.join(dirpath, f), root)] = (st.st_size, st.st_mtime_ns)
    return out


def run_in_process(argv: list[str], capfd) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse refusals exit 2 with a usage line
        rc = exc.code
    out, err = capfd.readouterr()
    return rc, out, err


@pytest.mark.parametrize("case", [c for _, c in ALL], ids=[i for i, _ in ALL])
def test_bad_input(case: Case, w, capfd, make_read_only):
    if case.read_only:
        make_read_only(w.ro)
    argv = case.argv(w)
    before = snapshot(w.root)
    rc, out, err = run_in_process(argv, capfd)
    assert rc == case.rc, f"exit {rc}: {err[-1500:]}"
    assert "Traceback" not in err, err[-3000:]
    if case.rc == 2:
        line = next((ln for ln in err.splitlines() if "error:" in ln), "")
        for fragment in case.expect:
            assert fragment in err, f"{fragment!r} not in: {line or err[-800:]}"
    if case.check is not None:
        assert case.check(json.loads(out))
    assert snapshot(w.root) == before, "the failed run wrote or removed something"


ENTRY_POINT_SAMPLE = ["images/segment-lying_rows.dcm", "outputs/quantify-out-is-the-mask", "values/synth-shape-huge",
                      "values/benchmark-metrics-spacing-negative", "checkpoints/segment-edited.safetensors"]


@pytest.mark.parametrize("name", ENTRY_POINT_SAMPLE)
def test_entry_point_sample(name, w):
    """The same cases through ``python -m MLNNetLib`` in a fresh process (the real entry point)."""
    case = dict(ALL)[name]
    before = snapshot(w.root)
    proc = subprocess.run([sys.executable, "-m", "MLNNetLib", *case.argv(w)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert all(f in proc.stderr for f in case.expect), proc.stderr[-1500:]
    assert snapshot(w.root) == before


def test_suite_size():
    """The suite's size is part of the issue's report: keep it visible (and growing)."""
    sizes = {g: len(c) for g, c in GROUPS.items()}
    assert sum(sizes.values()) == len(ALL) >= 140, sizes
