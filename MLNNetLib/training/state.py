"""Resumable training state (optimizer, scheduler, epoch) in safetensors + JSON metadata: no pickle anywhere.

``check_resume`` compares the settings a run was started with (saved in ``last.json``) with the ones a
``--resume`` asks for, before any data is read: another ``--config`` or ``--num-domains`` used to end in
a ``size mismatch for final_expand.norm.bias`` traceback after the data had been loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from MLNNetLib.atomic import atomic_path
from MLNNetLib.errors import InputError

# settings a resumed run may change: where and how long it runs, where the data now lies, how much it measures
RESUME_MAY_CHANGE = frozenset({"epochs", "device", "resume", "overwrite", "out", "data", "extra", "val_tiles",
                               "stats_tiles"})


def _comparable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def resume_mismatches(saved: dict[str, Any], requested: dict[str, Any]) -> list[str]:
    """'key: saved X, requested Y' for every setting that differs (keys the saved run lacks are skipped)."""
    out = []
    for key, value in requested.items():
        if key in RESUME_MAY_CHANGE or key not in saved:
            continue
        if _comparable(saved[key]) != _comparable(value):
            out.append(f"{key}: saved {saved[key]!r}, requested {value!r}")
    return out


def check_resume(checkpoint: Path, requested: dict[str, Any]) -> None:
    """Refuse a --resume whose settings differ from the run's; names every differing setting."""
    from MLNNetLib.checkpoint import read_header

    header = read_header(checkpoint)
    saved = dict(((header.get("training") or {}).get("settings") or {}))
    saved.setdefault("arch", header.get("arch"))
    saved.setdefault("num_domains", header.get("num_domains"))
    problems = resume_mismatches(saved, requested)
    if problems:
        raise InputError(checkpoint.parent, "cannot --resume this run with other settings (" + "; ".join(problems)
                         + "): pass the saved values, or start a new run in another --out (or with --overwrite)")


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
