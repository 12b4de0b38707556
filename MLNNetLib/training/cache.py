"""The prepare-once training cache: every case normalised, labelled and resampled to the training spacing once,
stored as ``.npy`` arrays that tiles are read from through memory maps, so training never holds the images in RAM.

Layout (``CACHE/``)::

    index.json                  format "mlnnet-tile-cache", version, spacing, label policy, one entry per case
    cases/<id>/image.npy        uint16, the [0, 1] normalised image x 65535 (rows, cols)
    cases/<id>/labels.npy       uint8, bit 0 = calcification, bit 1 = breast
    cases/<id>/calc.npy         int32 (n, 2) calcification pixels (positive tile centres)
    cases/<id>/breast.npy       int32 (m, 2) up to 20000 breast pixels (negative tile centres)
    cases/<id>/meta.json        the case's key and entry, written last: a case without it is rebuilt

A case's key hashes what its arrays depend on (image and label files' paths, sizes and modification times,
label kind, training spacing, label policy, normalisation, cache version): a changed input or setting rebuilds
just that case, an interrupted build resumes where it stopped. A tile read maps the two arrays, copies the
window and drops the maps, so the process's resident memory does not grow with the number of cached images
(``mlnnet benchmark train-data`` measures it).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from MLNNetLib.atomic import atomic_path, write_text
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress, ensure
from MLNNetLib.training.data import BREAST_SAMPLES, QUANT, Case, crop

log = get_logger(__name__)

CACHE_FORMAT = "mlnnet-tile-cache"
CACHE_VERSION = 1
INDEX = "index.json"
CALC_BIT, BREAST_BIT = 1, 2


@dataclass
class CachedCase:
    id: str
    shape: tuple[int, int]
    n_calc: int
    n_breast: int
    key: str
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CachedCase":
        return cls(str(d["id"]), tuple(int(v) for v in d["shape"]), int(d["n_calc"]), int(d["n_breast"]), str(d["key"]),
                   dict(d.get("info") or {}))


def _stat(path: str | None) -> list:
    if not path:
        return [None]
    p = Path(path)
    st = p.stat()
    return [str(p.resolve()), st.st_size, st.st_mtime_ns]


def case_key(item: dict, spacing: tuple[float, float], policy: Any) -> str:
    """What a case's cached arrays depend on, hashed."""
    from MLNNetLib.preprocess import LOWER_PERCENTILE, UPPER_PERCENTILE

    label_files = [item.get("label")]
    if item.get("label_kind") == "points" and item.get("label"):
        from MLNNetLib.labels.points import points_mask_file

        outlines = points_mask_file(item["label"])
        label_files.append(str(outlines) if outlines else None)
    parts = {"version": CACHE_VERSION, "image": _stat(item["image"]), "labels": [_stat(f) for f in label_files],
             "label_kind": item.get("label_kind"), "manifest_spacing": item.get("spacing_mm"),
             "spacing": [round(float(s), 9) for s in spacing], "policy": policy.to_dict(),
             "normalisation": [LOWER_PERCENTILE, UPPER_PERCENTILE], "breast_samples": BREAST_SAMPLES, "quant": QUANT}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _save(path: Path, array: np.ndarray) -> None:
    with atomic_path(path, overwrite=True) as tmp:
        np.save(tmp, array)


def write_case(folder: Path, case: Case, key: str) -> CachedCase:
    """Store one prepared case; meta.json last, so a half-written case is never taken as done."""
    labels = (case.mask > 0).astype(np.uint8) * CALC_BIT | case.breast.astype(np.uint8) * BREAST_BIT
    _save(folder / "image.npy", np.round(case.image * QUANT).astype(np.uint16))
    _save(folder / "labels.npy", labels)
    _save(folder / "calc.npy", case.calc_coords.astype(np.int32).reshape(-1, 2))
    _save(folder / "breast.npy", case.breast_coords.astype(np.int32).reshape(-1, 2))
    entry = CachedCase(case.id, tuple(case.image.shape), len(case.calc_coords), len(case.breast_coords), key, case.info)
    write_text(folder / "meta.json", json.dumps(entry.to_dict()), overwrite=True)
    return entry


