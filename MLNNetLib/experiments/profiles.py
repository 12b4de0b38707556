"""Experiment sizes as data: `quick` fits a 2-core CPU (the demo, `ablation --quick`), `full` is for a GPU."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    config: str
    shape: tuple[int, int]  # synthetic image size (rows, cols) at spacing_mm
    spacing_mm: float
    train_images: int
    test_images: int  # per domain
    epochs: int
    steps_per_epoch: int
    batch_size: int
    lr: float
    warmup_steps: int
    loss: str


PROFILES: dict[str, Profile] = {
    # quick: ~4 min of training per model on 2 idle cores (600 steps x 0.42 s), the paper's loss.
    "quick": Profile("quick", "small-stem", (768, 640), 0.1, 16, 4, 10, 60, 4, 1e-3, 30, "paper"),
    "full": Profile("full", "paper-stem", (1536, 1216), 0.1, 200, 20, 100, 200, 4, 2e-4, 500, "paper"),
}
