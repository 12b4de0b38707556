"""MultiLN Swin-Unet (MLN-net's segmentation network) built from timm's Swin Transformer stages.

Encoder: 4x4 patch embedding, then per stage [patch merging], Swin blocks; the last stage is the bottleneck.
Decoder: patch expanding (x2), concatenation with the encoder skip of the same level, a linear back to the
level's width, Swin blocks; then a final x4 expansion to full resolution and a 1-channel logit head.
Skips (``config.skip``): "stage_input" is the official Swin-Unet's wiring (each level's tokens *before* its
blocks: the patch embedding at 1/4, the merged tokens at 1/8 and 1/16); "stage_output" taps each level after
its blocks. Drop-path rates: the decoder level of depth d uses the encoder level's rates in the same order,
as the official code does.
Every LayerNorm is a :class:`DomainLayerNorm`; the domain labels of a forward pass live in one shared context.
Optional conv stem: full-resolution 3x3 convolutions (calcifications are 1-10 px; the 4x4 patch embedding
blurs them) whose features join the x4-expanded decoder features before the head.
"""

from __future__ import annotations

from functools import partial

import torch
from torch.utils.checkpoint import checkpoint
from timm.layers import trunc_normal_
from timm.models.swin_transformer import SwinTransformerStage
from torch import nn

from MLNNetLib.errors import InputError
from MLNNetLib.model.configs import ModelConfig
from MLNNetLib.model.input_norm import input_transform
from MLNNetLib.model.domain_norm import DomainContext, DomainLayerNorm, domain_norms, route_domains

NormFactory = partial  # partial(DomainLayerNorm, num_domains=K, context=ctx, eps=...)


