"""Training settings as one dataclass: what the CLI, train.py, the ablation and the demo all fill in."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# What each paper variant means for training (DESIGN §2-3; paper Table 3).
VARIANTS: dict[str, dict[str, Any]] = {
    "basenet": {"num_domains": 1, "augment": False, "arch": "swin_unet"},  # plain Swin-Unet, source images only
    "basenet-s": {"num_domains": 1, "augment": True, "arch": "swin_unet"},  # + Bézier/inversion aug., one shared LN
    "mln-net": {"num_domains": 2, "augment": True, "arch": "swin_unet"},  # + one LayerNorm branch per domain
    # Seed 002's Pro_UNeXt: plain (K=1, source images only) and with domain branches (BN and LN per domain)
    "pro_unext": {"num_domains": 1, "augment": False, "arch": "pro_unext"},
    "pro_unext-mln": {"num_domains": 2, "augment": True, "arch": "pro_unext"},
    # BigAug (Zhang et al. 2020; the paper's strongest Table 2 baseline): Basenet + deep stacked transformations
    "bigaug": {"num_domains": 1, "augment": False, "stacked_augment": True, "arch": "swin_unet"},
    # the same stack under the domain branches: each tile is transformed, then its Bezier/inverted versions made
    "pro_unext-mln-bigaug": {"num_domains": 2, "augment": True, "stacked_augment": True, "arch": "pro_unext"},
    "pro_unext-bigaug": {"num_domains": 1, "augment": False, "stacked_augment": True, "arch": "pro_unext"},
    # the same with local contrast normalisation of the input (model/input_norm.py)
    "pro_unext-mln-bigaug-lcn": {"num_domains": 2, "augment": True, "stacked_augment": True, "arch": "pro_unext",
                                 "input_norm": "local"},
    "pro_unext-lcn": {"num_domains": 1, "augment": False, "arch": "pro_unext", "input_norm": "local"},
    # the same, each tile through a random Bézier curve (the source-similar half of MLN-net's augmentation; the
    # inverted half is undone at test time by the polarity reading); measured, not the default (docs/decisions.md)
    "pro_unext-lcn-curves": {"num_domains": 1, "augment": False, "curve_augment": True, "arch": "pro_unext",
                             "input_norm": "local"},
    "pro_unext-bigaug-lcn": {"num_domains": 1, "augment": False, "stacked_augment": True, "arch": "pro_unext",
                             "input_norm": "local"},
    "pro_unext-mln-lcn": {"num_domains": 2, "augment": True, "arch": "pro_unext", "input_norm": "local"},
}


@dataclass
class TrainConfig:
    data: str
    out: str
    source_domain: str | None = "ffdm"  # None: the only domain the data holds
    config: str = "small"
    arch: str = "swin_unet"
    num_domains: int = 2
    augment: bool = True
    epochs: int = 10
    steps_per_epoch: int = 50
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-3
    warmup_steps: int = 50
    ema_decay: float = 0.0  # weight averaging (training/recipe/weight_average.py): EMA decay after warm-up; 0 = off
    loss: str = "paper"  # "paper" (summed soft Dice over branches) | "dice_bce" | "focal_dice" | "hd"
    finetune_hd_epochs: int = 0  # seed 002: the last N epochs fine-tune with the HD loss (focal + Dice + HD)
    recipe_augment: bool = False  # seed 002 §2.1 calcification-aware augmentation incl. copy-paste
    stacked_augment: bool = False  # BigAug deep stacked transformations of every tile (training/bigaug.py)
    curve_augment: bool = False  # each tile through a random Bézier curve, no inversion (training/curve_sampler.py)
    recipe: str | None = None  # a named recipe (training/recipe/presets.py, e.g. "pro_unext") setting the above
    init: str | None = None  # local timm/Microsoft Swin weights to start the Swin-Unet from (nothing is downloaded)
    skip: str | None = None  # Swin-Unet skip wiring override ("stage_input" official, "stage_output"); None = config's
    grad_checkpointing: bool = False  # recompute Swin blocks in backward (memory for compute); routing survives it
    input_norm: str | None = None  # network input normalisation override ("local" contrast, "none"); None = config's
    pos_weight: float = 20.0
    positive_fraction: float = 0.8  # share of tiles centred near a calcification
    val_fraction: float = 0.2
    val_tiles: int = 16  # per validated domain (each branch on its own domain's tiles)
    val_whole_every: int = 2  # whole validation images (false positives count) every N epochs and at the last; 0 = never
    curves: list[list[list[float]]] | None = None  # Bézier control-point pairs; None = paper defaults
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    overwrite: bool = False
    max_images: int | None = None
    folds: int | None = None  # cross-validation by patient: --folds K --fold i
    fold: int | None = None
    split_file: str | None = None  # explicit {"train": [patients], "validation": [patients]}
    cache: str | None = None  # prepare-once memory-mapped cache folder; None = cases held in memory
    workers: int = 0  # DataLoader worker processes (and cache-building processes)
    spacing: float | None = None  # training pixel spacing in mm; None = the images' own (median when mixed)
    region_labels: str = "refuse"  # what region labels become: refuse | detect | skip (MLNNetLib.labels.policy)
    points_labels: str = "trace"  # points labels: trace (level tracing) | skip
    max_memory_gb: float = 8.0  # the in-memory store refuses data larger than this (use cache)
    stats_tiles: int = 64  # tiles per domain for the exact post-training statistics pass
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
