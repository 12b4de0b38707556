"""Model benchmarks (`mlnnet benchmark selection|train-step|memory`) at tiny size, and the pieces they rely on.

Timings are never asserted (they belong to the benchmark's JSON); what is asserted are values: the JSON
shape, that the two networks compared really compute the same function, and that peak RSS is real.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from MLNNetLib.benchmarks import BENCHMARKS, REQUIRED_KEYS
from MLNNetLib.benchmarks.memory_bench import peak_rss_mb
from MLNNetLib.benchmarks.model_setup import copy_weights, cut_tiles, tile_positions
from MLNNetLib.benchmarks.train_step_bench import plain_layernorm_copy
from MLNNetLib.cli import main
from MLNNetLib.model import DomainLayerNorm, build_model, domain_norms

TINY_IMAGE = ["--shape", "512", "384", "--config", "tiny"]


def _run_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 1, "a benchmark prints exactly one JSON line"
    result = json.loads(lines[0])
    assert all(k in result for k in REQUIRED_KEYS)
    assert isinstance(result["meets_target"], bool) and isinstance(result["target"], str)
    return result


def _perturb_norms(model: nn.Module, seed: int = 0) -> None:
    """Give every norm branch its own affine pair, so routing mistakes change the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, norm in domain_norms(model):
            norm.weight.copy_(1 + 0.3 * torch.randn(norm.weight.shape, generator=g))
            norm.bias.copy_(0.1 * torch.randn(norm.bias.shape, generator=g))


def test_registry_lists_the_model_benchmarks():
    for name in ("selection", "train-step", "memory"):
        assert name in BENCHMARKS


def test_selection_benchmark_tiny(capsys):
    r = _run_json(capsys, ["benchmark", "selection", *TINY_IMAGE, "--repeats", "1"])
    assert r["benchmark"] == "selection" and r["shape"] == [512, 384] and r["config"] == "tiny"
    assert r["tiles"] > 0 and r["tiles"] == r["k1_tiles"]
    assert r["tiles"] + r["skipped_tiles"] > r["tiles"]  # background tiles of the synthetic breast are skipped
    assert r["k1_seconds"] > 0 and r["k2_seconds"] > 0
    assert r["ratio"] == pytest.approx(r["k2_seconds"] / r["k1_seconds"])
    assert r["best_ratio"] == pytest.approx(min(r["k2_runs"]) / min(r["k1_runs"]))
    assert r["meets_target"] == (r["ratio"] <= 1.2)
    assert r["branch"] in (0, 1) and len(r["scores"]) == 2 and all(np.isfinite(r["scores"]))
    # a K=1 network holding the chosen branch's norms produces the same probability map
    assert r["max_abs_probability_difference_vs_k1"] < 1e-5
    assert "gpu" not in r or torch.cuda.is_available()


def test_train_step_benchmark_tiny(capsys):
    r = _run_json(capsys, ["benchmark", "train-step", "--config", "tiny", "--steps", "1", "--warmup", "0"])
    assert r["benchmark"] == "train-step" and r["config"] == "tiny" and r["batch"] == 4
    assert r["domains_in_batch"] == [0, 0, 1, 1]
    assert r["initial_max_abs_output_difference"] < 1e-5
    assert r["first_loss"]["domainln"] == pytest.approx(r["first_loss"]["plainln"], abs=1e-5)
    # the extra branch holds exactly one more (weight, bias) pair per norm
    norm_widths = sum(n.dim for _, n in domain_norms(build_model("tiny", num_domains=1)))
    assert r["parameters_domainln"] - r["parameters_plainln"] == 2 * norm_widths
    assert r["ratio"] == pytest.approx(r["domainln_seconds"] / r["plainln_seconds"])


def test_memory_benchmark_tiny(capsys):
    r = _run_json(capsys, ["benchmark", "memory", *TINY_IMAGE])
    assert r["benchmark"] == "memory" and r["peak_source"] in ("VmHWM", "ru_maxrss")
    assert r["baseline_mb"] > 50 and r["peak_mb"] >= r["baseline_mb"]
    assert r["inference_adds_mb"] == pytest.approx(r["peak_mb"] - r["baseline_mb"])
    assert r["tiles"] > 0 and r["inference_child"]["image_shape"] == [512, 384]
    assert r["meets_target"] == (r["peak_mb"] <= 4096)


def test_plain_copy_equals_k1_domain_network():
    torch.manual_seed(0)
    net = build_model("tiny", num_domains=1).eval()
    _perturb_norms(net)
    plain = plain_layernorm_copy(net).eval()
    assert not any(isinstance(m, DomainLayerNorm) for m in plain.modules())
    assert sum(isinstance(m, nn.LayerNorm) for m in plain.modules()) == len(domain_norms(net))
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(net(x, 0), plain(x, 0))
    with torch.no_grad():  # the copy owns its parameters: changing it leaves the original alone
        next(m for m in plain.modules() if isinstance(m, nn.LayerNorm)).weight.add_(1.0)
        assert not torch.equal(net(x, 0), plain(x, 0))


def test_plain_copy_of_a_branch_matches_routing_to_that_branch():
    torch.manual_seed(1)
    net = build_model("tiny", num_domains=2).eval()
    _perturb_norms(net, seed=3)
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        out1 = net(x, torch.tensor([1, 1]))
        assert torch.allclose(out1, plain_layernorm_copy(net, branch=1).eval()(x, 0), atol=1e-5)
        assert not torch.allclose(out1, plain_layernorm_copy(net, branch=0).eval()(x, 0), atol=1e-3)


def test_copy_weights_k2_branch_into_k1():
    torch.manual_seed(2)
    k2 = build_model("tiny", num_domains=2).eval()
    _perturb_norms(k2, seed=5)
    k1 = build_model("tiny", num_domains=1).eval()
    copy_weights(k2, k1, branch=1)
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(k1(x, 0), k2(x, torch.tensor([1])), atol=1e-5)


def test_tile_positions_are_in_bounds_and_centred_on_tissue():
    breast = np.zeros((200, 150), dtype=bool)
    breast[60:140, 40:120] = True
    pos = tile_positions(breast, 32, 10, seed=0)
    assert len(pos) == 10
    for y, x in pos:
        assert 0 <= y <= 200 - 32 and 0 <= x <= 150 - 32 and breast[y + 16, x + 16]
    tiles = cut_tiles(np.arange(200 * 150, dtype=np.float32).reshape(200, 150), pos, 32)
    assert tiles.shape == (10, 32, 32) and tiles[0, 0, 0] == pos[0][0] * 150 + pos[0][1]
    with pytest.raises(ValueError):
        tile_positions(breast, 256, 1)


def _current_rss_mb() -> float:
    line = next(ln for ln in open("/proc/self/status") if ln.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024.0


def test_peak_rss_covers_a_large_allocation():
    before, source = peak_rss_mb()
    rss_before = _current_rss_mb()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, every page touched
    rss_after = _current_rss_mb()
    peak, _ = peak_rss_mb()
    assert source == "VmHWM" and before > 0 and block.sum() == block.size
    assert rss_after - rss_before >= 60  # the block is resident ...
    assert peak >= rss_after >= 60 and peak >= before  # ... and the high-water mark covers it
