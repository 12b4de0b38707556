"""BatchNorm with one full BatchNorm (affine pair AND running statistics) per domain, routed per sample.

Pro_UNeXt's convolution blocks normalise with BatchNorm. Making it domain-specific the way MLN-net makes
LayerNorm domain-specific means each domain keeps its own batch statistics: in a batch that mixes domains,
the samples of domain d are normalised with statistics of the domain-d samples only (train mode) or with
BN_d's running statistics (eval mode), exactly as if every domain group had been a batch of its own.
The domain labels come from the same :class:`DomainContext` the network's DomainLayerNorms read.
"""

from __future__ import annotations

import torch
from torch import nn

from MLNNetLib.model.domain_norm import DomainContext


class DomainBatchNorm2d(nn.Module):
    """K ``nn.BatchNorm2d`` over NCHW features; sample i goes through ``bns[domain[i]]``."""

    domain_routed = True  # found by model.domain_norms / the selection statistics recorder
    channel_axis = 1  # NCHW: the statistics recorder moves this axis last before summing per channel

    def __init__(self, dim: int, *, num_domains: int, context: DomainContext, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__()
        if num_domains < 1:
            raise ValueError(f"num_domains must be >= 1, got {num_domains}")
        self.dim = int(dim)
        self.num_domains = int(num_domains)
        self.eps = float(eps)
        self.context = context  # shared, not a submodule
        self.bns = nn.ModuleList([nn.BatchNorm2d(dim, eps=eps, momentum=momentum) for _ in range(num_domains)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_domains == 1:
            return self.bns[0](x)
        d = self.context.domain
        if d is None:
            raise RuntimeError("DomainBatchNorm2d called outside a network forward: no domain labels are set")
        if d.shape[0] != x.shape[0]:
            raise RuntimeError(f"domain labels for {d.shape[0]} samples but the batch holds {x.shape[0]}")
        present = torch.unique(d).tolist()
        if len(present) == 1:
            return self.bns[int(present[0])](x)
        order = torch.argsort(d, stable=True)
        parts = [self.bns[k](x[d == k]) for k in present]  # unique() is sorted, so parts follow `order`
        out = torch.cat(parts, dim=0)
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=order.device)
        return out[inverse]

    def extra_repr(self) -> str:
        return f"{self.dim}, num_domains={self.num_domains}, eps={self.eps}"


def batchnorms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """Every BatchNorm2d inside the model's DomainBatchNorm2d layers (empty for the Swin-Unet)."""
    return [bn for m in model.modules() if isinstance(m, DomainBatchNorm2d) for bn in m.bns]


@torch.no_grad()
def precise_batchnorm(model: nn.Module, batches, max_batches: int | None = None) -> int:
    """Replace every branch's running mean/variance by plain averages over ``batches`` of ``(x, domain, ...)``
    run through the CURRENT weights ("precise BN").

    Running statistics are EMAs collected while the weights were still moving; with small batches and a fast
    learning rate they lag the final weights so much that eval mode loses what train mode found. Each domain
    group updates only its own branch, as in training. Returns the number of batches used (0: no BatchNorm).
    """
    bns = batchnorms(model)
    if not bns:
        return 0
    was_training = model.training
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calls below
    device = next(model.parameters()).device
    used = 0
    try:
        model.train()
        for batch in batches:
            if max_batches is not None and used >= max_batches:
                break
            x, d = batch[0].to(device), torch.as_tensor(batch[1]).to(device=device, dtype=torch.long)
            model(x, d)
            used += 1
    finally:
        for bn, m in zip(bns, momenta):
            bn.momentum = m
        model.train(was_training)
    return used
