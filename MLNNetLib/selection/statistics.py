"""Per-domain statistics of every DomainLayerNorm's input (DESIGN §4): the paper's "recorded parameters".

LayerNorm keeps no running statistics, so after training we run the training tiles once, in eval mode with the
final weights, and sum each norm's input per channel (float64 sums and sums of squares) separately for every
domain. The same accumulator measures a test image under each branch at selection time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from MLNNetLib.errors import InputError
from MLNNetLib.model.domain_norm import domain_norms

PREFIX = "domain_stats::"


@dataclass
class LayerMoments:
    """Float64 sums over tokens of one norm's input, one row per domain: count (K,), sum/sumsq (K, C)."""

    count: torch.Tensor
    sum: torch.Tensor
    sumsq: torch.Tensor

    @classmethod
    def zeros(cls, num_domains: int, channels: int) -> "LayerMoments":
        z = torch.zeros(num_domains, channels, dtype=torch.float64)
        return cls(torch.zeros(num_domains, dtype=torch.float64), z, z.clone())

    def mean(self) -> torch.Tensor:
        return self.sum / self.count.clamp_min(1).unsqueeze(1)

    def std(self) -> torch.Tensor:
        n = self.count.clamp_min(1).unsqueeze(1)
        var = self.sumsq / n - (self.sum / n) ** 2
        return var.clamp_min(0).sqrt()


