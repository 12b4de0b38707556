"""Pro_UNeXt (seed 002 §2.3) with domain-specific normalisation, beside the MultiLN Swin-Unet.

Encoder: a full-resolution micro-calcification conv block (stride 1, so 1-10 px calcifications are seen
unblurred), four fused-MBConv blocks with squeeze-and-excitation each followed by 2x2 max pooling, two
tokenized shifted-MLP blocks (stride-2 token embedding). Decoder: two tokenized-MLP blocks and four conv
blocks, each after a 2x2 transposed-conv upsampling, with additive skip connections at every level; a 1x1
head gives one logit channel. BatchNorms are DomainBatchNorm2d, LayerNorms DomainLayerNorm, all reading one
DomainContext, so ``forward(x, domain)`` routes every sample through its domain's norms (K=1: plain network).
Any input size works: inputs are zero-padded to a multiple of 64 and the logits cropped back.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import nn

from MLNNetLib.errors import InputError
from MLNNetLib.model.domain_batchnorm import DomainBatchNorm2d
from MLNNetLib.model.input_norm import input_transform
from MLNNetLib.model.domain_norm import DomainContext, DomainLayerNorm, domain_norms, route_domains
from MLNNetLib.model.pro_unext_blocks import ConvBNAct, FusedMBConv, TokenEmbed, TokMLPBlock, UpConv
from MLNNetLib.model.pro_unext_config import ARCH, ProUNeXtConfig


HEAD_PRIOR_BIAS = -4.6  # sigmoid(-4.6) = 0.01


class ProUNeXt(nn.Module):
    """``forward(x (B,C,H,W) in [0,1], domain LongTensor (B,) or int) -> logits (B,1,H,W)``."""

    arch = ARCH

    def __init__(self, config: ProUNeXtConfig, num_domains: int = 2) -> None:
        super().__init__()
        if not isinstance(config, ProUNeXtConfig):
            raise InputError(None, f"Pro_UNeXt needs a ProUNeXtConfig, got {type(config).__name__} "
                                   f"{getattr(config, 'name', '')!r}")
        if int(num_domains) < 1:
            raise InputError(None, f"num_domains must be >= 1, got {num_domains}")
        self.config = config
        self.num_domains = int(num_domains)
        self.domain_context = DomainContext()
        bn = partial(DomainBatchNorm2d, num_domains=self.num_domains, context=self.domain_context,
                     eps=config.norm_eps, momentum=config.bn_momentum)
        ln = partial(DomainLayerNorm, num_domains=self.num_domains, context=self.domain_context, eps=config.norm_eps)
        c = config.channels
        dpr = torch.linspace(0, config.drop_path_rate, 8).tolist()  # 4 MBConv + 2 encoder + 2 decoder MLP blocks

        self.input_norm = input_transform(config.input_norm, config.input_norm_sigma_px)
        self.micro = ConvBNAct(config.in_chans, c[0], bn)  # full resolution, stride 1
        self.mbconv = nn.ModuleList(
            [FusedMBConv(c[i], c[i + 1], config.mbconv_expand, config.se_ratio, bn, dpr[i]) for i in range(4)])
        self.pool = nn.MaxPool2d(2)
        self.embed = nn.ModuleList([TokenEmbed(c[4 + i], c[5 + i], ln) for i in range(2)])
        self.enc_tok = nn.ModuleList(
            [TokMLPBlock(c[5 + i], config.mlp_ratio, config.shift_size, ln, dpr[4 + i]) for i in range(2)])
        # decoder, coarse to fine: level 5 and 4 are tokenized MLP, levels 3..0 conv
        self.up = nn.ModuleList([UpConv(c[i + 1], c[i], bn) for i in range(5, -1, -1)])
        self.dec_tok = nn.ModuleList(
            [TokMLPBlock(c[i], config.mlp_ratio, config.shift_size, ln, dpr[6 + j]) for j, i in enumerate((5, 4))])
        self.dec_conv = nn.ModuleList([ConvBNAct(c[i], c[i], bn) for i in (3, 2, 1, 0)])
        self.head = nn.Conv2d(c[0], 1, kernel_size=1)
        self.apply(_init_weights)
        # Calcifications are ~0.1 % of pixels: start the head at a 1 % prior (RetinaNet-style), not p = 0.5.
        nn.init.constant_(self.head.bias, HEAD_PRIOR_BIAS)

    def _check(self, x: torch.Tensor, domain: torch.Tensor | int) -> torch.Tensor:
        cin = self.config.in_chans
        if x.ndim != 4 or x.shape[1] != cin or min(x.shape[2:]) < 1:
            raise InputError(None, f"model {self.config.name!r} expects input (B, {cin}, H, W), got {tuple(x.shape)}")
        return route_domains(domain, x, self.num_domains)

    def forward(self, x: torch.Tensor, domain: torch.Tensor | int) -> torch.Tensor:
        with self.domain_context.routing(self._check(x, domain)):
            x = self.input_norm(x)
            h, w = x.shape[-2:]
            m = self.config.divisor
            ph, pw = -h % m, -w % m
            if ph or pw:  # zero = background after normalisation, as in the tile sampler's padding
                x = F.pad(x, (0, pw, 0, ph))
            return self._forward(x)[..., :h, :w]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.micro(x)]
        y = skips[0]
        for block in self.mbconv:
            y = self.pool(block(y))
            skips.append(y)  # levels 1..4 (1/2 .. 1/16)
        for embed, block in zip(self.embed, self.enc_tok):
            y = block(embed(y)).permute(0, 3, 1, 2)
            skips.append(y)  # level 5 (1/32), then the bottleneck (1/64)
        y = skips.pop()
        for j, up in enumerate(self.up):
            y = up(y) + skips.pop()
            if j < 2:
                y = self.dec_tok[j](y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            else:
                y = self.dec_conv[j - 2](y)
        return self.head(y)

    def norm_names(self) -> list[str]:
        return [name for name, _ in domain_norms(self)]


def _init_weights(m: nn.Module) -> None:
    """He init for convolutions (ReLU/SiLU nets), truncated normal linears, identity-affine norms."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, DomainLayerNorm):
        m.reset_parameters()
