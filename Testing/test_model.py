"""MultiLN Swin-Unet: shapes, gradients, per-sample domain routing, K=1 == plain LayerNorm, parameter counts."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from MLNNetLib.errors import InputError
from MLNNetLib.model import (CONFIGS, DomainLayerNorm, ModelConfig, build_model, count_parameters, domain_norms,
                             norm_parameter_count)

torch.set_num_threads(1)


def _randomise_norms(model: nn.Module, seed: int = 0) -> None:
    """Make every branch's affine pair different so routing mistakes change the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, norm in domain_norms(model):
            norm.weight.copy_(1 + 0.5 * torch.randn(norm.weight.shape, generator=g))
            norm.bias.copy_(0.5 * torch.randn(norm.bias.shape, generator=g))


def _replace_with_layernorm(model: nn.Module) -> nn.Module:
    """A copy of a K=1 model whose DomainLayerNorms are torch's nn.LayerNorm with the same weights."""
    plain = copy.deepcopy(model)
    for name, norm in domain_norms(plain):
        parent_name, _, attr = name.rpartition(".")
        parent = plain.get_submodule(parent_name) if parent_name else plain
        ln = nn.LayerNorm(norm.dim, eps=norm.eps)
        with torch.no_grad():
            ln.weight.copy_(norm.weight[0])
            ln.bias.copy_(norm.bias[0])
        setattr(parent, attr, ln)
    assert not domain_norms(plain)
    return plain


@pytest.mark.parametrize("name", ["tiny", "tiny-stem"])
def test_shapes_and_gradients_reach_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, num_domains=2)
    x = torch.rand(2, 1, 64, 64)
    out = model(x, torch.tensor([0, 1]))
    assert out.shape == (2, 1, 64, 64) and out.dtype == torch.float32
    out.square().mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
    norm = model.patch_embed.norm
    assert norm.weight.grad[0].abs().sum() > 0 and norm.weight.grad[1].abs().sum() > 0


def test_only_the_routed_branch_gets_gradient() -> None:
    torch.manual_seed(0)
    model = build_model("tiny", num_domains=3)
    model(torch.rand(2, 1, 64, 64), torch.tensor([2, 2])).mean().backward()
    for name, norm in domain_norms(model):
        assert norm.weight.grad[:2].abs().max() == 0, name
        assert norm.bias.grad[:2].abs().max() == 0, name
    assert model.final_expand.norm.weight.grad[2].abs().sum() > 0


@pytest.mark.parametrize("name", ["tiny", "tiny-stem"])
def test_mixed_batch_equals_separate_batches(name: str) -> None:
    torch.manual_seed(1)
    model = build_model(name, num_domains=3).eval()
    _randomise_norms(model)
    x = torch.rand(4, 1, 64, 64)
    d = torch.tensor([2, 0, 1, 0])
    with torch.no_grad():
        mixed = model(x, d)
        separate = torch.cat([model(x[i:i + 1], d[i:i + 1]) for i in range(4)])
        other = model(x, torch.tensor([0, 0, 0, 0]))
    assert torch.allclose(mixed, separate, atol=1e-5, rtol=0)
    # routing matters: sample 0 with domain 2 differs from the same sample with domain 0
    assert (mixed[0] - other[0]).abs().max() > 1e-2
    assert torch.allclose(mixed[1], other[1], atol=1e-5, rtol=0)


def test_k1_is_exactly_a_plain_layernorm_network() -> None:
    torch.manual_seed(2)
    model = build_model("tiny-stem", num_domains=1).eval()
    _randomise_norms(model)
    plain = _replace_with_layernorm(model).eval()
    x = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        a = model(x, torch.zeros(3, dtype=torch.long))
        b = plain(x, torch.zeros(3, dtype=torch.long))
    assert torch.equal(a, b)


