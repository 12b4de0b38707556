"""``train --init PATH`` (issue 12 item 3): a local timm Swin checkpoint initialises the Swin-Unet; nothing is
downloaded, the run header records the file, and a network without Swin layers is refused before any work."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from MLNNetLib.checkpoint import load_checkpoint
from MLNNetLib.cli import main as cli_main
from MLNNetLib.cli.train_cmd import add_arguments, config_from_args
from MLNNetLib.errors import InputError
from MLNNetLib.training import TrainConfig, train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def swin_file(tmp_path_factory) -> Path:
    """A small timm SwinTransformer with the `tiny` config's widths (RGB, ImageNet-style head), saved locally."""
    from timm.models.swin_transformer import SwinTransformer

    torch.manual_seed(7)
    src = SwinTransformer(img_size=64, patch_size=4, in_chans=3, embed_dim=16, depths=(2, 2, 2), num_heads=(1, 2, 4),
                          window_size=4, num_classes=10)
    path = tmp_path_factory.mktemp("swin") / "swin_tiny_local.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    from MLNNetLib.synth import write_dataset

    root = tmp_path_factory.mktemp("init_data")
    write_dataset("ffdm", 2, seed=2, out=root / "ffdm", shape=(160, 128), spacing_mm=0.2)
    return root


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), config="tiny", num_domains=2, epochs=1, steps_per_epoch=1, batch_size=1,
                warmup_steps=1, val_tiles=2, stats_tiles=2, seed=0, device="cpu", lr=0.0, weight_decay=0.0,
                val_whole_every=0)
    base.update(kw)
    return TrainConfig(**base)


def test_init_loads_the_local_swin_weights_into_the_trained_model(swin_file, data_dir, tmp_path) -> None:
    source = load_file(str(swin_file))
    final = train(_cfg(data_dir, tmp_path / "run", init=str(swin_file)))  # lr 0: the weights stay the initial ones
    weights = load_checkpoint(final).model.state_dict()
    for dst, src in [("encoder.1.blocks.0.attn.qkv.weight", "layers.1.blocks.0.attn.qkv.weight"),
                     ("encoder.2.downsample.reduction.weight", "layers.2.downsample.reduction.weight"),
                     ("decoder.0.blocks.1.mlp.fc1.weight", "layers.1.blocks.1.mlp.fc1.weight")]:
        torch.testing.assert_close(weights[dst], source[src])
    for k in range(2):  # the one LayerNorm of the file goes into both domain branches
        torch.testing.assert_close(weights["encoder.0.blocks.0.norm1.weight"][k], source["layers.0.blocks.0.norm1.weight"])
    init = json.loads(final.with_suffix(".json").read_text())["training"]["init"]
    assert init["path"] == str(swin_file) and init["sha256"] == hashlib.sha256(swin_file.read_bytes()).hexdigest()
    assert init["loaded"] > 0 and init["ignored"] == 2  # the classification head
    scratch = load_checkpoint(train(_cfg(data_dir, tmp_path / "scratch"))).model.state_dict()
    assert not torch.allclose(scratch["encoder.1.blocks.0.attn.qkv.weight"], source["layers.1.blocks.0.attn.qkv.weight"])
    assert json.loads((tmp_path / "scratch" / "model.json").read_text())["training"]["init"] is None


def test_init_option_reaches_the_training_config(swin_file) -> None:
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args(["--data", "d", "--out", "o", "--config", "tiny", "--init", str(swin_file)]))
    assert cfg.init == str(swin_file)


def test_init_is_refused_before_any_work_for_a_network_without_swin_layers(swin_file, data_dir, tmp_path, capsys) -> None:
    with pytest.raises(InputError, match="Swin"):
        train(_cfg(data_dir, tmp_path / "pro", config="pro_unext-tiny", arch="pro_unext", init=str(swin_file)))
    assert not (tmp_path / "pro").exists()
    code = cli_main(["train", "--data", str(data_dir), "--out", str(tmp_path / "missing"), "--config", "tiny",
                     "--init", str(tmp_path / "nope.safetensors")])
    assert code == 2 and "nope.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
