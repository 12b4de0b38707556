"""Model checkpoints without pickle (DESIGN §9): PATH.safetensors (tensors) + PATH.json (header).

A model file from elsewhere must not be able to run code, so weights and domain statistics are plain tensors
in safetensors and everything else is JSON. The header carries the sha256 of the tensor file, and the tensor
file's metadata carries a canonical copy of the whole header (all but that sha256): a changed, truncated or
swapped tensor file is refused, and so is a header edited afterwards (``spacing_mm`` changed by hand used to
change the resampling silently), with a message naming the file and the keys that differ. Both files are
committed together (one ``OutputPlan``) and never replace existing files unless asked. ``save_state``/``load_state`` keep arbitrary tensors (optimizer
state for --resume) the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from MLNNetLib import __version__
from MLNNetLib.atomic import check_writable, write_bytes, write_text
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.outputs import OutputPlan, active_plan
from MLNNetLib.model import ARCHITECTURES, ModelConfig, build_model, count_parameters
from MLNNetLib.selection.statistics import PREFIX as STATS_PREFIX
from MLNNetLib.selection.statistics import DomainStatistics

log = get_logger(__name__)

FORMAT = "mlnnet-checkpoint/1"
STATE_FORMAT = "mlnnet-state/1"
MODEL_PREFIX = "model."
REQUIRED_KEYS = ("format", "arch", "config", "num_domains", "sha256")


@dataclass
class Checkpoint:
    model: nn.Module
    header: dict[str, Any]
    stats: DomainStatistics | None
    path: Path

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def num_domains(self) -> int:
        return self.model.num_domains

    @property
    def spacing_mm(self) -> list[float] | None:
        return self.header.get("spacing_mm")


def header_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def weights_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".safetensors")


def library_versions() -> dict[str, str]:
    import safetensors
    import timm

    return {"MLNNetLib": __version__, "torch": torch.__version__, "timm": timm.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version()}


def _json_default(value: Any) -> Any:
    """numpy scalars/arrays and paths in headers become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


COVERED_KEY = "header"  # safetensors metadata key holding the canonical header


def canonical_header(header: dict[str, Any]) -> str:
    """The header as covered by the weights file: every key but the weights' own sha256, canonical JSON."""
    return json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True, separators=(",", ":"),
                      allow_nan=False, default=_json_default)


def header_differences(written: dict[str, Any], now: dict[str, Any], prefix: str = "") -> list[str]:
    """'key: X when written, now Y' for every (nested) key that differs."""
    out = []
    for key in sorted(set(written) | set(now)):
        if not prefix and key == "sha256":
            continue
        a, b = written.get(key, "<absent>"), now.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += header_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {json.dumps(a, default=str)[:60]} when written, now {json.dumps(b, default=str)[:60]}")
    return out


def _check_header_covered(json_path: Path, header: dict[str, Any], meta: dict[str, str]) -> None:
    covered = meta.get(COVERED_KEY)
    if covered is None:
        log.warning("%s: written by an older MLNNetLib: its header is not covered by the weights' checksum", json_path)
        return
    if canonical_header(header) == covered:
        return
    diff = header_differences(json.loads(covered), header)
    shown = "; ".join(diff[:4]) + (f"; ... ({len(diff)} keys)" if len(diff) > 4 else "")
    raise InputError(json_path, f"checkpoint header was changed after the model was saved ({shown or 'formatting'}); "
                                "restore the original header (or retrain) - settings such as the pixel spacing are "
                                "given to `segment`, never edited into a checkpoint")


def _cpu_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_checkpoint(path: str | os.PathLike, model: nn.Module, header: dict[str, Any] | None = None,
                    stats: DomainStatistics | None = None, overwrite: bool = False) -> Path:
    """Write PATH (.safetensors: weights + statistics) and PATH.json (header); returns PATH."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(path, "checkpoint file name must end in .safetensors")
    json_path = header_path(path)
    for p in (path, json_path):
        check_writable(p, overwrite)
    tensors = {MODEL_PREFIX + k: v for k, v in model.state_dict().items()}
    thresholds: dict[str, float] = {}
    if stats is not None:
        stats.check_matches(model)
        tensors.update(stats.to_tensors())
        thresholds = dict(stats.ood_thresholds)
    full = dict(header or {})
    selection = dict(full.get("selection") or {})
    if thresholds:
        selection["ood_thresholds"] = {**selection.get("ood_thresholds", {}), **thresholds}
    full.update({
        "format": FORMAT,
        "arch": model.config.arch,
        "config": model.config.to_dict(),
        "num_domains": model.num_domains,
        "spacing_mm": full.get("spacing_mm"),
        "augmentation": full.get("augmentation"),
        "training": full.get("training"),
        "versions": {**library_versions(), **(full.get("versions") or {})},
        "selection": selection,
        "has_statistics": stats is not None,
        "parameters": count_parameters(model),
        "weights_file": path.name,
        "saved_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    full.pop("sha256", None)
    try:
        full = json.loads(json.dumps(full, allow_nan=False, default=_json_default))  # exactly what a reader sees
    except (TypeError, ValueError) as exc:
        raise InputError(json_path, f"checkpoint header is not JSON-serialisable ({exc})") from None
    data = st_save(_cpu_tensors(tensors), metadata={"format": FORMAT, COVERED_KEY: canonical_header(full)})
    full["sha256"] = _sha256(data)
    text = json.dumps(full, indent=2, sort_keys=True, allow_nan=False)
    plan = active_plan()
    together = contextlib.nullcontext() if plan is not None and plan.declares(path) and plan.declares(json_path) \
        else _pair_plan(path, json_path, overwrite)
    with together:  # weights and header land together or not at all
        write_bytes(path, data, overwrite=overwrite)
        write_text(json_path, text + "\n", overwrite=overwrite)
    log.info("saved checkpoint %s (%d tensors, K=%d, config %s)", path, len(tensors), model.num_domains,
             model.config.name)
    return path


def _pair_plan(path: Path, json_path: Path, overwrite: bool) -> OutputPlan:
    plan = OutputPlan(overwrite)
    plan.file(path, "checkpoint")
    plan.file(json_path, "json")
    return plan


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a checkpoint (PATH.json), validated for the keys every loader needs."""
    json_path = header_path(path)
    if not json_path.is_file():
        raise InputError(json_path, "checkpoint header not found (expected beside the .safetensors file)")
    try:
        header = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(json_path, f"checkpoint header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise InputError(json_path, "checkpoint header must be a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in header]
    if missing:
        raise InputError(json_path, f"checkpoint header lacks {missing}")
    if header["format"] != FORMAT:
        raise InputError(json_path, f"unsupported checkpoint format {header['format']!r} (this version reads {FORMAT})")
    return header


