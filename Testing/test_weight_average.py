"""Weight averaging (EMA of the weights): the average is what is shipped, it resumes exactly, bad decays are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from MLNNetLib.errors import InputError
from MLNNetLib.progress import Cancelled, Progress
from MLNNetLib.synth import write_dataset
from MLNNetLib.training import TrainConfig, train
from MLNNetLib.training.recipe.weight_average import WeightAverage


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ema_data")
    write_dataset("ffdm", 4, seed=3, out=root / "ffdm", shape=(320, 272), spacing_mm=0.1)
    return root


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), source_domain="ffdm", config="pro_unext-tiny", arch="pro_unext",
                num_domains=1, augment=False, epochs=2, steps_per_epoch=3, batch_size=2, warmup_steps=1, val_tiles=4,
                stats_tiles=8, seed=5, device="cpu", ema_decay=0.5, val_whole_every=0)
    base.update(kw)
    return TrainConfig(**base)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if not k.startswith("domain_stats")}


def test_the_average_is_the_explicit_ema_of_the_iterates():
    lin = nn.Linear(2, 1, bias=False)
    avg = WeightAverage(lin, decay=0.75, start=1)
    seen = []
    for step, w in enumerate((1.0, 2.0, 4.0, 8.0)):
        with torch.no_grad():
            lin.weight.fill_(w)
        avg.update(lin, step)
        seen.append(float(avg.module.weight.detach()[0, 0]))
    # step 0 (warm-up) follows the weights; step 1 starts the average (a copy); then 0.75 * avg + 0.25 * w
    assert seen == pytest.approx([1.0, 2.0, 0.75 * 2 + 0.25 * 4, 0.75 * (0.75 * 2 + 0.25 * 4) + 0.25 * 8])
    assert avg.updates == 3


@pytest.mark.parametrize("decay", [-0.1, 1.0, 1.5])
def test_a_bad_decay_is_refused_before_anything_is_written(data_dir, tmp_path, decay):
    with pytest.raises(InputError, match="ema_decay"):
        train(_cfg(data_dir, tmp_path / "run", ema_decay=decay))
    assert not (tmp_path / "run").exists()


def test_training_ships_the_average_and_resumes_it_exactly(data_dir, tmp_path):
    straight = train(_cfg(data_dir, tmp_path / "a", epochs=3)).parent
    iterate, average = _weights(straight / "last.safetensors"), _weights(straight / "last_average.safetensors")
    convs = [k for k in iterate if k.endswith(".weight") and iterate[k].ndim == 4]
    assert convs and any(not torch.equal(iterate[k], average[k]) for k in convs)  # the average is not the iterate

    progress = Progress(lambda done, total, message: progress.cancel() if done >= 6 else None)
    with pytest.raises(Cancelled):  # killed at the start of epoch 3, two epochs (5 averaged steps) saved
        train(_cfg(data_dir, tmp_path / "c", epochs=3), progress)
    killed = tmp_path / "c"
    resumed = train(_cfg(data_dir, killed, epochs=3, resume=True)).parent
    again = _weights(resumed / "last_average.safetensors")
    assert all(torch.allclose(average[k], again[k], atol=1e-6) for k in convs)
    assert all(torch.allclose(iterate[k], _weights(resumed / "last.safetensors")[k], atol=1e-6) for k in convs)


def test_the_validated_and_shipped_network_is_the_average(data_dir, tmp_path):
    run = train(_cfg(data_dir, tmp_path / "one", epochs=1)).parent
    average, iterate = _weights(run / "last_average.safetensors"), _weights(run / "last.safetensors")
    for name in ("best.safetensors", "model.safetensors"):
        kept = _weights(run / name)
        convs = [k for k in kept if k.endswith(".weight") and kept[k].ndim == 4]
        assert all(torch.equal(kept[k], average[k]) for k in convs), name
        assert not all(torch.equal(kept[k], iterate[k]) for k in convs), name


def test_without_averaging_nothing_changes(data_dir, tmp_path):
    run = train(_cfg(data_dir, tmp_path / "plain", ema_decay=0.0)).parent
    assert not (run / "last_average.safetensors").exists()


def test_the_cli_passes_the_decay_and_refuses_a_bad_one(data_dir, tmp_path, capsys):
    from MLNNetLib.cli import main as cli_main

    args = ["train", "--data", str(data_dir), "--out", str(tmp_path / "cli"), "--config", "pro_unext-tiny",
            "--arch", "pro_unext", "--num-domains", "1", "--no-augment", "--epochs", "1", "--steps-per-epoch", "2",
            "--batch-size", "2", "--warmup-steps", "1", "--device", "cpu"]
    assert cli_main(args + ["--ema-decay", "1.2"]) != 0
    assert "ema_decay=1.2" in capsys.readouterr().err and not (tmp_path / "cli").exists()
    assert cli_main(args + ["--ema-decay", "0.9"]) == 0
    assert (tmp_path / "cli" / "last_average.safetensors").exists()