HEAD_PRIOR_BIAS = -4.6  # sigmoid(-4.6) = 0.01


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection to NHWC tokens, then a domain norm."""

    def __init__(self, in_chans: int, dim: int, patch: int, norm: NormFactory) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)
        self.norm = norm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class PatchExpand(nn.Module):
    """Linear to ``scale**2 * out_dim`` channels, pixel-shuffle to a ``scale``-times larger NHWC grid, norm."""

    def __init__(self, dim: int, out_dim: int, scale: int, norm: NormFactory) -> None:
        super().__init__()
        self.scale, self.out_dim = scale, out_dim
        self.expand = nn.Linear(dim, scale * scale * out_dim, bias=False)
        self.norm = norm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        s = self.scale
        x = self.expand(x).view(b, h, w, s, s, self.out_dim)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, h * s, w * s, self.out_dim)
        return self.norm(x)


class ConvNormAct(nn.Module):
    """3x3 conv at stride 1, channels-last domain norm, GELU (NCHW in and out)."""

    def __init__(self, cin: int, cout: int, norm: NormFactory) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1)
        self.norm = norm(cout)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.act(x)


class SwinUnet(nn.Module):
    """``forward(x (B,C,S,S) in [0,1], domain LongTensor (B,)) -> logits (B,1,S,S)``."""

    def __init__(self, config: ModelConfig, num_domains: int = 2) -> None:
        super().__init__()
        if int(num_domains) < 1:
            raise InputError(None, f"num_domains must be >= 1, got {num_domains}")
        self.config = config
        self.num_domains = int(num_domains)
        self.domain_context = DomainContext()
        norm = partial(DomainLayerNorm, num_domains=self.num_domains, context=self.domain_context,
                       eps=config.norm_eps)
        dims, res, n = config.stage_dims(), config.stage_resolutions(), config.num_stages
        dpr = torch.linspace(0, config.drop_path_rate, sum(config.depths)).tolist()
        dpr_per_stage = [dpr[sum(config.depths[:i]):sum(config.depths[:i + 1])] for i in range(n)]
        common = dict(window_size=config.window_size, mlp_ratio=config.mlp_ratio, qkv_bias=config.qkv_bias,
                      proj_drop=config.drop_rate, attn_drop=config.attn_drop_rate, norm_layer=norm)

        self.patch_embed = PatchEmbed(config.in_chans, dims[0], config.patch_size, norm)
        self.pos_drop = nn.Dropout(config.drop_rate)
        self.encoder = nn.ModuleList()
        for i in range(n):
            self.encoder.append(SwinTransformerStage(
                dim=dims[max(i - 1, 0)], out_dim=dims[i], input_resolution=(res[max(i - 1, 0)],) * 2,
                depth=config.depths[i], downsample=i > 0, num_heads=config.num_heads[i],
                drop_path=dpr_per_stage[i], **common))
        self.bottleneck_norm = norm(dims[-1])

        self.expand = nn.ModuleList([PatchExpand(dims[i], dims[i - 1], 2, norm) for i in range(n - 1, 0, -1)])
        self.skip_proj = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for i in range(n - 2, -1, -1):  # decoder level i, from coarse to fine
            self.skip_proj.append(nn.Linear(2 * dims[i], dims[i]))
            self.decoder.append(SwinTransformerStage(
                dim=dims[i], out_dim=dims[i], input_resolution=(res[i],) * 2, depth=config.depths[i],
                downsample=False, num_heads=config.num_heads[i], drop_path=dpr_per_stage[i], **common))
        self.decoder_norm = norm(dims[0])
        self.final_expand = PatchExpand(dims[0], dims[0], config.patch_size, norm)

        head_in = dims[0]
        if config.conv_stem:
            c = config.stem_chans
            self.stem = nn.Sequential(ConvNormAct(config.in_chans, c, norm), ConvNormAct(c, c, norm))
            self.fuse = ConvNormAct(dims[0] + c, c, norm)
            head_in = c
        else:
            self.stem, self.fuse = None, None
        self.head = nn.Conv2d(head_in, 1, kernel_size=1)
        self.input_norm = input_transform(config.input_norm, config.input_norm_sigma_px)
        self.grad_checkpointing = False
        self.apply(_init_weights)
        # Calcifications are ~0.1 % of pixels: start the head at that prior (RetinaNet-style) instead of p = 0.5
        # everywhere, so early gradients teach "where" rather than "everything is background".
        nn.init.constant_(self.head.bias, HEAD_PRIOR_BIAS)

    def _check(self, x: torch.Tensor, domain: torch.Tensor | int) -> torch.Tensor:
        s, c = self.config.img_size, self.config.in_chans
        if x.ndim != 4 or x.shape[1] != c or tuple(x.shape[2:]) != (s, s):
            raise InputError(None, f"model {self.config.name!r} expects input (B, {c}, {s}, {s}) (tile size = "
                                   f"config.img_size), got {tuple(x.shape)}")
        return route_domains(domain, x, self.num_domains)

    def forward(self, x: torch.Tensor, domain: torch.Tensor | int) -> torch.Tensor:
        with self.domain_context.routing(self._check(x, domain)):
            return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_norm(x)
        feats = self.pos_drop(self.patch_embed(x))
        skips = []
        for stage in self.encoder:
            merged = stage.downsample(feats)  # timm's stage = [merging], blocks; Identity at level 0
            feats = self._blocks(stage, merged)
            skips.append(merged if self.config.skip == "stage_input" else feats)
        skips.pop()  # the bottleneck level has no skip
        y = self.bottleneck_norm(feats)
        for expand, proj, stage in zip(self.expand, self.skip_proj, self.decoder):
            y = expand(y)
            y = self._blocks(stage, proj(torch.cat([y, skips.pop()], dim=-1)))
        y = self.final_expand(self.decoder_norm(y)).permute(0, 3, 1, 2)
        if self.stem is not None:
            y = self.fuse(torch.cat([y, self.stem(x)], dim=1))
        return self.head(y)

    def _blocks(self, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The Swin blocks of one stage, each recomputed in backward when gradient checkpointing is on.

        The routing of this forward pass goes into every checkpointed call as an argument, so the recomputation
        (which runs after ``forward`` has cleared the labels) routes every sample as the forward pass did.
        """
        if not (self.grad_checkpointing and torch.is_grad_enabled()):
            return stage.blocks(x)
        routing = self.domain_context.snapshot()
        for block in stage.blocks:
            x = checkpoint(_routed_call, self.domain_context, routing, block, x, use_reentrant=False)
        return x

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Trade compute for memory: recompute every Swin block in backward instead of keeping its activations."""
        self.grad_checkpointing = bool(enable)

    def norm_names(self) -> list[str]:
        return [name for name, _ in domain_norms(self)]


def _routed_call(context: DomainContext, routing: tuple, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``block(x)`` under the routing ``routing`` (forward and its recomputation alike)."""
    with context.restored(routing):
        return block(x)


def _init_weights(m: nn.Module) -> None:
    """timm/Swin init: truncated normal linears, zero biases; norms start as identity affine."""
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, DomainLayerNorm):
        m.reset_parameters()


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def norm_parameter_count(model: nn.Module) -> int:
    """Parameters held by domain norms (each extra domain branch adds exactly this divided by K)."""
    return sum(p.numel() for _, m in domain_norms(model) for p in m.parameters())
