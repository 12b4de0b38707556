"""Local contrast normalisation of the network input (an option of both architectures; ours).

Why: scanners differ most in how they map exposure to grey levels (log or linear, LUT shape, equalisation,
unsharp masking of different strength). Over a few millimetres any smooth monotone map is close to linear,
so subtracting a local mean and dividing by the local standard deviation removes most of that difference
before the first layer, while a calcification (0.1-1 mm, far smaller than the window) keeps its shape and
its contrast relative to the tissue around it. An inversion flips the sign, so the domain branches still
have their job. The transform has no parameters and runs on each tile exactly as in training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("none", "local")
DEFAULT_SIGMA_PX = 15.0  # 1.5 mm at the 0.1 mm training spacing: several times a calcification, within a tile
EPS = 0.001  # floor of the local standard deviation on [0, 1] images (below any tissue texture; flat air stays 0)
CLAMP = 6.0


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3.0 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


class LocalContrastNorm(nn.Module):
    """(x - G*x) / max(sqrt(G*(x - G*x)^2), EPS), clamped to +-CLAMP and scaled to about unit range."""

    def __init__(self, sigma_px: float = DEFAULT_SIGMA_PX) -> None:
        super().__init__()
        self.sigma_px = float(sigma_px)
        self.register_buffer("kernel", _gaussian_kernel(self.sigma_px), persistent=False)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel.to(dtype=x.dtype, device=x.device)
        r = k.numel() // 2
        c = x.shape[1]
        kh = k.view(1, 1, 1, -1).expand(c, 1, 1, -1)
        kv = k.view(1, 1, -1, 1).expand(c, 1, -1, 1)
        mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode=mode), kh, groups=c)
        return F.conv2d(F.pad(x, (0, 0, r, r), mode=mode), kv, groups=c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        detail = x - self._blur(x)
        spread = self._blur(detail * detail).clamp_min(0).sqrt().clamp_min(EPS)
        return (detail / spread).clamp(-CLAMP, CLAMP) / CLAMP


def config_problem(mode: str, sigma_px: float) -> str | None:
    """The one check both architectures' configs run on their input-normalisation fields."""
    if mode not in MODES or sigma_px <= 0:
        return f"input_norm must be one of {MODES} with a positive sigma, got {mode!r} (sigma {sigma_px})"
    return None


def input_transform(mode: str, sigma_px: float) -> nn.Module:
    if mode == "none":
        return nn.Identity()
    if mode == "local":
        return LocalContrastNorm(sigma_px)
    raise ValueError(f"unknown input normalisation {mode!r}; choose one of {MODES}")
