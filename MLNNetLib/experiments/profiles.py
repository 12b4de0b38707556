"""Experiment sizes as data: `demo` and `quick` run on a 2-core CPU, `full` is for a GPU.

Measured (2 idle cores, fresh folders, test images scored in worker processes): `make demo` 12.0 min and
`ablation --profile quick` 24.6 min on an AMD EPYC (four / five trainings, 5 / 20 test images per style; the
demo also the eight real films); 14.3 and 31.6 min there scored in one process."""

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
