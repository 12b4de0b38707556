"""Where training's cases come from, decided before anything is written: manifest cases of the source domain,
a patient-level split, the label policy, the training spacing, and a store (in memory, or the prepare-once
cache) that the tile sampler reads.

``plan_data`` only reads manifests and headers (so a bad input fails before the run folder exists);
``open_data`` prepares the cases (rank 0 builds the cache, the other ranks open it after a barrier).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from MLNNetLib.datasets.splits import choose_split
from MLNNetLib.errors import InputError
from MLNNetLib.labels.policy import LabelPolicy
from MLNNetLib.log import get_logger
from MLNNetLib.training.config import TrainConfig
from MLNNetLib.training.data import MemoryStore, find_items, memory_estimate_bytes, prepare_case, training_spacing

log = get_logger(__name__)


@dataclass
class DataPlan:
    domain: str
    train_items: list[dict]
    val_items: list[dict]
    split: dict[str, Any]
    policy: LabelPolicy
    spacing: tuple[float, float]
    label_kinds: dict[str, int]
    skipped: int


@dataclass
class TrainingData:
    plan: DataPlan
    train: Any  # a store (MemoryStore or CacheStore) of the training cases
    val: Any  # a store of the validation cases (the training store when there are none)
    cases: Any  # list[Case] or LazyCases: whole images for the statistics pass
    approximate: int = 0
    info: dict[str, Any] = field(default_factory=dict)


def resolve_domain(data: str) -> str:
    """The one domain the data holds (an InputError names the domains when there are several)."""
    return str(find_items(data, None)[0].get("domain"))


def plan_data(cfg: TrainConfig) -> DataPlan:
    items = find_items(cfg.data, cfg.source_domain)
    domain = cfg.source_domain or str(items[0].get("domain"))
    if cfg.max_images:
        items = items[: cfg.max_images]
    policy = LabelPolicy(region=cfg.region_labels, points=cfg.points_labels)
    policy.check_kinds(items, cfg.data)
    train, val, how = choose_split(items, cfg.val_fraction, cfg.seed, cfg.folds, cfg.fold, cfg.split_file)
    kinds = Counter(i.get("label_kind", "calcification") for i in train + val)
    usable = [i for i in train if not policy.skips(i.get("label_kind", "calcification"))]
    val_usable = [i for i in val if not policy.skips(i.get("label_kind", "calcification"))]
    skipped = len(train) + len(val) - len(usable) - len(val_usable)
    if not usable:
        raise InputError(cfg.data, f"no training case left: label kinds {dict(kinds)} and label policy {policy.to_dict()}")
    if skipped:
        log.info("%d case(s) left out by the label policy %s", skipped, policy.to_dict())
    if kinds.get("points"):
        log.info("%d case(s) with point labels: masks by the library's level tracing (half maximum in a %g mm window)",
                 kinds["points"], policy.window_mm)
    if kinds.get("region") and policy.region == "detect":
        log.warning("%d case(s) with region labels: calcification masks found inside each region by the classical "
                    "detector; these labels are approximate", kinds["region"])
    spacing = training_spacing(usable + val_usable, cfg.spacing)
    if not cfg.cache:
        need = memory_estimate_bytes(usable + val_usable)
        if need > cfg.max_memory_gb * 2**30:
            raise InputError(cfg.data, f"holding these {len(usable) + len(val_usable)} images in memory needs about "
                                       f"{need / 2**30:.1f} GiB (more than --max-memory-gb {cfg.max_memory_gb:g}); "
                                       "pass --cache DIR to train from the memory-mapped cache")
    return DataPlan(domain, usable, val_usable, how, policy, spacing, dict(kinds), skipped)


def open_data(plan: DataPlan, cfg: TrainConfig, is_main: bool, barrier, progress=None) -> TrainingData:
    if cfg.cache:
        from MLNNetLib.training.cache import CacheStore, LazyCases, build_cache

        every = plan.train_items + plan.val_items
        if is_main:
            store = build_cache(every, Path(cfg.cache), plan.spacing, plan.policy, progress, workers=max(1, cfg.workers))
        barrier()
        if not is_main:
            store = CacheStore.open(cfg.cache)
        train = store.subset([i["id"] for i in plan.train_items])
        val = store.subset([i["id"] for i in plan.val_items]) if plan.val_items else train
        cases = LazyCases(train)
        infos = [c.info for c in train.cases]
    else:
        cases = [prepare_case(i, plan.spacing, plan.policy) for i in plan.train_items]
        val_cases = [prepare_case(i, plan.spacing, plan.policy) for i in plan.val_items]
        train = MemoryStore(cases)
        val = MemoryStore(val_cases) if val_cases else MemoryStore(cases[:1])
        infos = [c.info for c in cases]
    approximate = sum(1 for i in infos if i.get("approximate"))
    resampled = sum(1 for i in infos if "resampled_from_mm" in i)
    if resampled:
        log.info("%d training image(s) resampled to %s mm", resampled, " x ".join(f"{s:.4g}" for s in plan.spacing))
    return TrainingData(plan, train, val, cases, approximate, {"resampled": resampled})


def data_header(data: TrainingData, cfg: TrainConfig) -> dict[str, Any]:
    """What the checkpoint records about the data (split, labels, spacing, cache)."""
    p = data.plan
    return {"split": {k: v for k, v in p.split.items() if not k.endswith("_patients")},
            "train_patients": len(p.split["train_patients"]), "validation_patients": len(p.split["validation_patients"]),
            "label_kinds": p.label_kinds, "label_policy": p.policy.to_dict(), "left_out_by_label_policy": p.skipped,
            "approximate_labels": data.approximate, "resampled_images": data.info.get("resampled", 0),
            "cache": str(cfg.cache) if cfg.cache else None}
