"""Datasets on disk: images/<id>.nrrd or .dcm (the style's pixel type, pitch and photometric tag), masks/<id>.nrrd
(uint8, on the style's grid), manifest.json and a contact sheet. Paths in the manifest are relative so a folder
can be moved."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from MLNNetLib import __version__
from MLNNetLib.atomic import atomic_path, check_writable, write_text
from MLNNetLib.datasets.manifest import INDEX_FORMAT, SCHEMA_VERSION, write_manifest
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress, ensure
from MLNNetLib.synth.contact_sheet import as_read, make_preview, write_contact_sheet, write_style_sheet
from MLNNetLib.synth.domains import DOMAINS, get_domain
from MLNNetLib.synth.files import image_suffix, write_nrrd, write_style_image
from MLNNetLib.synth.generate import (DEFAULT_SHAPE, DEFAULT_SPACING_MM, GENERATOR, build_scene, check_parameters,
                                      render_case)

log = get_logger(__name__)
MANIFEST = "manifest.json"
SHEET_SAMPLES = 6
ITEM_KEYS = ("id", "image", "label", "mask", "domain", "seed", "case_label", "n_calcifications", "n_clusters", "calcifications")


def case_seed(seed: int, index: int) -> int:
    """Seed of case ``index`` of a dataset: hashed, so datasets made with seeds 0 and 1 share no case,
    while two domains made with the same seed hold the same cases (same masks)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


def _targets(out: Path, ids: Sequence[str], overwrite: bool, suffix: str = ".nrrd") -> None:
    """Refuse before writing anything, so a refused run leaves no half dataset behind."""
    paths = [out / MANIFEST] + [out / "images" / f"{i}{suffix}" for i in ids] + [out / "masks" / f"{i}.nrrd" for i in ids]
    for p in paths:
        check_writable(p, overwrite)


def write_datasets(domains: Sequence[str], count: int, seed: int, out: str | os.PathLike,
                   shape: tuple[int, int] = DEFAULT_SHAPE, spacing_mm: float = DEFAULT_SPACING_MM,
                   case_label: str | None = None, overwrite: bool = False, progress: Progress | None = None,
                   subfolders: bool = True) -> dict[str, Path]:
    """Write one dataset per domain (out/<domain>/ when ``subfolders``); each scene is built once and
    rendered through every domain, so the folders hold the same cases. Returns {domain: manifest path}."""
    specs = [get_domain(d) for d in domains]
    shape, spacing_mm, label = check_parameters(shape, spacing_mm, case_label)
    if int(count) < 1:
        raise InputError(None, f"count must be >= 1, got {count}")
    out = Path(out)
    progress = ensure(progress)
    dirs = {s.name: (out / s.name if subfolders else out) for s in specs}
    seeds = [case_seed(seed, i) for i in range(int(count))]
    ids = {s.name: [f"{s.name}_{seed}_{i:04d}" for i in range(int(count))] for s in specs}
    for s in specs:
        _targets(dirs[s.name], ids[s.name], overwrite, image_suffix(s))
        check_writable(dirs[s.name] / "contact_sheet.png", overwrite)
    if subfolders and len(specs) > 1:
        check_writable(out / MANIFEST, overwrite)
        check_writable(out / "contact_sheet.png", overwrite)
    items: dict[str, list[dict[str, Any]]] = {s.name: [] for s in specs}
    samples: dict[str, list] = {s.name: [] for s in specs}
    for i, cs in enumerate(seeds):
        progress.step(i, len(seeds), f"case {i + 1}/{len(seeds)}")
        scene = build_scene(cs, shape, spacing_mm, label)
        for s in specs:
            image, mask, info = render_case(scene, s)
            cid = ids[s.name][i]
            d = dirs[s.name]
            image_rel = f"images/{cid}{image_suffix(s)}"
            write_style_image(image, s, info, d / image_rel, overwrite)
            write_nrrd(mask.astype(np.uint8), info["spacing_mm"], d / "masks" / f"{cid}.nrrd", overwrite)
            item = {"id": cid, "image": image_rel, "mask": f"masks/{cid}.nrrd", "domain": s.name,
                    "seed": cs, "case_label": info["case_label"], "n_calcifications": info["n_calcifications"],
                    "n_clusters": info["n_clusters"], "view": info["view"], "laterality": info["laterality"],
                    "breast_density": info["breast_density"],
                    "calcifications": [{k: c[k] for k in ("centroid_px", "diameter_mm", "shape", "cluster")}
                                       for c in info["calcifications"]],
                    "distractors": info["distractors"]}
            items[s.name].append(item)
            if len(samples[s.name]) < SHEET_SAMPLES:
                samples[s.name].append((make_preview(cid, as_read(image, s), mask, info), info["shape"]))
    progress.step(len(seeds), len(seeds), "done")
    manifests: dict[str, Path] = {}
    for s in specs:
        d = dirs[s.name]
        write_contact_sheet([p for p, _ in samples[s.name]], d / "contact_sheet.png", overwrite)
        manifests[s.name] = write_manifest(
            d / MANIFEST, "synth", _schema_items(items[s.name], s.pixel_mm or spacing_mm, seed), overwrite,
            generator=GENERATOR, version=__version__, domain=s.name, domain_spec=s.to_dict(), spacing_mm=spacing_mm,
            shape=list(shape), seed=int(seed), case_label=label or "mixed", pixel_type="uint16", bits=s.bits,
            photometric=s.photometric, pixel_spacing_mm=s.pixel_mm or spacing_mm,
            image_shape=list(samples[s.name][0][1]) if samples[s.name] else list(shape),
            read_polarity="dense-dark" if s.air_bright_when_read else "dense-bright",
            cluster_convention="0 = isolated, 1..n = cluster id")
        log.info("synth: wrote %d %s cases to %s", len(items[s.name]), s.name, d)
    if subfolders and len(specs) > 1:
        index = {"format": INDEX_FORMAT, "schema_version": SCHEMA_VERSION, "generator": GENERATOR,
                 "version": __version__, "seed": int(seed), "count": int(count),
                 "domains": {s.name: f"{s.name}/{MANIFEST}" for s in specs}}
        write_text(out / MANIFEST, json.dumps(index, indent=1), overwrite)
        write_style_sheet([(s.name, [p for p, _ in samples[s.name][:2]]) for s in specs], out / "contact_sheet.png", overwrite)
    return manifests


