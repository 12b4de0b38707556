"""Synthetic benign / malignant cases for the end-to-end analysis, with seeds kept apart from training.

Seeds (why they cannot meet a training set): a synthetic dataset made with dataset seed ``s`` holds the cases
``synth.case_seed(s, i)`` (a SeedSequence hash of (s, i)). Training and test sets of ``mlnnet train`` /
``demo`` / ``ablation`` use small dataset seeds (the demo: ``seed`` for training, ``seed + 10000 + i`` for
tests). The analysis uses dataset seed ``ANALYSIS_SEED_BASE + 1000 * seed + 10 * domain_index + label_index``
(domain_index = position in ``synth.DOMAINS``, label_index 0 benign / 1 malignant), so every (domain, label)
gets its own scenes (no scene is shared between rows, which would leak between cross-validation folds) and
none of them comes from a training dataset seed. On top of that, when the checkpoint names its training
folder and that folder still exists, the case seeds are compared with the training manifests' seeds and an
overlap is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)

ANALYSIS_SEED_BASE = 50_000_000
LABELS = ("benign", "malignant")


def dataset_seed(seed: int, domain: str, label: str) -> int:
    """Dataset seed of one (domain, label) group of the analysis (see the module docstring)."""
    from MLNNetLib.synth import DOMAINS

    if domain not in DOMAINS:
        raise InputError(None, f"unknown domain {domain!r}; choose from {', '.join(DOMAINS)}")
    if label not in LABELS:
        raise InputError(None, f"case label {label!r} must be one of {LABELS}")
    if not 0 <= int(seed) < 10_000:
        raise InputError(None, f"--seed must be in 0..9999, got {seed}")
    return ANALYSIS_SEED_BASE + 1000 * int(seed) + 10 * list(DOMAINS).index(domain) + LABELS.index(label)


@dataclass(frozen=True)
class CaseGroup:
    domain: str
    label: str
    seed: int  # dataset seed
    folder: Path


def case_groups(out: Path, domains: list[str], seed: int) -> list[CaseGroup]:
    return [CaseGroup(d, lab, dataset_seed(seed, d, lab), out / "data" / d / lab) for d in domains for lab in LABELS]


def _matches(manifest: Path, group: CaseGroup, count: int, shape: tuple[int, int], spacing_mm: float) -> bool:
    m = json.loads(manifest.read_text())
    return (m.get("seed") == group.seed and len(m.get("items", [])) == count and list(m.get("shape", [])) == list(shape)
            and abs(float(m.get("spacing_mm", -1)) - spacing_mm) < 1e-9 and m.get("case_label") == group.label)


def ensure_cases(group: CaseGroup, count: int, shape: tuple[int, int], spacing_mm: float, overwrite: bool = False) -> list[dict]:
    """Write (or reuse, when the same request made it) one group's dataset; return its items with absolute
    paths, the dataset's photometric interpretation and the group's label."""
    from MLNNetLib.synth import load_manifest, write_dataset

    manifest = group.folder / "manifest.json"
    if manifest.exists() and _matches(manifest, group, count, shape, spacing_mm):
        log.info("reusing %d %s %s cases in %s", count, group.label, group.domain, group.folder)
    elif manifest.exists() and not overwrite:
        raise FileExistsError(f"{group.folder}: holds a different dataset; pass --overwrite or choose another --out")
    else:
        log.info("generating %d %s %s cases (dataset seed %d, %dx%d px at %g mm) in %s", count, group.label,
                 group.domain, group.seed, shape[0], shape[1], spacing_mm, group.folder)
        write_dataset(group.domain, count, group.seed, group.folder, shape=shape, spacing_mm=spacing_mm,
                      case_label=group.label, overwrite=overwrite)
    data = load_manifest(group.folder)
    items = []
    for item in data["items"]:
        if item["case_label"] != group.label:
            raise InputError(manifest, f"item {item['id']} is {item['case_label']}, expected {group.label}")
        # what read_image returns: MONOCHROME1 files are converted by the reader, only a wrong tag stays inverted
        inverted = data.get("read_polarity", "dense-bright") == "dense-dark"
        items.append({**item, "photometric": "MONOCHROME1" if inverted else "MONOCHROME2"})
    return items


def training_case_seeds(header: dict) -> tuple[set[int], str | None]:
    """Case seeds of the checkpoint's training data when its folder is still on disk (else empty, and why)."""
    data = ((header or {}).get("training") or {}).get("data")
    if not data:
        return set(), "the checkpoint does not name its training data"
    folder = Path(data)
    if not folder.exists():
        return set(), f"training data folder {folder} is not on this machine"
    seeds: set[int] = set()
    for manifest in sorted(folder.rglob("manifest.json")):
        try:
            content = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        seeds.update(int(it["seed"]) for it in content.get("items", []) if "seed" in it)
    return seeds, None


def check_disjoint(items: list[dict], header: dict, model_path: str | None) -> str:
    """Refuse analysis cases that were training cases; return a sentence saying what was checked."""
    train_seeds, why_not = training_case_seeds(header)
    if why_not:
        note = f"case seeds disjoint by construction (dataset seeds >= {ANALYSIS_SEED_BASE}); not cross-checked: {why_not}"
        log.info(note)
        return note
    shared = sorted({int(it["seed"]) for it in items} & train_seeds)
    if shared:
        raise InputError(model_path, f"{len(shared)} analysis case seed(s) were used to train this model "
                                     f"(e.g. {shared[:3]}); choose another --seed")
    note = f"checked: none of the {len(items)} case seeds is among the {len(train_seeds)} training case seeds"
    log.info(note)
    return note
