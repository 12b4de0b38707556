"""Training-step cost of DomainLayerNorm: MLN-net (K branches, per-sample routing) vs plain nn.LayerNorm.

The peer is a real plain-LayerNorm Swin-Unet: a copy of the same network whose every DomainLayerNorm is
swapped for an ``nn.LayerNorm`` of the same width holding one branch's weights (not a K=1 DomainLayerNorm,
which would hide the cost of the routing code path). Both get the same mixed-domain batch, the paper's
summed branch Dice, and an Adam step (weight decay 1e-3); after warm-up the steps are timed alternately
(DomainLN, plain, plain, DomainLN, ...) so drifting load hits both, and the medians are compared.
"""

from __future__ import annotations

import argparse
import copy
import os

import torch
from torch import nn

from MLNNetLib.benchmarks import model_setup as ms
from MLNNetLib.model import DomainLayerNorm, build_model, domain_norms

HELP = "forward+backward+Adam step: DomainLayerNorm network vs the same network with nn.LayerNorm (target: ratio <= 1.1)."
TARGET_RATIO = 1.1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="paper", help="model config name (default paper: 512x512 tiles)")
    p.add_argument("--batch", type=int, default=4, help="batch size (default 4)")
    p.add_argument("--num-domains", type=int, default=2, help="K, domain branches; the batch cycles through them (default 2)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per network, median kept (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per network first (default 1)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--seed", type=int, default=0)


def plain_layernorm_copy(model: nn.Module, branch: int = 0) -> nn.Module:
    """A deep copy of ``model`` with each DomainLayerNorm replaced by an nn.LayerNorm holding branch ``branch``."""
    plain = copy.deepcopy(model)
    for name, norm in [(n, m) for n, m in plain.named_modules() if isinstance(m, DomainLayerNorm)]:
        parent_name, _, child = name.rpartition(".")
        parent = plain.get_submodule(parent_name) if parent_name else plain
        ln = nn.LayerNorm(norm.dim, eps=norm.eps, device=norm.weight.device, dtype=norm.weight.dtype)
        with torch.no_grad():
            ln.weight.copy_(norm.weight[branch])
            ln.bias.copy_(norm.bias[branch])
        setattr(parent, child, ln)
    left = [n for n, m in plain.named_modules() if isinstance(m, DomainLayerNorm)]
    if left:
        raise RuntimeError(f"DomainLayerNorms left in the plain copy: {left[:3]}")
    return plain


def make_batch(size: int, batch: int, num_domains: int, seed: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Images in [0, 1], sparse calcification-like targets (~0.5 % foreground), both domains in one batch,
    grouped by domain (0,0,1,1) as training.batches.make_batch lays them out."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 1, size, size, generator=g)
    target = (torch.rand(batch, 1, size, size, generator=g) > 0.995).float()
    domain = torch.sort(torch.arange(batch) % num_domains).values
    return x.to(device), target.to(device), domain.to(device)


def run(args: argparse.Namespace) -> dict:
    load_start = [round(v, 2) for v in os.getloadavg()]
    from MLNNetLib.training.losses import summed_branch_dice

    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    k = int(args.num_domains)
    domain_net = build_model(args.config, num_domains=k).to(device)
    plain_net = plain_layernorm_copy(domain_net, branch=0)
    x, target, domain = make_batch(domain_net.config.img_size, args.batch, k, args.seed, device)

    # value check before training: all branches start as (1, 0), so both networks compute the same output
    domain_net.eval(), plain_net.eval()
    with torch.no_grad():
        start_diff = float((domain_net(x, domain) - plain_net(x, domain)).abs().max())

    nets = {"domainln": domain_net, "plainln": plain_net}
    opts = {n: torch.optim.Adam(m.parameters(), lr=1e-4, weight_decay=1e-3) for n, m in nets.items()}
    losses: dict[str, list[float]] = {n: [] for n in nets}

    def step(name: str) -> None:
        net, opt = nets[name], opts[name]
        opt.zero_grad(set_to_none=True)
        loss = summed_branch_dice(net(x, domain), target, domain, k)
        loss.backward()
        opt.step()
        losses[name].append(float(loss.detach()))

    for net in nets.values():
        net.train()
    for _ in range(max(0, args.warmup)):
        for name in nets:
            step(name)
    times: dict[str, list[float]] = {n: [] for n in nets}
    for i in range(max(1, args.steps)):
        for name in (("domainln", "plainln") if i % 2 == 0 else ("plainln", "domainln")):
            times[name].append(ms.timed(lambda: step(name), device)[0])
    t_dom, t_plain = ms.median(times["domainln"]), ms.median(times["plainln"])
    ratio = t_dom / t_plain if t_plain > 0 else float("inf")
    return {
        "config": domain_net.config.name, "tile": domain_net.config.img_size, "batch": args.batch,
        "num_domains": k, "domains_in_batch": domain.tolist(), "device": str(device),
        "warmup": args.warmup, "steps": len(times["domainln"]),
        "domainln_seconds": t_dom, "plainln_seconds": t_plain,
        "domainln_runs": times["domainln"], "plainln_runs": times["plainln"],
        "best_ratio": min(times["domainln"]) / min(times["plainln"]),  # robust to a load spike in one step
        "parameters_domainln": sum(p.numel() for p in domain_net.parameters()),
        "parameters_plainln": sum(p.numel() for p in plain_net.parameters()),
        "norm_layers": len(domain_norms(domain_net)),
        "initial_max_abs_output_difference": start_diff,
        "first_loss": {n: v[0] for n, v in losses.items()}, "last_loss": {n: v[-1] for n, v in losses.items()},
        "machine": ms.machine(), "load_average_at_start": load_start,
        "ratio": ratio,
        "target": f"domainln_seconds / plainln_seconds <= {TARGET_RATIO:g}",
        "meets_target": bool(ratio <= TARGET_RATIO),
    }
