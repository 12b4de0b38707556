"""Experiment sizes as data: `demo` and `quick` run on a 2-core CPU, `full` is for a GPU.

Measured (2 idle cores, fresh folders, with the test-time augmentation): `make demo` 12.8 min on the earlier
machine, 14.3 min on an AMD EPYC (four trainings, 5 test images per style, the eight real films); `ablation
--profile quick` 26.8 and 31.6 min (five trainings, 20 test images per style)."""

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
    # demo: `make demo`: the quick profile's four trainings (same data, same models), 5 test images per style.
    "demo": Profile("demo", "small-stem", (640, 512), 0.1, 20, 5, 10, 30, 4, 1e-3, 30, "paper"),
    # quick: the benchmark on 2 cores: the demo's training, >= 20 test images per style for intervals.
    "quick": Profile("quick", "small-stem", (640, 512), 0.1, 20, 20, 10, 30, 4, 1e-3, 30, "paper"),
    "full": Profile("full", "paper-stem", (1536, 1216), 0.1, 200, 40, 100, 200, 4, 2e-4, 500, "paper"),
    # smoke: the test suite's end-to-end run of the whole study machinery (seconds, learns next to nothing)
    "smoke": Profile("smoke", "tiny-stem", (288, 256), 0.1, 4, 2, 1, 4, 2, 1e-3, 2, "paper"),
}
