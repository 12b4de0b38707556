"""LayerNorm with one affine (weight, bias) pair per domain, routed per sample (MLN-net's multiple LN layers).

timm's Swin blocks call ``norm(x)`` with one argument, so the domain of every sample travels through a small
shared :class:`DomainContext` that the network sets once per forward instead of through every signature.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn


class DomainContext:
    """Holds the per-sample domain labels (LongTensor (B,)) of the forward pass in progress.

    Setting ``domain`` also finds, once per forward, whether each domain's samples form one contiguous run
    (``segments`` = [(domain, start, end), ...], else None): then every norm can use the fused
    ``F.layer_norm`` on each run instead of a per-sample gather — the whole batch at inference after branch
    selection, and training batches that the trainer groups by domain (measured: a `paper` training step went
    from 1.21x to 1.09x a plain-LayerNorm step).
    """

    __slots__ = ("_domain", "segments")

    def __init__(self) -> None:
        self._domain: torch.Tensor | None = None
        self.segments: list[tuple[int, int, int]] | None = None

    @property
    def domain(self) -> torch.Tensor | None:
        return self._domain

    @domain.setter
    def domain(self, value: torch.Tensor | None) -> None:
        self._domain = value
        self.segments = contiguous_segments(value)

    @contextlib.contextmanager
    def routing(self, domain: torch.Tensor) -> Iterator[None]:
        """Route one forward pass: labels set on entry, cleared on exit (also after an error)."""
        self.domain = domain
        try:
            yield
        finally:
            self.domain = None

    def snapshot(self) -> tuple[torch.Tensor | None, list[tuple[int, int, int]] | None]:
        """The routing of the forward pass in progress, to hand to code that runs later (recomputation)."""
        return self._domain, self.segments

    @contextlib.contextmanager
    def restored(self, snapshot: tuple[torch.Tensor | None, list[tuple[int, int, int]] | None]) -> Iterator[None]:
        """Route with a snapshot taken earlier, then put back whatever was set before (nestable).

        Gradient checkpointing recomputes blocks during backward, after ``routing`` has cleared the labels:
        the checkpointed function receives the snapshot as an argument and re-enters it here, so every
        recomputed norm routes each sample exactly as in the forward pass.
        """
        previous = self.snapshot()
        self._domain, self.segments = snapshot
        try:
            yield
        finally:
            self._domain, self.segments = previous


def contiguous_segments(domain: torch.Tensor | None) -> list[tuple[int, int, int]] | None:
    """[(domain, start, end)] when every domain's samples are one contiguous run of the batch, else None."""
    if domain is None or domain.numel() == 0:
        return None
    values, counts = torch.unique_consecutive(domain, return_counts=True)
    values, counts = values.tolist(), counts.tolist()
    if len(values) != len(set(values)):
        return None
    ends = torch.tensor(counts).cumsum(0).tolist()
    return [(v, e - c, e) for v, c, e in zip(values, counts, ends)]


def route_domains(domain: torch.Tensor | int, x: torch.Tensor, num_domains: int) -> torch.Tensor:
    """Validate a network input ``x`` and its per-sample domain labels (an int means every sample); LongTensor (B,)."""
    from MLNNetLib.errors import InputError

    if not torch.is_floating_point(x):
        raise InputError(None, f"model input must be floating point in [0, 1], got {x.dtype}")
    if isinstance(domain, int):
        domain = torch.full((x.shape[0],), domain, dtype=torch.long, device=x.device)
    if domain.ndim != 1 or domain.shape[0] != x.shape[0] or domain.dtype not in (torch.long, torch.int32):
        raise InputError(None, f"domain must be an integer tensor of shape ({x.shape[0]},), "
                               f"got {domain.dtype} {tuple(domain.shape)}")
    domain = domain.to(device=x.device, dtype=torch.long)
    if domain.numel() and (int(domain.min()) < 0 or int(domain.max()) >= num_domains):
        raise InputError(None, f"domain labels must be in 0..{num_domains - 1}, got {sorted(set(domain.tolist()))}")
    return domain


class DomainLayerNorm(nn.Module):
    """``y = layer_norm(x) * weight[d] + bias[d]`` over the last dim, with ``d`` one domain label per sample.

    Normalisation itself (mean/variance over channels) is shared; only the affine pair is domain-specific.
    With ``num_domains == 1`` this is exactly ``nn.LayerNorm`` (same call, same numbers).
    """

    def __init__(
        self,
        dim: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        num_domains: int,
        context: DomainContext,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if num_domains < 1:
            raise ValueError(f"num_domains must be >= 1, got {num_domains}")
        self.dim = int(dim)
        self.num_domains = int(num_domains)
        self.eps = float(eps)
        self.context = context  # plain attribute (not a submodule): shared by every norm of one network
        self.weight = nn.Parameter(torch.ones(num_domains, dim, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(num_domains, dim, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.num_domains == 1:
            return F.layer_norm(x, (self.dim,), self.weight[0], self.bias[0], self.eps)
        d = self.context.domain
        if d is None:
            raise RuntimeError("DomainLayerNorm called outside a network forward: no domain labels are set")
        if d.shape[0] != x.shape[0]:
            raise RuntimeError(f"domain labels for {d.shape[0]} samples but the batch holds {x.shape[0]}")
        segments = self.context.segments
        if segments is not None:  # fused kernel per contiguous run of one domain (same numbers, less work)
            parts = [F.layer_norm(x[a:b], (self.dim,), self.weight[k], self.bias[k], self.eps) for k, a, b in segments]
            return parts[0] if len(parts) == 1 else torch.cat(parts)
        y = F.layer_norm(x, (self.dim,), None, None, self.eps)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (self.dim,)
        return torch.addcmul(self.bias[d].view(shape), y, self.weight[d].view(shape))

    def extra_repr(self) -> str:
        return f"{self.dim}, num_domains={self.num_domains}, eps={self.eps}"


def domain_norms(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """All domain-routed norms of ``model`` in forward-construction order, with their qualified names.

    DomainLayerNorms, plus any module flagged ``domain_routed = True`` (e.g. Pro_UNeXt's DomainBatchNorm2d);
    each has ``dim`` (channels) and, unless channels are the last axis, ``channel_axis``.
    """
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, DomainLayerNorm) or getattr(m, "domain_routed", False)]
