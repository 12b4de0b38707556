"""``mlnnet segment`` end to end on a tiny saved checkpoint and phantom images written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from MLNNetLib.cli import main
from MLNNetLib.image import Geometry

def phantom(rows: int = 100, cols: int = 130, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:rows, 0:cols]
    inside = ((r - rows / 2) / (rows * 0.45)) ** 2 + (c / (cols * 0.55)) ** 2 < 1
    img = np.where(inside, 900 + 300 * np.sin(r / 6.0) * np.cos(c / 8.0), 50.0) + rng.normal(0, 3, (rows, cols))
    return img.astype(np.float32)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from MLNNetLib.augment import expand_domains
    from MLNNetLib.checkpoint import save_checkpoint
    from MLNNetLib.model import build_model
    from MLNNetLib.preprocess import prepare_image
    from MLNNetLib.selection import record_domain_statistics

    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    img01, breast = prepare_image(phantom(64, 64))
    batches = [(torch.from_numpy(im)[None, None], torch.tensor([d])) for im, d in expand_domains(img01, breast, 2)]
    stats = record_domain_statistics(model, batches)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", model, {"spacing_mm": [0.1, 0.1]}, stats)


def write(array: np.ndarray, path: Path, spacing) -> Path:
    from MLNNetLib.io import write_image

    geometry = Geometry(tuple(reversed([float(s) for s in spacing])), tuple(float(v) for v in range(3, 3 + array.ndim)),
                        tuple(np.eye(array.ndim).ravel().tolist()))
    return write_image(array, geometry, path)


def segment(capsys, *args: str) -> tuple[int, dict | None, str]:
    rc = main(["segment", "--no-progress", *args])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else None), err


def test_segment_writes_mask_summary_and_probability_with_the_input_geometry(tmp_path, checkpoint, capsys):
    src = write(phantom(), tmp_path / "case.nrrd", (0.1, 0.1))
    rc, summary, _ = segment(capsys, "--model", str(checkpoint), "--input", str(src), "--probability", str(tmp_path / "p.nrrd"))
    assert rc == 0
    mask_path = tmp_path / "case_calc.nrrd"
    assert summary["mask"] == str(mask_path) and summary["model"] == str(checkpoint)
    assert json.loads((tmp_path / "case_calc.json").read_text()) == summary
    assert summary["branch"] in (0, 1) and len(summary["scores"]) == 2 and summary["selection"] == "polarity"  # the default
    assert summary["tiles"] > 0 and summary["skipped_tiles"] >= 0 and isinstance(summary["ood"], bool)
    assert any("branch" in d for d in summary["decisions"]) and any("tiles:" in d for d in summary["decisions"])
    mask = sitk.ReadImage(str(mask_path))
    ref = sitk.ReadImage(str(src))
    assert mask.GetSize() == ref.GetSize() and mask.GetSpacing() == ref.GetSpacing() and mask.GetOrigin() == ref.GetOrigin()
    assert mask.GetPixelID() == sitk.sitkUInt8
    values = sitk.GetArrayFromImage(mask)
    assert set(np.unique(values)) <= {0, 1} and int(values.sum()) == summary["foreground_pixels"]
    prob = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "p.nrrd")))
    assert prob.dtype == np.float32 and prob.shape == values.shape
    np.testing.assert_array_equal(values, (prob > 0.5).astype(np.uint8))


def test_segment_refuses_to_overwrite_without_the_flag(tmp_path, checkpoint, capsys):
    src = write(phantom(), tmp_path / "case.nrrd", (0.1, 0.1))
    out = tmp_path / "out" / "m.nrrd"
    args = ["--model", str(checkpoint), "--input", str(src), "--output", str(out), "--selection", "union"]
    rc, first, _ = segment(capsys, *args)
    assert rc == 0 and first["branch"] is None and (tmp_path / "out" / "m.json").is_file()
    before = out.read_bytes()
    rc, _, err = segment(capsys, *args)
    assert rc == 2 and "already exists" in err and out.read_bytes() == before
    rc, again, _ = segment(capsys, *args, "--overwrite", "--branch", "1")
    assert rc == 0 and again["branch"] == 1 and again["selection"] == "fixed"


def test_missing_or_corrupt_checkpoint_is_a_clear_error(tmp_path, checkpoint, capsys):
    src = write(phantom(), tmp_path / "case.nrrd", (0.1, 0.1))
    rc, _, err = segment(capsys, "--model", str(tmp_path / "none.safetensors"), "--input", str(src))
    assert rc == 2 and "none.safetensors" in err and "not found" in err
    bad = tmp_path / "bad.safetensors"
    data = bytearray(checkpoint.read_bytes())
    data[-5] ^= 0xFF
    bad.write_bytes(bytes(data))
    (tmp_path / "bad.json").write_text(checkpoint.with_suffix(".json").read_text())
    rc, _, err = segment(capsys, "--model", str(bad), "--input", str(src))
    assert rc == 2 and "bad.safetensors" in err
    assert not (tmp_path / "case_calc.nrrd").exists()


def test_spacing_far_from_training_is_refused_or_resampled(tmp_path, checkpoint, capsys):
    src = write(phantom(), tmp_path / "coarse.nrrd", (0.2, 0.2))
    rc, _, err = segment(capsys, "--model", str(checkpoint), "--input", str(src), "--spacing-policy", "refuse")
    assert rc == 2 and "coarse.nrrd" in err and "refusing" in err
    assert not (tmp_path / "coarse_calc.nrrd").exists() and not (tmp_path / "coarse_calc.json").exists()
    rc, summary, _ = segment(capsys, "--model", str(checkpoint), "--input", str(src))
    assert rc == 0 and summary["shape"] == [100, 130] and any("resampling" in d for d in summary["decisions"])


def test_small_image_is_padded_and_a_dbt_stack_gives_a_3d_mask(tmp_path, checkpoint, capsys):
    small = write(phantom(30, 40), tmp_path / "small.nrrd", (0.1, 0.1))
    rc, summary, _ = segment(capsys, "--model", str(checkpoint), "--input", str(small))
    assert rc == 0 and summary["shape"] == [30, 40] and any("padded" in d for d in summary["decisions"])
    vol = write(np.stack([phantom(seed=s) for s in range(3)]), tmp_path / "dbt.nrrd", (1.0, 0.1, 0.1))
    rc, summary, _ = segment(capsys, "--model", str(checkpoint), "--input", str(vol), "--mode", "paper")
    assert rc == 0 and summary["shape"] == [3, 100, 130] and summary["tiles"] == 12
    mask = sitk.ReadImage(str(tmp_path / "dbt_calc.nrrd"))
    assert mask.GetSize() == (130, 100, 3) and mask.GetSpacing() == pytest.approx((0.1, 0.1, 1.0))