@dataclass
class DomainStatistics:
    """μ/σ per norm and domain, the mean input intensity per domain ("+" variant), and OOD thresholds."""

    layers: dict[str, LayerMoments]
    num_domains: int
    input_mean_sum: torch.Tensor = field(default=None)  # (K,) float64: sum of per-image mean intensities
    input_mean_count: torch.Tensor = field(default=None)  # (K,) float64: how many images contributed
    ood_thresholds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.input_mean_sum is None:
            self.input_mean_sum = torch.zeros(self.num_domains, dtype=torch.float64)
        if self.input_mean_count is None:
            self.input_mean_count = torch.zeros(self.num_domains, dtype=torch.float64)

    def mean(self, layer: str) -> torch.Tensor:
        return self.layers[layer].mean()

    def std(self, layer: str) -> torch.Tensor:
        return self.layers[layer].std()

    def domain_counts(self) -> list[int]:
        """Tokens seen per domain at the first norm (0 = the domain was never recorded)."""
        first = next(iter(self.layers.values()))
        return [int(c) for c in first.count.tolist()]

    def input_means(self) -> list[float | None]:
        """Mean breast intensity per domain, None where it was not recorded."""
        pairs = zip(self.input_mean_sum.tolist(), self.input_mean_count.tolist())
        return [None if c == 0 else float(s / c) for s, c in pairs]

    def to_tensors(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for name, m in self.layers.items():
            out[f"{PREFIX}{name}::count"] = m.count.contiguous()
            out[f"{PREFIX}{name}::sum"] = m.sum.contiguous()
            out[f"{PREFIX}{name}::sumsq"] = m.sumsq.contiguous()
        out[f"{PREFIX}__input_mean__::sum"] = self.input_mean_sum.contiguous()
        out[f"{PREFIX}__input_mean__::count"] = self.input_mean_count.contiguous()
        for method, value in self.ood_thresholds.items():
            out[f"{PREFIX}__ood__::{method}"] = torch.tensor([value], dtype=torch.float64)
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "DomainStatistics":
        parts: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if not key.startswith(PREFIX):
                continue
            name, _, kind = key[len(PREFIX):].rpartition("::")
            parts.setdefault(name, {})[kind] = value.to(torch.float64)
        special = {k: parts.pop(k) for k in ("__input_mean__", "__ood__") if k in parts}
        if not parts:
            raise InputError(None, "no domain statistics tensors found")
        layers = {}
        for name, p in parts.items():
            if set(p) != {"count", "sum", "sumsq"} or p["sum"].ndim != 2 or p["sum"].shape != p["sumsq"].shape \
                    or p["count"].shape != (p["sum"].shape[0],):
                raise InputError(None, f"domain statistics of {name!r} are incomplete or misshapen")
            layers[name] = LayerMoments(p["count"], p["sum"], p["sumsq"])
        ks = {m.count.shape[0] for m in layers.values()}
        if len(ks) != 1:
            raise InputError(None, f"domain statistics disagree on the number of domains: {sorted(ks)}")
        k = ks.pop()
        im = special.get("__input_mean__", {})
        ood = {m: float(v.reshape(-1)[0]) for m, v in special.get("__ood__", {}).items()}
        return cls(layers, k, im.get("sum"), im.get("count"), ood)

    def check_matches(self, model: nn.Module) -> None:
        """Refuse statistics recorded on a different network (names, widths or K)."""
        norms = dict(domain_norms(model))
        if self.num_domains != model.num_domains:
            raise InputError(None, f"statistics hold {self.num_domains} domains but the model has {model.num_domains}")
        if set(norms) != set(self.layers):
            missing = sorted(set(norms) - set(self.layers))[:3]
            extra = sorted(set(self.layers) - set(norms))[:3]
            raise InputError(None, f"statistics do not match the model's norms (missing {missing}, unexpected {extra})")
        for name, norm in norms.items():
            if self.layers[name].sum.shape[1] != norm.dim:
                raise InputError(None, f"statistics of {name!r} have {self.layers[name].sum.shape[1]} channels, "
                                       f"the model's norm has {norm.dim}")


class MomentRecorder:
    """Forward pre-hooks on every domain norm (LayerNorm or BatchNorm kind) that add the input's per-channel
    sums to per-domain rows."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.norms = domain_norms(model)
        if not self.norms:
            raise InputError(None, "model has no DomainLayerNorm layers")
        k = model.num_domains
        self.moments = {name: LayerMoments.zeros(k, norm.dim) for name, norm in self.norms}
        self._acc: dict[str, list[torch.Tensor]] = {}
        self._handles: list = []

    def __enter__(self) -> "MomentRecorder":
        for name, norm in self.norms:
            self._handles.append(norm.register_forward_pre_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        for name, acc in self._acc.items():  # fold device accumulators into the CPU moments
            m = self.moments[name]
            m.count += acc[0].cpu()
            m.sum += acc[1].cpu()
            m.sumsq += acc[2].cpu()
        self._acc.clear()

    def _hook(self, name: str):
        k = self.model.num_domains

        def hook(module: nn.Module, args: tuple) -> None:
            x = args[0].detach()
            d = self.model.domain_context.domain
            axis = getattr(module, "channel_axis", -1) % x.ndim
            f64 = torch.float64
            # one sample's per-channel mean and centred sum of squares in float32 (torch's cascade summation),
            # accumulated over samples and batches in float64. A float64 copy of every activation made the
            # selection pass cost twice the Swin-Unet's whole-image prediction; this is several times faster per
            # layer and changed no score or flag of the benchmark's test images.
            if axis == x.ndim - 1:  # tokens x channels (LayerNorm)
                values = x.reshape(x.shape[0], -1, x.shape[-1]).transpose(1, 2)  # (B, C, tokens), a view
            else:  # channels first (NCHW BatchNorm)
                values = x.movedim(axis, 1).flatten(2)
            # centred first: a plain float32 sum of squares loses a channel whose spread is small next to its
            # mean (the patch projection's) to cancellation
            n = values.shape[-1]
            mean = values.mean(-1, keepdim=True)
            spread = (values - mean).square().sum(-1).to(f64)
            mean = mean.squeeze(-1).to(f64)
            total, squares = n * mean, spread + n * mean * mean
            if name not in self._acc:
                z = torch.zeros(k, x.shape[axis], dtype=f64, device=x.device)
                self._acc[name] = [torch.zeros(k, dtype=f64, device=x.device), z, z.clone()]
            acc = self._acc[name]
            tokens = torch.full((x.shape[0],), float(n), dtype=f64, device=x.device)
            acc[0].index_add_(0, d, tokens)
            acc[1].index_add_(0, d, total)
            acc[2].index_add_(0, d, squares)

        return hook


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def record_domain_statistics(model: nn.Module, batches: Iterable[tuple]) -> DomainStatistics:
    """One exact pass over ``batches`` of ``(x, domain)`` or ``(x, domain, input_mean)``.

    ``input_mean`` (B,) is each sample's mean normalised intensity inside the breast (NaN = unknown); its
    per-domain average is what the "+" selection compares a test image against. The model runs in eval mode
    (its previous mode is restored).
    """
    was_training = model.training
    model.eval()
    k = model.num_domains
    im_sum = torch.zeros(k, dtype=torch.float64)
    im_count = torch.zeros(k, dtype=torch.float64)
    device = _model_device(model)
    seen = 0
    try:
        with MomentRecorder(model) as rec:
            for batch in batches:
                x, d = batch[0].to(device), torch.as_tensor(batch[1]).to(device=device, dtype=torch.long)
                model(x, d)
                seen += x.shape[0]
                if len(batch) > 2 and batch[2] is not None:
                    means = torch.as_tensor(batch[2], dtype=torch.float64).reshape(-1).cpu()
                    ok = ~torch.isnan(means)
                    im_sum.index_add_(0, d.cpu()[ok], means[ok])
                    im_count.index_add_(0, d.cpu()[ok], torch.ones(int(ok.sum()), dtype=torch.float64))
    finally:
        model.train(was_training)
    if seen == 0:
        raise InputError(None, "no batches given: cannot record domain statistics")
    return DomainStatistics(rec.moments, k, im_sum, im_count)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two vectors; 0 when either is all zeros (nothing to compare)."""
    na, nb = float(a.norm()), float(b.norm())
    return 0.0 if na == 0 or nb == 0 else float(a @ b) / (na * nb)


def is_finite(value: float) -> bool:
    return value is not None and math.isfinite(value)