def write_dataset(domain: str, count: int, seed: int, out: str | os.PathLike, shape: tuple[int, int] = DEFAULT_SHAPE,
                  spacing_mm: float = DEFAULT_SPACING_MM, case_label: str | None = None, overwrite: bool = False,
                  progress: Progress | None = None) -> Path:
    """Write ``count`` cases of one domain into ``out``; returns the manifest path. ``domain="all"`` writes
    one sub-folder per domain plus an index manifest."""
    if domain == "all":
        write_datasets(list(DOMAINS), count, seed, out, shape, spacing_mm, case_label, overwrite, progress)
        return Path(out) / MANIFEST
    return write_datasets([domain], count, seed, out, shape, spacing_mm, case_label, overwrite, progress,
                          subfolders=False)[get_domain(domain).name]


def _schema_items(items: list[dict[str, Any]], spacing_mm: float, seed: int) -> list[dict[str, Any]]:
    """The generator's items as manifest schema version 1 cases (MLNNetLib.datasets.manifest); every field the
    experiments use is kept. One scene rendered in several domains is one patient (same id in every domain)."""
    out = []
    for item in items:
        case = {k: v for k, v in item.items() if k != "mask"}
        index = item["id"].rsplit("_", 1)[-1]
        case.update(label=item["mask"], label_kind="calcification", patient_id=f"synth_{int(seed)}_{index}",
                    spacing_mm=[float(spacing_mm)] * 2, spacing_source="generator", pathology=item["case_label"])
        out.append(case)
    return out


def load_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """Read a dataset folder's manifest (schema-validated, MLNNetLib.datasets.manifest) with absolute
    image/label paths, checked to exist; ``item["mask"]`` is the label. For an ``--domain all`` folder,
    returns {"domains": {name: manifest}} plus the index fields."""
    from MLNNetLib.datasets.manifest import is_index, load_manifest as load_any, read_json

    directory = Path(directory)
    path = directory / MANIFEST if directory.is_dir() else directory
    if not path.is_file():
        raise InputError(path, "no synthetic-dataset manifest here (expected manifest.json)")
    data = read_json(path)
    if data.get("generator") != GENERATOR:
        raise InputError(path, f"not a manifest written by {GENERATOR}")
    root = path.parent.resolve()
    if is_index(data):
        data["domains"] = {name: load_manifest(root / rel) for name, rel in data["domains"].items()}
        return data
    manifest = load_any(path)
    for item in manifest.items:
        missing = [k for k in ITEM_KEYS if k not in item]
        if missing:
            raise InputError(path, f"item {item.get('id', '?')} lacks {', '.join(missing)}")
    data = {k: v for k, v in manifest.data.items() if k != "items"}
    data.update(items=manifest.items, root=str(root))
    return data
