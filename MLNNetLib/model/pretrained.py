"""Initialise the encoder (and, as Swin-Unet does, the decoder blocks) from a local Swin ImageNet checkpoint.

The reference code loaded with ``strict=False`` and silently dropped weights (DESIGN §8). Here every source
tensor either lands somewhere or the load fails with its name: LayerNorm weights are copied into every domain
branch, relative-position tables are interpolated to the new window, RGB patch filters are summed to one
channel. Files are read without pickle (safetensors, or torch.load(weights_only=True)).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path

import torch
from timm.layers import resize_rel_pos_bias_table
from timm.models._manipulate import adapt_input_conv
from torch import nn

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.model.domain_norm import DomainLayerNorm

log = get_logger(__name__)

_SKIP = ("relative_position_index", "attn_mask")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "pretrained weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any reader error means the file is unusable
        raise InputError(path, f"cannot read pretrained weights ({exc})") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "pretrained file does not hold a flat dict of tensors")
    return state


def _targets(key: str, n_stages: int, decoder_from_encoder: bool) -> list[str]:
    """Destination names in SwinUnet for one timm Swin key ([] = deliberately unused)."""
    if key.startswith("head."):
        return []
    if key.startswith("patch_embed."):
        return [key]
    if key.startswith("norm."):
        return ["bottleneck_norm." + key[5:]]
    m = re.match(r"layers\.(\d+)\.(.*)", key)
    if not m:
        return ["<unmatched>"]
    level, rest = int(m.group(1)), m.group(2)
    out = [f"encoder.{level}.{rest}"]
    if decoder_from_encoder and rest.startswith("blocks.") and level < n_stages - 1:
        out.append(f"decoder.{n_stages - 2 - level}.{rest}")
    return out


def load_swin_pretrained(model: nn.Module, path: str | os.PathLike, decoder_from_encoder: bool = True) -> dict:
    """Copy a timm/Microsoft Swin checkpoint into ``model``; returns what was loaded, resized and left new."""
    state = read_state_dict(path)
    if "layers.0.downsample.reduction.weight" in state:  # Microsoft layout: merging at the end of a stage
        state = {re.sub(r"layers\.(\d+)\.downsample", lambda g: f"layers.{int(g.group(1)) + 1}.downsample", k): v
                 for k, v in state.items()}
    dest = model.state_dict()
    n = model.config.num_stages
    new_values: dict[str, torch.Tensor] = {}
    resized, ignored, unmatched = [], [], []
    for key, value in state.items():
        if any(s in key for s in _SKIP):
            continue
        targets = _targets(key, n, decoder_from_encoder)
        if not targets:
            ignored.append(key)
            continue
        for target in targets:
            if target not in dest:
                unmatched.append(key)
                continue
            ref = dest[target]
            v = value.float()
            if target == "patch_embed.proj.weight" and v.shape[1] != ref.shape[1]:
                v = adapt_input_conv(ref.shape[1], v)
            if target.endswith("relative_position_bias_table") and v.shape != ref.shape:
                win = model.get_submodule(target.rsplit(".", 1)[0]).window_size
                with warnings.catch_warnings():  # timm's interpolation emits torch deprecation noise
                    warnings.simplefilter("ignore", UserWarning)
                    v = resize_rel_pos_bias_table(v, new_window_size=win, new_bias_shape=tuple(ref.shape))
                resized.append(target)
            owner = model.get_submodule(target.rsplit(".", 1)[0])
            if isinstance(owner, DomainLayerNorm) and v.ndim == 1 and ref.shape[1:] == v.shape:
                v = v.unsqueeze(0).expand(ref.shape[0], -1)  # one LN -> every domain branch
            if v.shape != ref.shape:
                raise InputError(path, f"pretrained tensor {key!r} {tuple(value.shape)} does not fit {target!r} "
                                       f"{tuple(ref.shape)}: the checkpoint's widths/heads differ from config "
                                       f"{model.config.name!r}")
            new_values[target] = v.to(ref.dtype)
    if unmatched:
        raise InputError(path, f"{len(unmatched)} pretrained tensors have no place in config {model.config.name!r} "
                               f"(e.g. {sorted(unmatched)[:3]}); the stage count differs")
    model.load_state_dict({**dest, **new_values}, strict=True)
    report = {"loaded": sorted(new_values), "resized": sorted(resized), "ignored": sorted(ignored),
              "new": sorted(k for k in dest if k not in new_values)}
    log.info("pretrained %s: %d tensors loaded (%d relative-position tables resized), %d ignored, %d left new",
             path, len(report["loaded"]), len(resized), len(ignored), len(report["new"]))
    return report


def initialise_from(model: nn.Module, path: str | os.PathLike) -> dict:
    """``train --init PATH``: start a Swin-Unet from a local Swin checkpoint; returns what the run header records
    (file, sha256, tensor counts). Refuses other architectures: their layers have no Swin counterpart."""
    path = Path(path)
    arch = getattr(model.config, "arch", "swin_unet")
    if arch != "swin_unet":
        raise InputError(path, f"--init loads Swin Transformer weights into a Swin-Unet; config "
                               f"{model.config.name!r} is a {arch} network")
    report = load_swin_pretrained(model, path)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {"path": str(path), "sha256": digest.hexdigest(), "loaded": len(report["loaded"]),
            "resized": len(report["resized"]), "ignored": len(report["ignored"]), "new": len(report["new"])}
