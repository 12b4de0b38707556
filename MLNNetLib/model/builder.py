"""The one place that turns a config (name, dataclass or header dict) into a network."""

from __future__ import annotations

from typing import Any

from torch import nn

from MLNNetLib.errors import InputError
from MLNNetLib.model.configs import ModelConfig, get_config
from MLNNetLib.model.pro_unext import ProUNeXt
from MLNNetLib.model.pro_unext_config import ProUNeXtConfig
from MLNNetLib.model.swin_unet import SwinUnet

ARCHITECTURES = {"swin_unet": SwinUnet, "pro_unext": ProUNeXt}


def build_model(config: str | ModelConfig | ProUNeXtConfig | dict[str, Any], num_domains: int = 2,
                arch: str | None = None) -> nn.Module:
    """The network of ``config`` with ``num_domains`` norm branches; ``num_domains=1`` is the plain network.

    The config names its architecture (``config.arch``); ``arch``, when given, must agree with it.
    """
    if arch is not None and arch not in ARCHITECTURES:
        raise InputError(None, f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    cfg = get_config(config)
    if arch is not None and cfg.arch != arch:
        raise InputError(None, f"config {cfg.name!r} is a {cfg.arch} config, not {arch}")
    return ARCHITECTURES[cfg.arch](cfg, num_domains=num_domains)