def test_every_layernorm_is_a_domain_norm() -> None:
    model = build_model("tiny-stem", num_domains=2)
    assert not [n for n, m in model.named_modules() if isinstance(m, nn.LayerNorm)]
    names = [n for n, _ in domain_norms(model)]
    cfg = CONFIGS["tiny-stem"]
    n = cfg.num_stages
    # patch embed + 2 per encoder/decoder block + merges + bottleneck + expands + decoder norm + x4 + stem/fuse
    expected = 1 + 2 * sum(cfg.depths) + (n - 1) + 1 + (n - 1) + 2 * sum(cfg.depths[:-1]) + 1 + 1 + 3
    assert len(names) == expected
    for part in ("patch_embed.norm", "encoder.1.downsample.norm", "encoder.0.blocks.0.norm1",
                 "encoder.0.blocks.1.norm2", "bottleneck_norm", "expand.0.norm", "decoder_norm",
                 "final_expand.norm", "stem.0.norm", "fuse.norm"):
        assert part in names, part


@pytest.mark.parametrize("name", ["tiny", "tiny-stem", "small"])
def test_extra_branch_adds_only_layernorm_parameters(name: str) -> None:
    m1, m2, m3 = (build_model(name, num_domains=k) for k in (1, 2, 3))
    ln1 = norm_parameter_count(m1)
    assert count_parameters(m2) - count_parameters(m1) == ln1
    assert count_parameters(m3) - count_parameters(m1) == 2 * ln1
    non_norm = lambda m: {k: v.shape for k, v in m.state_dict().items() if "norm" not in k}  # noqa: E731
    assert non_norm(m1) == non_norm(m3)


def test_small_config_parameter_count_is_small() -> None:
    n = count_parameters(build_model("small", num_domains=2))
    assert 1_000_000 < n < 6_000_000


def test_input_checks_name_the_problem() -> None:
    model = build_model("tiny", num_domains=2)
    with pytest.raises(InputError, match=r"\(B, 1, 64, 64\)"):
        model(torch.rand(1, 1, 32, 32), torch.tensor([0]))
    with pytest.raises(InputError, match="0..1"):
        model(torch.rand(1, 1, 64, 64), torch.tensor([2]))
    with pytest.raises(InputError, match="shape"):
        model(torch.rand(2, 1, 64, 64), torch.tensor([0]))
    with pytest.raises(InputError, match="floating"):
        model(torch.ones(1, 1, 64, 64, dtype=torch.uint8), torch.tensor([0]))
    out_int = model.eval()(torch.full((1, 1, 64, 64), 0.5), 1)
    out_tensor = model(torch.full((1, 1, 64, 64), 0.5), torch.tensor([1]))
    assert torch.equal(out_int, out_tensor)


def test_norm_outside_forward_refuses_without_domains() -> None:
    model = build_model("tiny", num_domains=2)
    with pytest.raises(RuntimeError, match="domain"):
        model.patch_embed.norm(torch.rand(1, 4, 4, 16))
    assert model.domain_context.domain is None


def test_config_round_trip_and_validation() -> None:
    cfg = CONFIGS["paper"]
    assert (cfg.img_size, cfg.patch_size, cfg.embed_dim, cfg.depths, cfg.num_heads, cfg.window_size) == \
        (512, 4, 96, (2, 2, 2, 2), (3, 6, 12, 24), 8)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert CONFIGS["small-stem"].conv_stem and not CONFIGS["small"].conv_stem
    with pytest.raises(InputError, match="window 7"):
        cfg.replace(window_size=7)
    with pytest.raises(InputError, match="unknown keys"):
        ModelConfig.from_dict({**cfg.to_dict(), "depth": 3})
    with pytest.raises(InputError, match="unknown model config"):
        build_model("huge")
    model = build_model(cfg.replace(name="custom", img_size=64, embed_dim=8, num_heads=(1, 1, 2, 2), window_size=4,
                                    depths=(1, 1, 1, 1)), num_domains=1)
    assert model(torch.rand(1, 1, 64, 64), torch.tensor([0])).shape == (1, 1, 64, 64)


def test_domain_norm_matches_formula() -> None:
    from MLNNetLib.model import DomainContext

    ctx = DomainContext()
    norm = DomainLayerNorm(6, num_domains=2, context=ctx)
    with torch.no_grad():
        norm.weight.copy_(torch.arange(12.0).view(2, 6))
        norm.bias.copy_(-torch.arange(12.0).view(2, 6))
    x = torch.randn(2, 3, 6)
    ctx.domain = torch.tensor([1, 0])
    y = norm(x)
    z = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5)
    assert torch.allclose(y[0], z[0] * norm.weight[1] + norm.bias[1], atol=1e-5)
    assert torch.allclose(y[1], z[1] * norm.weight[0] + norm.bias[0], atol=1e-5)


