"""Building blocks of Pro_UNeXt (seed 002 §2.3), written for per-sample domain-routed norms.

Every BatchNorm is a DomainBatchNorm2d and every LayerNorm a DomainLayerNorm; ``bn``/``ln`` are factories
that close over the network's shared DomainContext. Conv blocks work on NCHW, tokenized-MLP blocks on NHWC
tokens (the layout LayerNorm normalises over).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn

NormFactory = Callable[[int], nn.Module]


class ConvBNAct(nn.Module):
    """The paper's "normal convolution block": 3x3 conv (stride 1, padding 1), BatchNorm, ReLU."""

    def __init__(self, cin: int, cout: int, bn: NormFactory) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False)
        self.norm = bn(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Channel gating from the global average (per sample, so no norm and nothing to route)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, kernel_size=1)
        self.expand = nn.Conv2d(hidden, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(F.silu(self.reduce(s))))


class FusedMBConv(nn.Module):
    """Fused-MBConv as the seed describes it: 1x1 conv (+BN, SiLU), squeeze-and-excitation, 3x3 conv (+BN).

    The residual is added when input and output widths match (EfficientNet's rule); the encoder follows each
    block with 2x2 max pooling.
    """

    def __init__(self, cin: int, cout: int, expand: float, se_ratio: float, bn: NormFactory,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        hidden = max(1, int(round(cout * expand)))
        self.pw = nn.Conv2d(cin, hidden, kernel_size=1, bias=False)
        self.norm1 = bn(hidden)
        self.se = SqueezeExcite(hidden, max(1, int(round(hidden * se_ratio))))
        self.conv = nn.Conv2d(hidden, cout, kernel_size=3, padding=1, bias=False)
        self.norm2 = bn(cout)
        self.residual = cin == cout
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(F.silu(self.norm1(self.pw(x))))
        y = self.norm2(self.conv(y))
        return x + self.drop_path(y) if self.residual else y


def shift_tokens(x: torch.Tensor, axis: int, groups: int) -> torch.Tensor:
    """UNeXt's shift: split channels (last axis of NHWC) into ``groups`` and move group g by g - groups//2
    pixels along ``axis`` (1 = height, 2 = width), filling with zeros (no wrap-around)."""
    half = groups // 2
    out = []
    for g, chunk in enumerate(torch.chunk(x, groups, dim=-1)):
        s, size = g - half, chunk.shape[axis]
        if s == 0:
            out.append(chunk)
        elif abs(s) >= size:
            out.append(torch.zeros_like(chunk))
        else:
            zeros = torch.zeros_like(chunk.narrow(axis, 0, abs(s)))
            kept = chunk.narrow(axis, 0, size - s) if s > 0 else chunk.narrow(axis, -s, size + s)
            out.append(torch.cat([zeros, kept] if s > 0 else [kept, zeros], dim=axis))
    return torch.cat(out, dim=-1)


class ShiftedMLP(nn.Module):
    """Shift across width -> linear -> depthwise 3x3 conv -> GELU -> shift across height -> linear (NHWC)."""

    def __init__(self, dim: int, hidden: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(shift_tokens(x, 2, self.groups))
        x = self.dwconv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.fc2(shift_tokens(self.act(x), 1, self.groups))


class TokMLPBlock(nn.Module):
    """Tokenized-MLP block: ``x + MLP(LN(x))`` then a closing LayerNorm (NHWC in and out)."""

    def __init__(self, dim: int, mlp_ratio: float, groups: int, ln: NormFactory, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm = ln(dim)
        self.mlp = ShiftedMLP(dim, max(1, int(round(dim * mlp_ratio))), groups)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm_out = ln(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm_out(x + self.drop_path(self.mlp(self.norm(x))))


class TokenEmbed(nn.Module):
    """Overlapping 3x3 stride-2 projection to tokens (halves the resolution), then LayerNorm; NCHW -> NHWC."""

    def __init__(self, cin: int, cout: int, ln: NormFactory) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, kernel_size=3, stride=2, padding=1)
        self.norm = ln(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class UpConv(nn.Module):
    """Learnable x2 upsampling: 2x2 transposed conv at stride 2, BatchNorm, ReLU (NCHW)."""

    def __init__(self, cin: int, cout: int, bn: NormFactory) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, kernel_size=2, stride=2, bias=False)
        self.norm = bn(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.up(x)))
