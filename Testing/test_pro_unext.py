"""Pro_UNeXt: shapes at odd sizes, gradients, per-domain BatchNorm/LayerNorm routing, configs, checkpoint round
trip, domain statistics of both norm kinds and branch selection."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from MLNNetLib.checkpoint import load_checkpoint, save_checkpoint
from MLNNetLib.errors import InputError
from MLNNetLib.model import (CONFIGS, DomainBatchNorm2d, DomainContext, DomainLayerNorm, ModelConfig, ProUNeXt,
                             ProUNeXtConfig, build_model, config_for_arch, domain_norms, get_config)
from MLNNetLib.model.pro_unext_blocks import shift_tokens
from MLNNetLib.selection import record_domain_statistics, select_branch

torch.set_num_threads(1)


def _randomise_norms(model: nn.Module, seed: int = 0) -> None:
    """Different affine pairs (and BN running statistics) per branch, so routing mistakes change outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, norm in domain_norms(model):
            if isinstance(norm, DomainLayerNorm):
                norm.weight.copy_(1 + 0.5 * torch.randn(norm.weight.shape, generator=g))
                norm.bias.copy_(0.5 * torch.randn(norm.bias.shape, generator=g))
            else:
                for bn in norm.bns:
                    bn.weight.copy_(1 + 0.5 * torch.randn(bn.weight.shape, generator=g))
                    bn.bias.copy_(0.5 * torch.randn(bn.bias.shape, generator=g))
                    bn.running_mean.copy_(0.1 * torch.randn(bn.running_mean.shape, generator=g))
                    bn.running_var.copy_(1 + 0.5 * torch.rand(bn.running_var.shape, generator=g))


@pytest.fixture(scope="module")
def tiny() -> ProUNeXt:
    torch.manual_seed(0)
    model = build_model("pro_unext-tiny", num_domains=2)
    _randomise_norms(model)
    return model.eval()


