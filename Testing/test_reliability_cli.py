"""Issue 13 through the real command line: nothing half-written, nothing silently wrong, every failure named.

One test per item (the number is in the test name); the parametrised bad-input suite is test_bad_inputs.py.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import MLNNetLib
import numpy as np
import pytest

from MLNNetLib.cli import main

from test_segment_cli import checkpoint, phantom, write  # noqa: F401  (checkpoint is a fixture)

ROOT = Path(MLNNetLib.__file__).resolve().parents[1]  # subprocesses run the code under test


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def cli(capfd, *argv: str) -> tuple[int, str, str]:
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse refusals
        rc = exc.code
    out, err = capfd.readouterr()
    return rc, out, err


def refused(rc: int, err: str, *fragments: str) -> bool:
    """Exit 2, a named 'error:' line holding every fragment, no traceback."""
    return rc == 2 and "Traceback" not in err and all(f in err for f in fragments)


@pytest.fixture
def case(tmp_path) -> Path:
    return write(phantom(), tmp_path / "case.nrrd", (0.1, 0.1))


def seg(checkpoint, case, *extra):
    return ["segment", "--no-progress", "--model", str(checkpoint), "--input", str(case), *extra]


def test_item01_probability_in_a_format_that_cannot_hold_floats_is_refused_before_inference(case, checkpoint, capfd):
    out = case.parent / "out.nrrd"
    rc, _, err = cli(capfd, *seg(checkpoint, case, "--output", str(out), "--probability", str(case.parent / "p.jpg")))
    assert refused(rc, err, "p.jpg", "--probability", "lossy JPEG")
    assert "tiles:" not in err  # no inference ran
    rc, _, err = cli(capfd, *seg(checkpoint, case, "--output", str(out), "--probability", str(case.parent / "p.png")))
    assert refused(rc, err, "p.png", "integer pixels only", "not float32")
    assert files(case.parent) == ["case.nrrd"]
    rc, out_json, err = cli(capfd, *seg(checkpoint, case, "--output", str(out), "--probability", str(case.parent / "p.nrrd")))
    assert rc == 0 and files(case.parent) == ["case.nrrd", "out.json", "out.nrrd", "p.nrrd"]


def test_item02_item16_outputs_in_a_read_only_folder_are_refused_before_the_work(case, checkpoint, capfd, make_read_only):
    ro = case.parent / "ro"
    ro.mkdir()
    make_read_only(ro)
    rc, _, err = cli(capfd, *seg(checkpoint, case, "--output", str(case.parent / "m.nrrd"), "--probability", str(ro / "p.nrrd")))
    assert refused(rc, err, str(ro / "p.nrrd"), "--probability", "read-only file system")
    assert "tiles:" not in err
    rc, _, err = cli(capfd, *seg(checkpoint, case, "--output", str(ro / "m.nrrd")))
    assert refused(rc, err, str(ro / "m.nrrd"), "read-only file system")
    mask = write(np.zeros((100, 130), np.uint8), case.parent / "mask.nrrd", (0.1, 0.1))
    rc, _, err = cli(capfd, "quantify", "--image", str(case), "--mask", str(mask), "--out", str(ro / "t.csv"))
    assert refused(rc, err, str(ro / "t.csv"), "--out", "read-only file system")
    assert files(case.parent) == ["case.nrrd", "mask.nrrd", "ro"]


def test_item03_mask_and_summary_land_together_and_a_killed_run_leaves_nothing_under_final_names(case, checkpoint, capfd, monkeypatch):
    out = case.parent / "o" / "m.nrrd"
    # a real kill -9 while writing: the temp file never carries the final name, the next run removes it
    code = ("import os, signal\nfrom MLNNetLib.atomic import atomic_path\nfrom MLNNetLib.outputs import OutputPlan\n"
            f"p = OutputPlan(); p.image({str(out)!r}, 'uint8')\n"
            f"with p:\n    with atomic_path({str(out)!r}) as t:\n        t.write_bytes(b'half')\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == -9 and len(list(out.parent.iterdir())) == 1 and not out.exists()
    # a failure while writing the second output: neither output appears
    import MLNNetLib.atomic as atomic

    real = atomic.write_text

    def failing_write_text(path, text, overwrite=False):
        if str(path).endswith("m.json"):
            raise OSError(28, "No space left on device", str(path))
        return real(path, text, overwrite)

    monkeypatch.setattr("MLNNetLib.cli.segment_cmd.write_text", failing_write_text)
    rc, _, err = cli(capfd, *seg(checkpoint, case, "--output", str(out)))
    assert refused(rc, err, "m.json", "no space left on the device")
    assert files(out.parent) == []  # no mask without its summary, and the killed run's temp file is gone
    monkeypatch.undo()
    rc, summary, _ = cli(capfd, *seg(checkpoint, case, "--output", str(out)))
    assert rc == 0 and files(out.parent) == ["m.json", "m.nrrd"]


def test_item04_item05_an_output_that_is_another_output_or_an_input_is_refused_even_with_overwrite(case, capfd):
    mask = write((phantom() > 1100).astype(np.uint8), case.parent / "m.nrrd", (0.1, 0.1))
    before = mask.read_bytes()
    same = str(case.parent / "same.csv")
    rc, _, err = cli(capfd, "quantify", "--image", str(case), "--mask", str(mask), "--out", same, "--clusters-out", same)
    assert refused(rc, err, "same.csv", "--clusters-out and --out name the same file")
    rc, out, err = cli(capfd, "quantify", "--image", str(case), "--mask", str(mask), "--out", str(mask), "--overwrite")
    assert refused(rc, err, "m.nrrd", "also an input (--mask)", "even with --overwrite")
    rc, out, err = cli(capfd, "quantify", "--image", str(case), "--mask", str(mask), "--out", str(case), "--overwrite")
    assert refused(rc, err, "case.nrrd", "also an input (--image)")
    assert mask.read_bytes() == before and files(case.parent) == ["case.nrrd", "m.nrrd"]
    rc, out, err = cli(capfd, "quantify", "--image", str(case), "--mask", str(mask), "--out", same, "--clusters-out",
                       str(case.parent / "clusters.csv"))
    assert rc == 0 and files(case.parent) == ["case.nrrd", "clusters.csv", "m.nrrd", "same.csv"]


def test_item06_failed_runs_leave_no_new_folder(case, checkpoint, tmp_path, capfd):
    empty_data = tmp_path / "data"
    empty_data.mkdir()
    rc, _, err = cli(capfd, "train", "--data", str(empty_data), "--out", str(tmp_path / "runs" / "t"), "--device", "cpu")
    assert refused(rc, err, "no manifest.json")
    rc, _, err = cli(capfd, "analysis", "--model", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "runs" / "a"))
    assert refused(rc, err, "none.safetensors")
    noise = write(np.random.default_rng(0).normal(20, 5, (100, 130)).clip(0).astype(np.float32), tmp_path / "noise.nrrd", (0.1, 0.1))
    rc, _, err = cli(capfd, *seg(checkpoint, noise, "--output", str(tmp_path / "runs" / "s" / "m.nrrd")))
    assert refused(rc, err, "noise.nrrd", "no breast found")
    assert not (tmp_path / "runs").exists()


def test_item07_an_edited_checkpoint_header_is_refused_by_segment(case, checkpoint, tmp_path, capfd):
    import shutil

    ckpt = tmp_path / "edited.safetensors"
    shutil.copy(checkpoint, ckpt)
    header = json.loads(checkpoint.with_suffix(".json").read_text())
    ckpt.with_suffix(".json").write_text(json.dumps({**header, "spacing_mm": [0.2, 0.2]}))
    rc, _, err = cli(capfd, *seg(ckpt, case))
    assert refused(rc, err, "edited.json", "header was changed", "spacing_mm: [0.1, 0.1] when written, now [0.2, 0.2]")
    assert not (case.parent / "case_calc.nrrd").exists()


def test_item08_an_image_without_a_breast_is_refused_or_segmented_only_when_asked(checkpoint, tmp_path, capfd):
    noise = write(np.random.default_rng(1).normal(20, 5, (100, 130)).clip(0).astype(np.float32), tmp_path / "noise.nrrd", (0.1, 0.1))
    rc, _, err = cli(capfd, *seg(checkpoint, noise))
    assert refused(rc, err, "noise.nrrd", "no breast found", "no spatial structure", "--allow-no-breast")
    assert files(tmp_path) == ["noise.nrrd"]
    rc, out, err = cli(capfd, *seg(checkpoint, noise, "--allow-no-breast"))
    assert rc == 0 and any("no breast found" in d and "anyway" in d for d in json.loads(out)["decisions"])


def test_item10_slice_on_a_2d_image_is_refused(case, capfd):
    mask = write(np.zeros((100, 130), np.uint8), case.parent / "m.nrrd", (0.1, 0.1))
    rc, _, err = cli(capfd, "quantify", "--image", str(case), "--mask", str(mask), "--slice", "5")
    assert refused(rc, err, "case.nrrd", "--slice 5 given, but the image is 2-D")


def _features(path: Path, bad: str | None) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        label = i % 2
        rows.append({"case": f"c{i:02d}", "label": "malignant" if label else "benign",
                     "f1": f"{rng.normal(label, 1):.4f}", "f2": f"{rng.normal(2 * label, 1):.4f}"})
    if bad is not None:
        rows[5]["f2"] = bad
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("bad,shown", [("", "row 7 is blank"), ("n/a", "row 7 is 'n/a'")], ids=["blank", "text"])
def test_item11_one_bad_cell_names_its_column_instead_of_dropping_it(tmp_path, capfd, bad, shown):
    csv_path = _features(tmp_path / "f.csv", bad)
    argv = ["classify", "train", "--features", str(csv_path), "--label-column", "label", "--out", str(tmp_path / "c"),
            "--models", "dt", "--bootstrap", "5"]
    rc, _, err = cli(capfd, *argv)
    assert refused(rc, err, "f.csv", "column 'f2' is numeric but", shown, "--exclude f2")
    assert files(tmp_path) == ["f.csv"]
    _features(csv_path, None)
    rc, out, err = cli(capfd, *argv)
    assert rc == 0 and "2 features" in err and files(tmp_path / "c") == sorted(
        ["feature_importance.png", "metrics.json", "model.skops", "roc.png"])


def test_item15_default_spacing_zero_is_a_usage_error_through_the_real_entry_point(case, checkpoint):
    proc = subprocess.run([sys.executable, "-m", "MLNNetLib", "segment", "--model", str(checkpoint), "--input", str(case),
                           "--default-spacing", "0"], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "argument --default-spacing: must be > 0, got 0" in proc.stderr


def test_item18_an_impossible_synthetic_size_is_refused_up_front_with_the_number(tmp_path, capfd):
    start = time.perf_counter()
    rc, _, err = cli(capfd, "synth", "--domain", "ffdm", "--count", "1", "--out", str(tmp_path / "s"), "--shape", "100000", "100000")
    assert refused(rc, err, "synthesising 100000x100000 px cases needs about 2.0 TiB of memory", "is available", "--shape")
    assert time.perf_counter() - start < 10 and files(tmp_path) == []


def test_item19_benchmark_sizes_and_spacings_are_checked_while_parsing(capfd):
    rc, _, err = cli(capfd, "benchmark", "metrics", "--size", "0")
    assert refused(rc, err, "argument --size: must be >= 32, got 0")
    rc, _, err = cli(capfd, "benchmark", "metrics", "--spacing", "-1", "0")
    assert refused(rc, err, "argument --spacing: must be > 0, got -1")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> tuple[Path, Path]:
    from MLNNetLib.synth import write_dataset
    from MLNNetLib.training import TrainConfig, train

    root = tmp_path_factory.mktemp("resume")
    write_dataset("ffdm", 2, seed=3, out=root / "data", shape=(256, 256), spacing_mm=0.1)
    out = root / "run"
    train(TrainConfig(data=str(root / "data"), out=str(out), config="tiny-stem", epochs=1, steps_per_epoch=1,
                      batch_size=1, warmup_steps=1, val_tiles=2, stats_tiles=2, seed=5, device="cpu"))
    return root / "data", out


def _train_argv(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(data), "--out", str(out), "--epochs", "2", "--steps-per-epoch", "1", "--batch-size", "1",
            "--warmup-steps", "1", "--seed", "5", "--device", "cpu", "--resume", *extra]


def test_item17_resume_with_another_config_or_k_names_what_differs(trained_run, capfd):
    data, out = trained_run
    before = files(out)
    rc, _, err = cli(capfd, *_train_argv(data, out, "--config", "small", "--num-domains", "1"))
    assert refused(rc, err, "cannot --resume", "config: saved 'tiny-stem', requested 'small'",
                   "num_domains: saved 2, requested 1")
    assert "size mismatch" not in err and files(out) == before


def test_item20_a_resumed_run_keeps_the_integer_columns_of_earlier_epochs(trained_run, capfd):
    data, out = trained_run
    first = (out / "metrics.csv").read_text().splitlines()
    assert first[1].startswith("1,1,")
    rc, _, err = cli(capfd, *_train_argv(data, out, "--config", "tiny-stem"))
    assert rc == 0, err[-2000:]
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[1] == first[1] and lines[2].startswith("2,2,")


def test_stale_temp_name_pattern_is_what_the_cleaner_recognises(tmp_path):
    from MLNNetLib.outputs import is_temp_name, temp_path

    assert is_temp_name(temp_path(tmp_path / "a.nii.gz").name) and not is_temp_name(".a.nii.gz")
