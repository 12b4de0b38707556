"""Resumable training state (optimizer, scheduler, epoch) in safetensors + JSON metadata: no pickle anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from MLNNetLib.atomic import atomic_path
from MLNNetLib.errors import InputError


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, entries in sd["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def save_train_state(path: Path, opt: torch.optim.Optimizer, meta: dict[str, Any]) -> None:
    tensors, opt_meta = _flatten_optimizer(opt)
    if not tensors:  # safetensors needs at least one tensor
        tensors["opt.empty"] = torch.zeros(1)
    header = {"meta": json.dumps({**meta, "optimizer": opt_meta})}
    with atomic_path(path, overwrite=True) as tmp:
        save_file(tensors, str(tmp), metadata=header)


def load_train_state(path: Path, opt: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore the optimizer in place and return the saved metadata (epoch, scheduler, history...)."""
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["meta"])
    except (OSError, SafetensorError, KeyError, json.JSONDecodeError) as exc:
        raise InputError(path, f"cannot resume: training state is unreadable ({exc})") from exc
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name == "opt.empty":
            continue
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    for name, value in meta["optimizer"]["scalars"].items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
    return meta
