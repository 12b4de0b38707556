"""Train/validation splits by patient, never by image: a hold-out fraction, K folds (cross-validation as in
nnU-Net), or an explicit split file. Orders come from a stable hash (the same in every process, rank and
``--resume``, unlike Python's salted ``hash``).

Split file (JSON): ``{"train": [patient ids], "validation": [patient ids]}`` ("val" is accepted for
"validation"); a patient in both lists, or one the data does not hold, is an error; patients in neither list
are left out (logged). Every run writes the split it used to ``split.json`` in its folder, in this format,
so it can be reused with ``--split``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that does not depend on PYTHONHASHSEED, the process or the platform."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def patients_of(items: Sequence[dict]) -> list[str]:
    return sorted({str(i.get("patient_id", i["id"])) for i in items})


def _ordered(patients: list[str], seed: int) -> list[str]:
    return sorted(patients, key=lambda p: (stable_hash(f"{seed}:{p}"), p))


def _select(items: Sequence[dict], val_patients: set[str], train_patients: set[str] | None = None) -> tuple[list[dict], list[dict]]:
    train = [i for i in items if str(i.get("patient_id", i["id"])) not in val_patients
             and (train_patients is None or str(i.get("patient_id", i["id"])) in train_patients)]
    val = [i for i in items if str(i.get("patient_id", i["id"])) in val_patients]
    return train, val


def holdout_split(items: Sequence[dict], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """A ``val_fraction`` of the patients (at least one when there are two or more) for validation."""
    patients = _ordered(patients_of(items), seed)
    n_val = int(round(len(patients) * val_fraction))
    n_val = min(max(n_val, 1 if len(patients) > 1 else 0), max(len(patients) - 1, 0))
    return _select(items, set(patients[:n_val]))


def fold_split(items: Sequence[dict], folds: int, fold: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Patients dealt round-robin into ``folds`` folds in stable-hash order; fold ``fold`` validates."""
    if folds < 2:
        raise InputError(None, f"--folds must be at least 2, got {folds}")
    if not 0 <= fold < folds:
        raise InputError(None, f"--fold must be in 0..{folds - 1}, got {fold}")
    patients = _ordered(patients_of(items), seed)
    if len(patients) < folds:
        raise InputError(None, f"{folds} folds need at least {folds} patients; the data holds {len(patients)}")
    return _select(items, {p for n, p in enumerate(patients) if n % folds == fold})


def read_split_file(path: str | os.PathLike, items: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    from MLNNetLib.datasets.manifest import read_json_object

    path = Path(path)
    data = read_json_object(path, "split file", '{"train": [patient ids], "validation": [patient ids]}')
    val_key = "validation" if "validation" in data else "val"
    lists = {}
    for key in ("train", val_key):
        value = data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(path, f'split file needs "{key}": a list of patient ids (strings)')
        lists[key] = set(value)
    both = sorted(lists["train"] & lists[val_key])
    if both:
        raise InputError(path, f"patient {both[0]} is in both train and validation ({len(both)} such patient(s))")
    known = set(patients_of(items))
    unknown = sorted((lists["train"] | lists[val_key]) - known)
    if unknown:
        raise InputError(path, f"patient {unknown[0]} is not in the data ({len(unknown)} unknown patient(s))")
    left_out = known - lists["train"] - lists[val_key]
    if left_out:
        log.warning("%s: %d patient(s) of the data are in neither list and are not used", path, len(left_out))
    train, val = _select(items, lists[val_key], lists["train"])
    if not train:
        raise InputError(path, "the split leaves no training images")
    return train, val


def check_disjoint(train: Sequence[dict], val: Sequence[dict], where: Any = None) -> None:
    shared = sorted(set(patients_of(train)) & set(patients_of(val)))
    if shared:
        raise InputError(where, f"patient {shared[0]} has images in both the training and the validation split")


def choose_split(items: Sequence[dict], val_fraction: float, seed: int, folds: int | None = None, fold: int | None = None,
                 split_file: str | None = None) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """(train, validation, description) by the one method asked for."""
    if split_file and folds:
        raise InputError(split_file, "give either --split or --folds/--fold, not both")
    if split_file:
        train, val = read_split_file(split_file, items)
        how = {"method": "file", "file": str(split_file)}
    elif folds:
        if fold is None:
            raise InputError(None, "--folds needs --fold (0-based)")
        train, val = fold_split(items, folds, fold, seed)
        how = {"method": "folds", "folds": folds, "fold": fold, "seed": seed}
    else:
        if fold is not None:
            raise InputError(None, "--fold needs --folds")
        train, val = holdout_split(items, val_fraction, seed)
        how = {"method": "holdout", "val_fraction": val_fraction, "seed": seed}
    check_disjoint(train, val, split_file)
    how.update(train_patients=patients_of(train), validation_patients=patients_of(val))
    log.info("split by patient (%s): %d images of %d patients for training, %d images of %d patients for validation",
             how["method"], len(train), len(how["train_patients"]), len(val), len(how["validation_patients"]))
    return train, val, how


def split_document(how: dict[str, Any]) -> dict[str, Any]:
    """What a run writes to split.json (readable back with --split)."""
    return {"train": how["train_patients"], "validation": how["validation_patients"],
            "how": {k: v for k, v in how.items() if not k.endswith("_patients")}}
