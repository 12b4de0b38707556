"""Test-time BatchNorm adaptation: move the stored statistics part way towards the image's own.

Why: a BatchNorm backbone normalises with running statistics recorded on the (augmented) source. On a scanner
style it never saw, the feature means and variances drift (noise level, detector blur, processing), and the
stored statistics then mis-scale every later layer. Re-estimating them on the test image (AdaBN; Schneider
et al. 2020, "covariate shift adaptation" with the source statistics as a prior) corrects that drift with no
training and no labels. Only part way: statistics from one image's tissue tiles are not the statistics
training recorded (those mix curves and polarities over calcification-rich tiles), so full replacement costs
the source style 17 points; a weight of 0.25 applied only to images the OOD flag calls unlike the source kept
the held-out source images within 0.3 points (docs/decisions.md, "Test-time BatchNorm adaptation").

The image's statistics come from one forward pass of the selection tiles with only the BatchNorm layers in
train mode (the chosen branch's, for a domain-routed model); the model's stored statistics are restored
afterwards, whatever happens, so one loaded checkpoint serves any number of images.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from MLNNetLib.model.domain_batchnorm import batchnorms

Statistics = list[tuple[torch.Tensor, torch.Tensor] | None]  # per BatchNorm: (mean, var), None = not reached


def has_batchnorm(model: nn.Module) -> bool:
    return bool(batchnorms(model))


def _stored(bns: list[nn.BatchNorm2d]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float | None]]:
    return [(bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone(), bn.momentum) for bn in bns]


def _restore(bns: list[nn.BatchNorm2d], saved: list) -> None:
    for bn, (mean, var, tracked, momentum) in zip(bns, saved):
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.num_batches_tracked.copy_(tracked)
        bn.momentum = momentum


@torch.no_grad()
def image_statistics(model: nn.Module, tiles: list[np.ndarray], branch: int | None, device: torch.device) -> Statistics:
    """Per-BatchNorm (mean, variance) of its input over ``tiles`` as the network sees them through ``branch``
    (None: every branch); entries of BatchNorms the pass did not reach (other branches) are None."""
    bns = batchnorms(model)
    if not bns or not tiles:
        return [None] * len(bns)
    saved = _stored(bns)
    modes = [bn.training for bn in bns]
    num_domains = int(getattr(model, "num_domains", 1))
    x = torch.from_numpy(np.stack([np.asarray(t, np.float32).reshape(np.shape(t)[-2:]) for t in tiles])[:, None]).to(device)
    try:
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
            bn.train()
        if branch is None:
            xs = x.repeat(num_domains, 1, 1, 1)
            d = torch.arange(num_domains, device=device).repeat_interleave(x.shape[0])
        else:
            xs, d = x, torch.full((x.shape[0],), int(branch), dtype=torch.long, device=device)
        model(xs, d)
        return [(bn.running_mean.clone(), bn.running_var.clone()) if int(bn.num_batches_tracked) > 0 else None
                for bn in bns]
    finally:
        _restore(bns, saved)
        for bn, mode in zip(bns, modes):
            bn.train(mode)


@contextmanager
def adapted(model: nn.Module, stats: Statistics, weight: float) -> Iterator[int]:
    """Inside the block every reached BatchNorm normalises with (1 - weight) stored + weight image statistics;
    the stored statistics come back on exit. Yields how many BatchNorms were adapted."""
    bns = batchnorms(model)
    if weight <= 0 or not bns:
        yield 0
        return
    saved = _stored(bns)
    n = 0
    try:
        for bn, s in zip(bns, stats):
            if s is None:
                continue
            mean, var = s
            bn.running_mean.mul_(1.0 - weight).add_(weight * mean.to(bn.running_mean))
            bn.running_var.mul_(1.0 - weight).add_(weight * var.to(bn.running_var))
            n += 1
        yield n
    finally:
        _restore(bns, saved)
