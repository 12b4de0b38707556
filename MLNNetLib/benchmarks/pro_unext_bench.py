"""Inference speed of Pro_UNeXt vs the paper-config MultiLN Swin-Unet on one 512 x 512 tile.

Both networks are built in the same process with the paper's widths, put in eval mode, and timed on the same
input with batch 1: a few warm-up runs, then ``repeats`` timed forwards taken in alternation (so background
load hits both alike); the median is reported. ``ratio`` = Swin-Unet seconds / Pro_UNeXt seconds (> 1 means
Pro_UNeXt is faster). The seed reports 7 ms for Pro_UNeXt vs 14-27 ms for U-Net variants on an RTX A4000; on
a GPU the milliseconds are reported too (CUDA synchronised around each forward).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

HELP = "512^2 inference time, Pro_UNeXt vs the paper Swin-Unet, batch 1 (target: Pro_UNeXt faster, ratio > 1)."
TARGET = "Pro_UNeXt at least as fast as the paper Swin-Unet (ratio = swin / pro_unext >= 1); seed: 7 ms on an RTX A4000"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=512, help="tile side in pixels (default 512)")
    p.add_argument("--repeats", type=int, default=5, help="timed forwards per network (default 5; median kept)")
    p.add_argument("--warmup", type=int, default=2, help="untimed forwards per network first (default 2)")
    p.add_argument("--num-domains", type=int, default=1, help="norm branches K of both networks (default 1)")
    p.add_argument("--pro-config", default="pro_unext", help="Pro_UNeXt config (default pro_unext, the paper widths)")
    p.add_argument("--swin-config", default="paper", help="Swin-Unet config (default paper)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")


def _timed(model: torch.nn.Module, x: torch.Tensor, d: torch.Tensor) -> float:
    cuda = x.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    model(x, d)
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _swin_config(cfg, size: int):
    """The Swin-Unet only takes its config's tile size: resize the config for other --size values."""
    return cfg if cfg.img_size == size else cfg.replace(name=f"{cfg.name}@{size}", img_size=size)


def run(args: argparse.Namespace) -> dict:
    from MLNNetLib.model import build_model, count_parameters, get_config

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    torch.manual_seed(0)
    models = {
        "pro_unext": build_model(args.pro_config, num_domains=args.num_domains).to(device).eval(),
        "swin_unet": build_model(_swin_config(get_config(args.swin_config), args.size),
                                 num_domains=args.num_domains).to(device).eval(),
    }
    x = torch.rand(1, 1, args.size, args.size, device=device)
    d = torch.zeros(1, dtype=torch.long, device=device)
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for m in models.values():
            for _ in range(max(0, args.warmup)):
                _timed(m, x, d)
        for _ in range(max(1, args.repeats)):
            for name, m in models.items():
                times[name].append(_timed(m, x, d))
    med = {name: statistics.median(t) for name, t in times.items()}
    ratio = med["swin_unet"] / med["pro_unext"]
    result = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "size": args.size, "batch": 1, "num_domains": args.num_domains, "repeats": args.repeats,
        "pro_unext_config": args.pro_config, "swin_config": args.swin_config,
        "pro_unext_seconds": med["pro_unext"], "swin_unet_seconds": med["swin_unet"],
        "pro_unext_parameters": count_parameters(models["pro_unext"]),
        "swin_unet_parameters": count_parameters(models["swin_unet"]),
        "ratio": ratio, "target": TARGET, "meets_target": bool(ratio >= 1.0),
    }
    if device.type == "cuda":
        result["pro_unext_ms"] = 1000 * med["pro_unext"]
        result["swin_unet_ms"] = 1000 * med["swin_unet"]
    return result
