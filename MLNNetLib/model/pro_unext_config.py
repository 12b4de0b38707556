"""Pro_UNeXt network configuration (seed 002 §2.3) as data, with the same JSON round trip as ModelConfig."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from MLNNetLib.errors import InputError

ARCH = "pro_unext"
# Encoder widths of the paper: micro-calcification conv block, four fused-MBConv blocks, two tokenized-MLP blocks.
PAPER_CHANNELS = (64, 64, 128, 256, 512, 1024, 2048)


@dataclass(frozen=True)
class ProUNeXtConfig:
    """Everything needed to rebuild a Pro_UNeXt; ``to_dict`` adds ``arch`` so a header names its class."""

    name: str
    img_size: int  # training / inference tile size S; any input size works (padded to a multiple of 64)
    in_chans: int = 1
    channels: tuple[int, ...] = PAPER_CHANNELS  # 7 encoder widths; the decoder mirrors them
    mbconv_expand: float = 1.0  # hidden width of a fused-MBConv block = expand * output width
    se_ratio: float = 0.25  # squeeze-and-excitation bottleneck = se_ratio * hidden width
    mlp_ratio: float = 1.0  # tokenized-MLP hidden width = mlp_ratio * width (UNeXt uses 1)
    shift_size: int = 5  # channel groups of the shifted MLP (shifts -2..2 px)
    drop_path_rate: float = 0.0
    norm_eps: float = 1e-5
    bn_momentum: float = 0.1
    input_norm: str = "none"  # "local": local contrast normalisation of the input tile (model/input_norm.py)
    input_norm_sigma_px: float = 15.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        problem = self.problem()
        if problem:
            raise InputError(None, f"model config {self.name!r}: {problem}")

    @property
    def arch(self) -> str:
        return ARCH

    @property
    def divisor(self) -> int:
        """Inputs are padded to a multiple of this (six stride-2 stages)."""
        return 2 ** (len(self.channels) - 1)

    def problem(self) -> str | None:
        if len(self.channels) != 7:
            return f"need 7 encoder widths (conv, 4 fused-MBConv, 2 tokenized MLP), got {len(self.channels)}"
        if min(self.channels) < 1 or self.in_chans < 1 or self.img_size < 1:
            return "channels, in_chans and img_size must be positive"
        if self.mbconv_expand <= 0 or self.mlp_ratio <= 0 or not 0 < self.se_ratio <= 1:
            return "mbconv_expand and mlp_ratio must be > 0 and se_ratio in (0, 1]"
        if self.shift_size < 1 or self.shift_size % 2 == 0:
            return f"shift_size must be a positive odd number, got {self.shift_size}"
        from MLNNetLib.model.input_norm import config_problem

        return config_problem(self.input_norm, self.input_norm_sigma_px)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["channels"] = list(self.channels)
        d["arch"] = ARCH
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProUNeXtConfig":
        if not isinstance(data, dict):
            raise InputError(None, f"model config must be a JSON object, got {type(data).__name__}")
        if data.get("arch", ARCH) != ARCH:
            raise InputError(None, f"not a {ARCH} config (arch {data.get('arch')!r})")
        data = {k: v for k, v in data.items() if k != "arch"}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(None, f"{ARCH} config has unknown keys {unknown}")
        if "name" not in data or "img_size" not in data:
            raise InputError(None, "model config needs at least 'name' and 'img_size'")
        return cls(**data)

    def replace(self, **changes: Any) -> "ProUNeXtConfig":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, ProUNeXtConfig] = {
    "pro_unext": ProUNeXtConfig(name="pro_unext", img_size=512),
    "pro_unext-small": ProUNeXtConfig(name="pro_unext-small", img_size=128, channels=(16, 16, 32, 64, 96, 128, 160)),
    "pro_unext-tiny": ProUNeXtConfig(name="pro_unext-tiny", img_size=64, channels=(8, 8, 8, 16, 16, 24, 32)),
}
# The seed's network (its channel widths, 52 M parameters) at the CPU profiles' tile sizes: what seed 002's
# recipe trains (training/recipe/presets.py) when the size class asks for 128- or 64-px tiles.
PRESETS["pro_unext-128"] = ProUNeXtConfig(name="pro_unext-128", img_size=128)
PRESETS["pro_unext-64"] = ProUNeXtConfig(name="pro_unext-64", img_size=64)
# Same size class across architectures (the ablation trains both on one profile).
SIZE_CLASS = {"paper": "pro_unext", "small": "pro_unext-small", "tiny": "pro_unext-tiny"}
# The paper's widths in each size class (tile size of the class, channels of the seed).
PAPER_WIDTHS_OF_SIZE = {"paper": "pro_unext", "small": "pro_unext-128", "tiny": "pro_unext-64"}
# Swin configs with a full-resolution conv stem map to the same Pro_UNeXt (its micro-calcification block is one).
SIZE_CLASS_FROM_SWIN = {**SIZE_CLASS, **{f"{k}-stem": v for k, v in SIZE_CLASS.items()}}