def _read_entry(folder: Path) -> CachedCase | None:
    try:
        return CachedCase.from_dict(json.loads((folder / "meta.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _check_folder(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise InputError(root, "cache path exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not (root / INDEX).exists() and not (root / "cases").is_dir():
        raise InputError(root, "folder is not empty and is not a training cache (no index.json); choose another --cache")
    if (root / INDEX).exists():
        try:
            index = json.loads((root / INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(root / INDEX, f"unreadable cache index ({exc})") from None
        if index.get("format") != CACHE_FORMAT or index.get("version") != CACHE_VERSION:
            raise InputError(root / INDEX, f"not a version-{CACHE_VERSION} {CACHE_FORMAT} index")


def _build_one(args: tuple) -> CachedCase:
    item, spacing, policy, folder, key = args
    from MLNNetLib.training.data import prepare_case

    return write_case(folder, prepare_case(item, spacing, policy), key)


def build_cache(items: Sequence[dict], root: Path, spacing: tuple[float, float], policy: Any,
                progress: Progress | None = None, workers: int = 1) -> "CacheStore":
    """Prepare every case not cached yet with the same key; return the store over ``items`` (in their order)."""
    root = Path(root)
    _check_folder(root)
    progress = ensure(progress)
    skipped = [i for i in items if policy.skips(i.get("label_kind", "calcification"))]
    wanted = [i for i in items if i not in skipped]
    keys = {i["id"]: case_key(i, spacing, policy) for i in wanted}
    entries: dict[str, CachedCase] = {}
    todo = []
    for item in wanted:
        entry = _read_entry(root / "cases" / item["id"])
        if entry is not None and entry.key == keys[item["id"]]:
            entries[item["id"]] = entry
        else:
            todo.append(item)
    log.info("cache %s: %d case(s) reused, %d to prepare at %s mm%s", root, len(entries), len(todo),
             " x ".join(f"{s:.4g}" for s in spacing), f"; {len(skipped)} skipped by the label policy" if skipped else "")
    jobs = [(item, tuple(spacing), policy, root / "cases" / item["id"], keys[item["id"]]) for item in todo]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for n, entry in enumerate(pool.map(_build_one, jobs)):
                progress.step(n, len(jobs), entry.id)
                entries[entry.id] = entry
    else:
        for n, job in enumerate(jobs):
            progress.step(n, len(jobs), job[0]["id"])
            entries[job[0]["id"]] = _build_one(job)
    progress.step(len(jobs), len(jobs), "done")
    ordered = [entries[i["id"]] for i in wanted]
    index = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "spacing_mm": [float(s) for s in spacing],
             "label_policy": policy.to_dict(), "image_encoding": "uint16 = round(normalised * 65535)",
             "labels_encoding": "uint8 bit 0 calcification, bit 1 breast",
             "cases": [e.to_dict() for e in ordered]}
    write_text(root / INDEX, json.dumps(index, indent=1), overwrite=True)
    return CacheStore(root, tuple(spacing), ordered, built=len(jobs), reused=len(ordered) - len(jobs))


class CacheStore:
    """Tiles of cached cases, read through short-lived memory maps (see the module docstring)."""

    def __init__(self, root: Path, spacing: tuple[float, float], cases: Sequence[CachedCase], built: int = 0, reused: int = 0):
        self.root, self.spacing, self.cases = Path(root), tuple(spacing), list(cases)
        self.built, self.reused = built, reused

    @classmethod
    def open(cls, root: str | os.PathLike) -> "CacheStore":
        root = Path(root)
        _check_folder(root)
        if not (root / INDEX).exists():
            raise InputError(root, "no cache index here (build it with `mlnnet prepare cache` or train --cache)")
        index = json.loads((root / INDEX).read_text(encoding="utf-8"))
        return cls(root, tuple(index["spacing_mm"]), [CachedCase.from_dict(c) for c in index["cases"]])

    def __len__(self) -> int:
        return len(self.cases)

    def ids(self) -> list[str]:
        return [c.id for c in self.cases]

    def subset(self, ids: Sequence[str]) -> "CacheStore":
        by_id = {c.id: c for c in self.cases}
        return CacheStore(self.root, self.spacing, [by_id[i] for i in ids if i in by_id], self.built, self.reused)

    def _path(self, i: int, name: str) -> Path:
        return self.root / "cases" / self.cases[i].id / name

    def calc_count(self, i: int) -> int:
        return self.cases[i].n_calc

    def _coord(self, i: int, name: str, n: int, rng: np.random.Generator) -> tuple[int, int]:
        coords = np.load(self._path(i, name), mmap_mode="r")
        r, c = coords[int(rng.integers(n))]
        return int(r), int(c)

    def random_calc(self, i: int, rng: np.random.Generator) -> tuple[int, int]:
        return self._coord(i, "calc.npy", self.cases[i].n_calc, rng)

    def random_breast(self, i: int, rng: np.random.Generator) -> tuple[int, int]:
        return self._coord(i, "breast.npy", self.cases[i].n_breast, rng)

    def crop(self, i: int, center: tuple[int, int], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        image = np.load(self._path(i, "image.npy"), mmap_mode="r")
        labels = np.load(self._path(i, "labels.npy"), mmap_mode="r")
        img = crop(image, center, size).astype(np.float32) / np.float32(QUANT)
        lab = crop(labels, center, size)
        del image, labels  # drop the maps: resident memory stays flat however many images are cached
        return img, (lab & CALC_BIT).astype(np.uint8), (lab & BREAST_BIT) > 0

    def case(self, i: int) -> Case:
        """One whole case in memory (validation tiles, statistics): loaded on demand, never all at once."""
        c = self.cases[i]
        image = np.load(self._path(i, "image.npy")).astype(np.float32) / np.float32(QUANT)
        labels = np.load(self._path(i, "labels.npy"))
        return Case(c.id, image, (labels & CALC_BIT).astype(np.uint8), (labels & BREAST_BIT) > 0, self.spacing,
                    np.load(self._path(i, "calc.npy")), np.load(self._path(i, "breast.npy")), dict(c.info))


class LazyCases:
    """A sequence of a store's cases that loads each one when it is used (for code written for lists of Case)."""

    def __init__(self, store: Any, indices: Sequence[int] | None = None):
        self.store = store
        self.indices = list(range(len(store))) if indices is None else list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return LazyCases(self.store, self.indices[key])
        return self.store.case(self.indices[key])

    def __iter__(self) -> Iterator[Case]:
        for i in self.indices:
            yield self.store.case(i)