def _read_verified(path: Path, expected_sha: str | None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise InputError(path, "file not found")
    data = path.read_bytes()
    if expected_sha is not None and _sha256(data) != expected_sha:
        raise InputError(path, "sha256 does not match the header: the file was changed or damaged after it was "
                               "written (tampered, truncated or paired with another header)")
    try:
        tensors = st_load(data)
        meta = json.loads(data[8:8 + int.from_bytes(data[:8], "little")]).get("__metadata__") or {}
    except Exception as exc:  # safetensors raises its own error types for malformed files
        raise InputError(path, f"not a readable safetensors file ({exc})") from None
    return tensors, meta


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the network from the header, load weights strictly, return it in eval mode."""
    path = weights_path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint file not found")
    header = read_header(path)
    tensors, meta = _read_verified(path, header["sha256"])
    _check_header_covered(header_path(path), header, meta)
    if header["arch"] not in ARCHITECTURES:
        raise InputError(header_path(path), f"unknown architecture {header['arch']!r}")
    try:
        config = ModelConfig.from_dict(header["config"])  # dispatches on the config's own "arch" key
        k = int(header["num_domains"])
        model = build_model(config, num_domains=k, arch=header["arch"])
    except (InputError, TypeError, ValueError) as exc:
        raise InputError(header_path(path), f"cannot rebuild the model from the header: {exc}") from None
    weights = {key[len(MODEL_PREFIX):]: v for key, v in tensors.items() if key.startswith(MODEL_PREFIX)}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise InputError(path, f"weights do not fit config {config.name!r} with K={k}: missing {missing[:4]}"
                               f"{'...' if len(missing) > 4 else ''}, unexpected {unexpected[:4]}"
                               f"{'...' if len(unexpected) > 4 else ''}")
    for key, ref in expected.items():
        if weights[key].shape != ref.shape:
            hint = ""
            if key.endswith((".weight", ".bias")) and ref.ndim == 2 and "norm" in key:
                hint = f" (the tensors hold {weights[key].shape[0]} domain branches, the header says K={k})"
            raise InputError(path, f"tensor {key!r} has shape {tuple(weights[key].shape)}, config "
                                   f"{config.name!r} with K={k} needs {tuple(ref.shape)}{hint}")
    model.load_state_dict(weights, strict=True)
    stats = None
    if any(key.startswith(STATS_PREFIX) for key in tensors):
        try:
            stats = DomainStatistics.from_tensors(tensors)
            stats.check_matches(model)
        except InputError as exc:
            raise InputError(path, f"domain statistics: {exc.problem}") from None
    model.to(device).eval()
    log.info("loaded checkpoint %s (config %s, K=%d, statistics %s)", path, config.name, k,
             "present" if stats else "absent")
    return Checkpoint(model, header, stats, path)


def save_state(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any] | None = None,
               overwrite: bool = False) -> Path:
    """Arbitrary named tensors + a JSON-able ``meta`` dict in one safetensors file (e.g. optimizer state)."""
    path = Path(path)
    meta_text = json.dumps(meta or {}, sort_keys=True, allow_nan=False)
    data = st_save(_cpu_tensors(tensors), metadata={"format": STATE_FORMAT, "meta": meta_text})
    return write_bytes(path, data, overwrite=overwrite)


def load_state(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    path = Path(path)
    tensors, info = _read_verified(path, None)
    if info.get("format") != STATE_FORMAT:
        raise InputError(path, f"not an MLNNet state file (format {info.get('format')!r})")
    try:
        meta = json.loads(info.get("meta", "{}"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"state metadata is not valid JSON ({exc})") from None
    return tensors, meta


def optimizer_to_state(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors and JSON (for :func:`save_state`)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in state_dict["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{name}"] = value
            else:
                scalars.setdefault(str(idx), {})[name] = value
    meta = {"param_groups": state_dict["param_groups"], "scalars": scalars,
            "tensor_keys": sorted(tensors)}
    return tensors, json.loads(json.dumps(meta))  # lists for tuples, checks it is JSON-able


def optimizer_from_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`optimizer_to_state`: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {}
    for key in meta.get("tensor_keys", []):
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = tensors[key]
    for idx, entry in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(entry)
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}