def test_pretrained_swin_weights_land_everywhere_or_fail_loudly(tmp_path) -> None:
    from safetensors.torch import save_file
    from timm.models.swin_transformer import SwinTransformer

    from MLNNetLib.model.pretrained import load_swin_pretrained

    torch.manual_seed(3)
    # a timm Swin with the tiny config's widths, RGB input and a different window (2 -> tiny's 4)
    src = SwinTransformer(img_size=64, patch_size=4, in_chans=3, embed_dim=16, depths=(2, 2, 2), num_heads=(1, 2, 4),
                          window_size=2, num_classes=5)
    sd = {k: v.contiguous() for k, v in src.state_dict().items()}
    save_file(sd, tmp_path / "swin.safetensors")
    model = build_model("tiny", num_domains=2)
    report = load_swin_pretrained(model, tmp_path / "swin.safetensors")
    msd = model.state_dict()
    assert torch.equal(msd["encoder.1.blocks.0.attn.qkv.weight"], sd["layers.1.blocks.0.attn.qkv.weight"])
    assert torch.equal(msd["decoder.0.blocks.1.mlp.fc1.weight"], sd["layers.1.blocks.1.mlp.fc1.weight"])
    assert torch.equal(msd["encoder.2.downsample.reduction.weight"], sd["layers.2.downsample.reduction.weight"])
    for k in range(2):  # the one LayerNorm goes into every domain branch
        assert torch.equal(msd["encoder.0.blocks.0.norm1.weight"][k], sd["layers.0.blocks.0.norm1.weight"])
        assert torch.equal(msd["bottleneck_norm.bias"][k], sd["norm.bias"])
    assert torch.allclose(msd["patch_embed.proj.weight"][:, 0], sd["patch_embed.proj.weight"].sum(1))
    table = msd["encoder.0.blocks.0.attn.relative_position_bias_table"]
    assert table.shape == (49, 1) and "encoder.0.blocks.0.attn.relative_position_bias_table" in report["resized"]
    assert report["ignored"] == ["head.fc.bias", "head.fc.weight"]
    assert "head.weight" in report["new"] and "skip_proj.0.weight" in report["new"]
    assert not [k for k in report["new"] if k.startswith("encoder.")]
    # a checkpoint with a stage the model lacks is refused, not silently dropped
    save_file({**sd, "layers.3.blocks.0.norm1.weight": torch.ones(128)}, tmp_path / "deeper.safetensors")
    with pytest.raises(InputError, match="no place"):
        load_swin_pretrained(build_model("tiny", num_domains=2), tmp_path / "deeper.safetensors")
    torch.save({"model": {k: v * 2 for k, v in sd.items()}}, tmp_path / "wide.pth")
    with pytest.raises(InputError, match="does not fit"):
        load_swin_pretrained(build_model("small", num_domains=1), tmp_path / "wide.pth")


def test_grouped_domains_use_the_fused_path_and_give_the_gathered_result():
    from MLNNetLib.model.domain_norm import contiguous_segments

    assert contiguous_segments(torch.tensor([0, 0, 1, 1, 1])) == [(0, 0, 2), (1, 2, 5)]
    assert contiguous_segments(torch.tensor([1, 1])) == [(1, 0, 2)]
    assert contiguous_segments(torch.tensor([0, 1, 0])) is None  # interleaved: per-sample gather
    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2).eval()
    with torch.no_grad():
        for norm in model.modules():
            if hasattr(norm, "weight") and getattr(norm, "num_domains", 0) == 2:
                norm.weight.normal_(1.0, 0.3)
                norm.bias.normal_(0.0, 0.3)
        x = torch.rand(4, 1, 64, 64)
        grouped = model(x, torch.tensor([0, 0, 1, 1]))  # fused runs
        order = torch.tensor([0, 2, 1, 3])
        interleaved = model(x[order], torch.tensor([0, 1, 0, 1]))  # gather path
    assert torch.allclose(grouped[order], interleaved, atol=1e-5)
