"""Swin-Unet wiring against the official code (skip taps, decoder drop-path order) and gradient checkpointing
with domain routing (issue 12, items 1 and 2)."""

from __future__ import annotations

import copy

import pytest
import torch

from MLNNetLib.model import CONFIGS, ModelConfig, build_model, domain_norms
from MLNNetLib.model.configs import SKIP_WIRINGS

torch.set_num_threads(1)


def _skips_and_taps(model, x: torch.Tensor) -> tuple[list[torch.Tensor], dict[int, tuple[torch.Tensor, torch.Tensor]]]:
    """(skip half of every decoder concatenation, coarse to fine) and {level: (blocks input, blocks output)}."""
    skips, taps, hooks = [], {}, []
    dims = model.config.stage_dims()
    n = model.config.num_stages
    for j, proj in enumerate(model.skip_proj):
        level = n - 2 - j
        hooks.append(proj.register_forward_pre_hook(
            lambda _m, args, level=level: skips.append(args[0][..., dims[level]:].detach().clone())))
    for level, stage in enumerate(model.encoder):
        hooks.append(stage.blocks.register_forward_hook(
            lambda _m, args, out, level=level: taps.__setitem__(level, (args[0].detach().clone(), out.detach().clone()))))
    with torch.no_grad():
        model(x, torch.tensor([0, 1]))
    for h in hooks:
        h.remove()
    return skips, taps


def test_paper_and_every_preset_use_the_official_skip_wiring() -> None:
    for name, cfg in CONFIGS.items():
        if cfg.arch == "swin_unet":
            assert cfg.skip == "stage_input", name
    assert set(SKIP_WIRINGS) == {"stage_input", "stage_output"}
    with pytest.raises(ValueError, match="skip must be one of"):
        CONFIGS["tiny"].replace(skip="after")
    # a header written before the option existed rebuilds the network it was trained as
    legacy = {k: v for k, v in CONFIGS["tiny"].to_dict().items() if k != "skip"}
    assert ModelConfig.from_dict(legacy).skip == "stage_output"
    assert ModelConfig.from_dict(CONFIGS["tiny"].to_dict()).skip == "stage_input"


def test_official_skips_are_each_levels_tokens_before_its_blocks() -> None:
    """Official Swin-Unet: x_downsample.append(x) before each BasicLayer, i.e. patch embedding at 1/4, then
    the merged tokens that enter the next level's blocks."""
    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2).eval()
    x = torch.rand(2, 1, 64, 64)
    skips, taps = _skips_and_taps(model, x)
    n = model.config.num_stages
    assert len(skips) == n - 1
    for j, skip in enumerate(skips):
        blocks_in, blocks_out = taps[n - 2 - j]
        torch.testing.assert_close(skip, blocks_in)
        assert not torch.allclose(skip, blocks_out)
    with torch.no_grad(), model.domain_context.routing(torch.tensor([0, 1])):
        embedded = model.patch_embed(x)
    torch.testing.assert_close(skips[-1], embedded)  # level 0: the patch embedding's output itself


def test_stage_output_wiring_stays_available_as_a_named_option() -> None:
    torch.manual_seed(0)
    model = build_model(CONFIGS["tiny"].replace(skip="stage_output"), num_domains=2).eval()
    skips, taps = _skips_and_taps(model, torch.rand(2, 1, 64, 64))
    n = model.config.num_stages
    for j, skip in enumerate(skips):
        torch.testing.assert_close(skip, taps[n - 2 - j][1])
    official = build_model("tiny", num_domains=2).eval()
    official.load_state_dict(model.state_dict())  # same parameters, different wiring
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(official(x, torch.tensor([0, 1])), model(x, torch.tensor([0, 1])))


def test_decoder_drop_path_rates_follow_the_encoder_level_in_the_same_order() -> None:
    model = build_model(CONFIGS["tiny"].replace(drop_path_rate=0.3), num_domains=1)
    n = model.config.num_stages

    def rates(stage) -> list[float]:
        return [float(getattr(b.drop_path1, "drop_prob", 0.0)) for b in stage.blocks]

    for j, stage in enumerate(model.decoder):
        enc = rates(model.encoder[n - 2 - j])
        assert rates(stage) == pytest.approx(enc)
        assert enc == sorted(enc) and enc[0] < enc[-1] or enc == [0.0] * len(enc)  # increasing, as in the encoder


def _step(model, x, y, d) -> tuple[float, dict[str, torch.Tensor]]:
    from MLNNetLib.training.losses import compute_loss

    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(11)  # drop path draws the same masks in both runs
    loss = compute_loss("dice_bce", model(x, d), y, d, 2, 20.0)
    opt.zero_grad()
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
    opt.step()
    return float(loss.detach()), grads


@pytest.mark.parametrize("config", ["tiny", "tiny-stem"])
def test_gradient_checkpointing_with_two_domains_equals_a_plain_training_step(config: str) -> None:
    torch.manual_seed(0)
    base = build_model(CONFIGS[config].replace(drop_path_rate=0.2), num_domains=2)
    with torch.no_grad():  # distinct branches, so a routing mistake in the recomputation changes the gradients
        for _, norm in domain_norms(base):
            norm.weight.normal_(1.0, 0.3)
            norm.bias.normal_(0.0, 0.3)
    plain, ckpt = copy.deepcopy(base).train(), copy.deepcopy(base).train()
    ckpt.set_grad_checkpointing(True)
    x = torch.rand(4, 1, 64, 64)
    y = (torch.rand(4, 1, 64, 64) > 0.97).float()
    d = torch.tensor([0, 1, 1, 0])  # mixed, interleaved domains
    loss_a, grads_a = _step(plain, x, y, d)
    loss_b, grads_b = _step(ckpt, x, y, d)
    assert loss_a == pytest.approx(loss_b, rel=1e-6)
    for k in grads_a:
        torch.testing.assert_close(grads_b[k], grads_a[k], rtol=1e-5, atol=1e-7, msg=k)
    for (k, pa), pb in zip(plain.state_dict().items(), ckpt.state_dict().values()):
        torch.testing.assert_close(pb, pa, rtol=1e-5, atol=1e-7, msg=k)
    assert ckpt.domain_context.domain is None  # nothing left routed after backward


def test_training_with_gradient_checkpointing_runs_from_the_command_line(tmp_path) -> None:
    import argparse

    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.cli.train_cmd import add_arguments, config_from_args
    from MLNNetLib.synth import write_dataset
    from MLNNetLib.training import train

    write_dataset("ffdm", 2, seed=1, out=tmp_path / "data", shape=(160, 128), spacing_mm=0.2)
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--config", "tiny",
                         "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "1", "--warmup-steps", "1",
                         "--device", "cpu", "--grad-checkpointing", "--val-whole-every", "0"])
    cfg = config_from_args(args)
    assert cfg.grad_checkpointing and cfg.num_domains == 2
    cfg.val_tiles, cfg.stats_tiles = 2, 2
    ckpt = load_checkpoint(train(cfg))
    assert ckpt.header["training"]["settings"]["grad_checkpointing"] is True
    assert all(torch.isfinite(v).all() for v in ckpt.model.state_dict().values())
