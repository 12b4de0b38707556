"""Network configurations as data (timm style): one dataclass, named presets, JSON round trip."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from MLNNetLib.errors import InputError
from MLNNetLib.model.input_norm import DEFAULT_SIGMA_PX, config_problem as input_norm_problem
from MLNNetLib.model import pro_unext_config
from MLNNetLib.model.pro_unext_config import ProUNeXtConfig

# Where each encoder level's skip connection is tapped (see SwinUnet):
# "stage_input"  = the official Swin-Unet (HuCaoFighting/Swin-Unet, forward_features appends x BEFORE each
#                  BasicLayer): the patch-embedding output at 1/4, the merged tokens at 1/8 and 1/16;
# "stage_output" = each level's output after its Swin blocks (what MLNNet built first).
SKIP_WIRINGS = ("stage_input", "stage_output")
# Checkpoint headers written before the option existed were built with this wiring.
LEGACY_SKIP = "stage_output"


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a Swin-Unet; stored in every checkpoint header."""

    name: str
    img_size: int  # training / inference tile size S (input is (B, in_chans, S, S))
    patch_size: int = 4
    in_chans: int = 1
    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 2, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: int = 8
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.1
    conv_stem: bool = False  # full-resolution conv stem joined to the x4-expanded decoder features
    skip: str = "stage_input"  # skip-connection taps, one of SKIP_WIRINGS (official Swin-Unet by default)
    stem_chans: int = 16
    input_norm: str = "none"  # "local": local contrast normalisation of the input tile (model/input_norm.py)
    input_norm_sigma_px: float = DEFAULT_SIGMA_PX
    norm_eps: float = 1e-5
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes; not used by the network

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(int(v) for v in self.depths))
        object.__setattr__(self, "num_heads", tuple(int(v) for v in self.num_heads))
        problem = self.problem()
        if problem:
            raise InputError(None, f"model config {self.name!r}: {problem}")

    @property
    def arch(self) -> str:
        """The network class this config builds (Pro_UNeXt configs say "pro_unext")."""
        return "swin_unet"

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    def stage_dims(self) -> list[int]:
        return [self.embed_dim * 2**i for i in range(self.num_stages)]

    def stage_resolutions(self) -> list[int]:
        return [self.img_size // self.patch_size // 2**i for i in range(self.num_stages)]

    def problem(self) -> str | None:
        """Why this config cannot build a network, or None."""
        if self.num_stages < 2 or len(self.num_heads) != self.num_stages:
            return f"need >= 2 stages and one head count per stage (depths {self.depths}, heads {self.num_heads})"
        if self.skip not in SKIP_WIRINGS:
            return f"skip must be one of {SKIP_WIRINGS}, got {self.skip!r}"
        if input_norm_problem(self.input_norm, self.input_norm_sigma_px):
            return input_norm_problem(self.input_norm, self.input_norm_sigma_px)
        if min(self.depths) < 1 or self.in_chans < 1 or self.embed_dim < 1 or self.stem_chans < 1:
            return "depths, in_chans, embed_dim and stem_chans must be positive"
        factor = self.patch_size * 2 ** (self.num_stages - 1)
        if self.img_size <= 0 or self.img_size % factor:
            return f"img_size {self.img_size} must be a multiple of patch_size * 2**(stages-1) = {factor}"
        for dim, heads in zip(self.stage_dims(), self.num_heads):
            if dim % heads:
                return f"stage width {dim} is not divisible by {heads} heads"
        for res in self.stage_resolutions():
            if res > self.window_size and res % self.window_size:
                return f"window {self.window_size} does not divide stage resolution {res} (use 8 or 16 at 512)"
        return None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["depths"], d["num_heads"] = list(self.depths), list(self.num_heads)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig | ProUNeXtConfig":
        """A Swin-Unet config, or the config of the architecture named by the dict's ``arch`` key."""
        if not isinstance(data, dict):
            raise InputError(None, f"model config must be a JSON object, got {type(data).__name__}")
        arch = data.get("arch", "swin_unet")
        if arch == pro_unext_config.ARCH:
            return ProUNeXtConfig.from_dict(data)
        if arch != "swin_unet":
            raise InputError(None, f"model config names unknown architecture {arch!r}")
        data = {k: v for k, v in data.items() if k != "arch"}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(None, f"model config has unknown keys {unknown}")
        if "name" not in data or "img_size" not in data:
            raise InputError(None, "model config needs at least 'name' and 'img_size'")
        data.setdefault("skip", LEGACY_SKIP)  # an older header: rebuild the network it was trained as
        return cls(**data)

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


_PAPER = ModelConfig(name="paper", img_size=512, patch_size=4, embed_dim=96, depths=(2, 2, 2, 2),
                     num_heads=(3, 6, 12, 24), window_size=8, drop_path_rate=0.1)
# "small" is the CPU config: 128-px tiles (measured here: 0.42 s per step of 4 tiles x 2 domains with the conv
# stem on 2 idle cores; 256-px tiles cost 5x that). Calcifications are 1-6 px, so 12.8 mm of context per tile
# at 0.1 mm is plenty for them; clusters are assembled by the sliding window.
_SMALL = ModelConfig(name="small", img_size=128, patch_size=4, embed_dim=32, depths=(2, 2, 2, 2),
                     num_heads=(1, 2, 4, 8), window_size=8, drop_path_rate=0.0)
_TINY = ModelConfig(name="tiny", img_size=64, patch_size=4, embed_dim=16, depths=(2, 2, 2),
                    num_heads=(1, 2, 4), window_size=4, drop_path_rate=0.0, stem_chans=8)

CONFIGS: dict[str, ModelConfig] = {
    "paper": _PAPER,
    "small": _SMALL,
    "tiny": _TINY,
    "paper-stem": _PAPER.replace(name="paper-stem", conv_stem=True),
    "small-stem": _SMALL.replace(name="small-stem", conv_stem=True),
    "tiny-stem": _TINY.replace(name="tiny-stem", conv_stem=True),
    **pro_unext_config.PRESETS,
}


def get_config(config: str | ModelConfig | ProUNeXtConfig | dict[str, Any]) -> ModelConfig | ProUNeXtConfig:
    """A preset by name, a config object as is, or a dict from a checkpoint header."""
    if isinstance(config, (ModelConfig, ProUNeXtConfig)):
        return config
    if isinstance(config, dict):
        return ModelConfig.from_dict(config)
    if config not in CONFIGS:
        raise InputError(None, f"unknown model config {config!r}; choose one of {sorted(CONFIGS)}")
    return CONFIGS[config]


def config_for_arch(config: str, arch: str) -> str:
    """The preset of ``arch`` in the same size class as preset ``config`` ("small" -> "pro_unext-small")."""
    cfg = get_config(config)
    if cfg.arch == arch:
        return config
    swin_of = {v: k for k, v in pro_unext_config.SIZE_CLASS.items()}
    table = pro_unext_config.SIZE_CLASS_FROM_SWIN if arch == pro_unext_config.ARCH else swin_of if arch == "swin_unet" else {}
    if config not in table:
        raise InputError(None, f"config {config!r} ({cfg.arch}) has no {arch!r} counterpart; "
                               f"choose a {arch} config by name")
    return table[config]
