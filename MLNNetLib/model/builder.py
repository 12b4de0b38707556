"""The one place that turns a config (name, dataclass or header dict) into a network."""

from __future__ import annotations

from typing import Any

from MLNNetLib.errors import InputError
from MLNNetLib.model.configs import ModelConfig, get_config
from MLNNetLib.model.swin_unet import SwinUnet

ARCHITECTURES = {"swin_unet": SwinUnet}


def build_model(config: str | ModelConfig | dict[str, Any], num_domains: int = 2, arch: str = "swin_unet") -> SwinUnet:
    """MLN-net with ``num_domains`` LayerNorm branches; ``num_domains=1`` is the paper's Basenet."""
    if arch not in ARCHITECTURES:
        raise InputError(None, f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](get_config(config), num_domains=num_domains)
