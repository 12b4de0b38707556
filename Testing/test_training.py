"""Training: it runs end to end, records statistics, resumes exactly, refuses to clobber, and is reproducible."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from MLNNetLib.checkpoint import load_checkpoint
from MLNNetLib.cli import main as cli_main
from MLNNetLib.synth import write_dataset
from MLNNetLib.training import TrainConfig, train
from MLNNetLib.training.losses import compute_loss, summed_branch_dice

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_data")
    write_dataset("ffdm", 4, seed=3, out=root / "ffdm", shape=(320, 272), spacing_mm=0.1)
    write_dataset("mono1", 1, seed=3, out=root / "mono1", shape=(320, 272), spacing_mm=0.1)
    return root


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), source_domain="ffdm", config="tiny-stem", num_domains=2, epochs=2,
                steps_per_epoch=2, batch_size=2, warmup_steps=2, val_tiles=4, stats_tiles=8, seed=5, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if not k.startswith("domain_stats")}


def test_paper_loss_is_zero_for_a_perfect_prediction_and_half_per_branch_for_none():
    target = torch.zeros(4, 1, 8, 8)
    target[:, :, 2:4, 2:4] = 1
    domain = torch.tensor([0, 0, 1, 1])
    perfect = (target * 2 - 1) * 50  # logits: sigmoid -> exactly the target
    assert float(summed_branch_dice(perfect, target, domain, 2)) == pytest.approx(0, abs=1e-4)
    nothing = torch.full_like(target, -50.0)
    # per branch (2 samples, 128 px, 120 background): fg Dice 0, bg Dice 2*120/(128+120) -> 1 - (0 + bg)/2
    per_branch = 1 - (2 * 120 / (128 + 120)) / 2
    assert float(compute_loss("paper", nothing, target, domain, 2, 20.0)) == pytest.approx(2 * per_branch, abs=1e-5)


def test_training_writes_a_complete_run(data_dir, tmp_path):
    final = train(_cfg(data_dir, tmp_path / "run"))
    run = final.parent
    for name in ("model.safetensors", "model.json", "best.safetensors", "last.safetensors", "metrics.csv", "curves.png"):
        assert (run / name).exists(), name
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(float(r["epoch"])) for r in rows] == [1, 2]
    ckpt = load_checkpoint(final)
    assert ckpt.stats is not None and ckpt.stats.num_domains == 2
    assert all(c > 0 for c in ckpt.stats.domain_counts())
    header = json.loads(final.with_suffix(".json").read_text())
    assert header["spacing_mm"] == pytest.approx([0.1, 0.1])
    assert header["training"]["source_domain"] == "ffdm" and header["training"]["epochs_done"] == 2
    assert set(header["selection"]["ood_thresholds"]) >= {"cosine", "euclidean", "plus"}
    # issue 13 item 12: the OOD limits come from held-out source images, with inference's tile count
    from MLNNetLib.inference.options import InferenceOptions

    calibration = header["selection"]["calibration"]
    assert calibration["held_out"] is True and calibration["images"] >= 1
    assert calibration["tiles_per_image"] == InferenceOptions().selection_tiles


def test_existing_run_is_not_overwritten(data_dir, tmp_path):
    train(_cfg(data_dir, tmp_path / "run", epochs=1))
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="--resume.*--overwrite"):
        train(_cfg(data_dir, tmp_path / "run", epochs=1))
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before


def test_same_seed_same_weights_and_resume_equals_a_straight_run(data_dir, tmp_path):
    straight = train(_cfg(data_dir, tmp_path / "a"))
    again = train(_cfg(data_dir, tmp_path / "b"))
    wa, wb = _weights(straight.parent / "last.safetensors"), _weights(again.parent / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    train(_cfg(data_dir, tmp_path / "c", epochs=1))  # "killed" after epoch 1 ...
    resumed = train(_cfg(data_dir, tmp_path / "c", epochs=2, resume=True))  # ... and continued
    wc = _weights(resumed.parent / "last.safetensors")
    assert all(torch.allclose(wa[k], wc[k], atol=1e-6) for k in wa)
    rows = list(csv.DictReader((resumed.parent / "metrics.csv").open()))
    assert [int(float(r["epoch"])) for r in rows] == [1, 2]


def test_trained_model_selects_the_inverted_branch_for_an_inverted_image(data_dir, tmp_path):
    from MLNNetLib.augment import invert
    from MLNNetLib.image import Image
    from MLNNetLib.inference import segment_image
    from MLNNetLib.io import read_image
    from MLNNetLib.preprocess import prepare_image
    from MLNNetLib.training.data import find_items

    final = train(_cfg(data_dir, tmp_path / "run", epochs=2, steps_per_epoch=4))
    ckpt = load_checkpoint(final)
    for item in find_items(data_dir, "ffdm")[:2]:
        image = read_image(item["image"])
        img01, breast = prepare_image(image.array)
        inverted = Image(invert(img01, breast), image.geometry)  # what MONOCHROME1 display data looks like
        for method in ("cosine", "euclidean", "plus", "standardized"):
            assert segment_image(ckpt, image, selection=method).branch == 0, method
            assert segment_image(ckpt, inverted, selection=method).branch == 1, method


def test_cli_and_train_py_report_bad_data_with_exit_code_2(tmp_path, capsys):
    assert cli_main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing" in capsys.readouterr().err
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--", "--data", str(tmp_path / "missing"),
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "data folder does not exist" in proc.stderr
    assert not (tmp_path / "o").exists()  # the run folder is created only after the data check


@pytest.mark.slow
def test_torchrun_two_cpu_processes_with_gloo(data_dir, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(ROOT / "train.py"),
           "--data", str(data_dir), "--source-domain", "ffdm", "--config", "tiny-stem", "--out", str(out),
           "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "1", "--device", "cpu", "--warmup-steps", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = load_checkpoint(out / "model.safetensors")
    assert ckpt.header["training"]["epochs_done"] == 1
    assert all(torch.isfinite(p.detach()).all() for p in ckpt.model.parameters())