def test_presets_carry_arch_and_paper_widths() -> None:
    cfg = CONFIGS["pro_unext"]
    assert isinstance(cfg, ProUNeXtConfig) and cfg.arch == "pro_unext" and CONFIGS["small"].arch == "swin_unet"
    assert cfg.channels == (64, 64, 128, 256, 512, 1024, 2048) and cfg.img_size == 512 and cfg.divisor == 64
    assert isinstance(build_model("pro_unext-tiny", 1), ProUNeXt)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg  # header dicts dispatch on their "arch" key
    assert get_config(CONFIGS["small"].to_dict()) == CONFIGS["small"]
    assert config_for_arch("small", "pro_unext") == "pro_unext-small"
    assert config_for_arch("paper", "pro_unext") == "pro_unext"
    assert config_for_arch("pro_unext-tiny", "swin_unet") == "tiny"
    assert config_for_arch("pro_unext-small", "pro_unext") == "pro_unext-small"
    assert config_for_arch("small-stem", "pro_unext") == "pro_unext-small"
    with pytest.raises(InputError, match="pro_unext config, not swin_unet"):
        build_model("pro_unext-tiny", 2, arch="swin_unet")
    with pytest.raises(InputError, match="7 encoder widths"):
        cfg.replace(channels=(8, 8, 8))
    with pytest.raises(InputError, match="unknown keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "depths": [2, 2]})


def test_odd_sizes_are_padded_inside_and_cropped_back(tiny: ProUNeXt) -> None:
    torch.manual_seed(1)
    x = torch.rand(2, 1, 37, 70)
    d = torch.tensor([0, 1])
    with torch.no_grad():
        y = tiny(x, d)
        padded = torch.zeros(2, 1, 64, 128)
        padded[..., :37, :70] = x
        y_ref = tiny(padded, d)[..., :37, :70]
        assert tiny(torch.rand(1, 1, 1, 1), 0).shape == (1, 1, 1, 1)
        assert tiny(torch.rand(1, 1, 64, 64), 1).shape == (1, 1, 64, 64)
    assert y.shape == (2, 1, 37, 70)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    assert tiny.domain_context.domain is None
    with pytest.raises(InputError, match="expects input"):
        tiny(torch.rand(1, 2, 64, 64), 0)
    with pytest.raises(InputError, match="domain labels"):
        tiny(torch.rand(1, 1, 64, 64), 2)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(2)
    model = build_model("pro_unext-tiny", num_domains=2).train()
    x = torch.rand(4, 1, 64, 64)
    loss = model(x, torch.tensor([0, 1, 0, 1])).sigmoid().square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert float(p.grad.abs().sum()) > 0, name


def test_domain_batchnorm_mixed_batch_equals_separate_batches() -> None:
    torch.manual_seed(3)
    ctx = DomainContext()
    bn = DomainBatchNorm2d(5, num_domains=2, context=ctx)
    with torch.no_grad():
        for k, b in enumerate(bn.bns):
            b.weight.copy_(torch.rand(5) + 0.5 + k)
            b.bias.copy_(torch.randn(5))
    x = torch.randn(6, 5, 4, 3) * 2 + 1
    d = torch.tensor([1, 0, 0, 1, 1, 0])
    separate = copy.deepcopy(bn)
    ctx.domain = d
    y = bn.train()(x)  # train mode: batch statistics of each domain group
    for k in (0, 1):
        ref = separate.bns[k].train()(x[d == k])
        torch.testing.assert_close(y[d == k], ref)
        torch.testing.assert_close(bn.bns[k].running_mean, separate.bns[k].running_mean)
        torch.testing.assert_close(bn.bns[k].running_var, separate.bns[k].running_var)
    assert not torch.allclose(bn.bns[0].running_mean, bn.bns[1].running_mean)
    y_eval = bn.eval()(x)  # eval mode: each sample with its own branch's running statistics
    for k in (0, 1):
        torch.testing.assert_close(y_eval[d == k], separate.bns[k].eval()(x[d == k]))
    plain_ctx = DomainContext()
    single = DomainBatchNorm2d(5, num_domains=1, context=plain_ctx).train()
    ref = nn.BatchNorm2d(5).train()
    torch.testing.assert_close(single(x), ref(x))  # K=1 is plain BatchNorm (no context needed)


def test_model_mixed_batch_equals_per_domain_batches_in_train_and_eval_mode(tiny: ProUNeXt) -> None:
    torch.manual_seed(4)
    x = torch.rand(5, 1, 64, 64)
    d = torch.tensor([0, 1, 1, 0, 1])
    for train in (True, False):
        mixed, split = copy.deepcopy(tiny).train(train), copy.deepcopy(tiny).train(train)
        with torch.no_grad():
            y = mixed(x, d)
            for k in (0, 1):
                torch.testing.assert_close(y[d == k], split(x[d == k], k), rtol=1e-4, atol=1e-4)
        if train:  # each branch's running statistics moved as with its own batch
            for (_, a), (_, b) in zip(domain_norms(mixed), domain_norms(split)):
                if isinstance(a, DomainBatchNorm2d):
                    for k in (0, 1):
                        torch.testing.assert_close(a.bns[k].running_mean, b.bns[k].running_mean)
    with torch.no_grad():
        assert (tiny(x[:1], 0) - tiny(x[:1], 1)).abs().max() > 1e-3  # branches really differ


def test_norms_of_both_kinds_are_domain_routed(tiny: ProUNeXt) -> None:
    kinds = {type(m) for _, m in domain_norms(tiny)}
    assert kinds == {DomainBatchNorm2d, DomainLayerNorm}
    assert not any(isinstance(m, (nn.LayerNorm,)) for m in tiny.modules())
    assert all(isinstance(m.context, DomainContext) and m.context is tiny.domain_context for _, m in domain_norms(tiny))
    bns = [m for m in tiny.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 2 * sum(isinstance(m, DomainBatchNorm2d) for m in tiny.modules())


def _stats_batches(seed: int = 5):
    g = torch.Generator().manual_seed(seed)
    for _ in range(2):
        x = 0.2 + 0.5 * torch.rand(4, 1, 64, 64, generator=g)
        yield torch.cat([x, 1 - x]), torch.tensor([0] * 4 + [1] * 4)


def test_statistics_cover_batchnorm_inputs_and_checkpoint_round_trips(tmp_path, tiny: ProUNeXt) -> None:
    stats = record_domain_statistics(tiny, _stats_batches())
    assert set(stats.layers) == set(tiny.norm_names())
    # the micro block's BN input is the first conv's output: check μ of domain 0 by hand
    seen = []
    hook = tiny.micro.conv.register_forward_hook(lambda m, a, out: seen.append(out))
    with torch.no_grad():
        for x, d in _stats_batches():
            tiny(x[d == 0], 0)
    hook.remove()
    feats = torch.cat(seen).double()
    torch.testing.assert_close(stats.mean("micro.norm")[0], feats.mean(dim=(0, 2, 3)), rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(stats.std("micro.norm")[0], feats.std(dim=(0, 2, 3), unbiased=False), rtol=1e-5, atol=1e-7)

    path = save_checkpoint(tmp_path / "pro.safetensors", tiny, {"spacing_mm": [0.1, 0.1]}, stats)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt.model, ProUNeXt) and ckpt.header["arch"] == "pro_unext"
    assert ckpt.header["config"]["arch"] == "pro_unext" and ckpt.model.config == tiny.config
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ckpt.model(x, torch.tensor([0, 1])), tiny(x, torch.tensor([0, 1])))
    for name in stats.layers:
        torch.testing.assert_close(ckpt.stats.layers[name].sum, stats.layers[name].sum)
    wrong = build_model("pro_unext-tiny", num_domains=1)
    with pytest.raises(InputError):
        stats.check_matches(wrong)


def test_select_branch_on_pro_unext(tiny: ProUNeXt) -> None:
    stats = record_domain_statistics(tiny, _stats_batches())
    g = torch.Generator().manual_seed(6)
    tiles = 0.2 + 0.5 * torch.rand(3, 1, 64, 64, generator=g)
    plain = select_branch(tiny, tiles, stats, "cosine")
    inverted = select_branch(tiny, 1 - tiles, stats, "cosine")
    assert len(plain.scores) == 2 and plain.tiles == 3
    assert (plain.branch, inverted.branch) == (0, 1)
    assert select_branch(tiny, tiles, stats, "euclidean").branch == 0
    assert select_branch(tiny, tiles, stats, "union").branch is None


def test_shift_tokens_moves_channel_groups_with_zero_fill() -> None:
    x = torch.arange(1, 1 + 1 * 4 * 6 * 5, dtype=torch.float32).reshape(1, 4, 6, 5)  # NHWC, 5 channel groups
    y = shift_tokens(x, axis=2, groups=5)
    for g, s in enumerate(range(-2, 3)):
        for w in range(6):
            src = w - s
            expected = x[0, :, src, g] if 0 <= src < 6 else torch.zeros(4)
            torch.testing.assert_close(y[0, :, w, g], expected)
    torch.testing.assert_close(shift_tokens(x, axis=1, groups=5)[..., 2], x[..., 2])  # middle group stays


def test_cli_and_ablation_pick_the_pro_unext_config_of_the_same_size() -> None:
    import argparse

    from MLNNetLib.cli import train_cmd
    from MLNNetLib.experiments.profiles import PROFILES
    from MLNNetLib.experiments.study import ABLATION_ROWS
    from MLNNetLib.training import VARIANTS

    parser = argparse.ArgumentParser()
    train_cmd.add_arguments(parser)
    base = ["--data", "d", "--out", "o"]
    cfg = train_cmd.config_from_args(parser.parse_args(base + ["--arch", "pro_unext"]))
    assert (cfg.config, cfg.arch, cfg.num_domains) == ("pro_unext-small", "pro_unext", 2)
    cfg = train_cmd.config_from_args(parser.parse_args(base + ["--variant", "pro_unext", "--config", "paper"]))
    assert (cfg.config, cfg.arch, cfg.num_domains, cfg.augment) == ("pro_unext", "pro_unext", 1, False)
    cfg = train_cmd.config_from_args(parser.parse_args(base + ["--variant", "basenet", "--config", "pro_unext-tiny"]))
    assert (cfg.config, cfg.arch) == ("pro_unext-tiny", "pro_unext")
    cfg = train_cmd.config_from_args(parser.parse_args(
        base + ["--loss", "focal_dice", "--finetune-hd-epochs", "2", "--recipe-augment"]))
    assert (cfg.config, cfg.loss, cfg.finetune_hd_epochs, cfg.recipe_augment) == ("small", "focal_dice", 2, True)
    labels = [r.label for r in ABLATION_ROWS]
    paper = ["Basenet", "Basenet-S", "MLN-net-R", "MLN-net-E", "MLN-net", "MLN-net+"]
    assert [x for x in labels if x in paper] == paper  # the paper's Table 3 rows, in its order
    rows = {r.label: r for r in ABLATION_ROWS}
    assert VARIANTS[rows["Pro_UNeXt"].variant] == {"num_domains": 1, "augment": False, "arch": "pro_unext"}
    assert VARIANTS[rows["Pro_UNeXt-MLN"].variant]["num_domains"] == 2 and rows["Pro_UNeXt-MLN"].selection == "cosine"
    for profile in PROFILES.values():
        assert get_config(config_for_arch(profile.config, "pro_unext")).arch == "pro_unext"


def test_precise_batchnorm_measures_running_statistics_per_domain() -> None:
    from MLNNetLib.model.domain_batchnorm import batchnorms, precise_batchnorm

    torch.manual_seed(7)
    model = build_model("pro_unext-tiny", num_domains=2)
    first = model.micro.norm
    g = torch.Generator().manual_seed(8)
    xs = [torch.rand(4, 1, 64, 64, generator=g) for _ in range(3)]
    batches = [(x, torch.tensor([0, 0, 0, 0])) for x in xs]
    before_other = first.bns[1].running_mean.clone()
    assert precise_batchnorm(model, batches) == 3
    with torch.no_grad():
        conv = torch.cat([model.micro.conv(x) for x in xs])
    torch.testing.assert_close(first.bns[0].running_mean, conv.mean(dim=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(first.bns[1].running_mean, torch.zeros_like(before_other))  # reset, never fed
    assert all(bn.momentum == 0.1 for bn in batchnorms(model)) and model.training
    assert precise_batchnorm(build_model("tiny", num_domains=2), batches) == 0  # Swin-Unet: nothing to do
