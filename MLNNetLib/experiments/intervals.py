"""Bootstrap intervals for per-image scores: a mean over 20 images is only worth its interval.

Images are the resampling unit (the scores of one image are not independent of each other, images are).
Comparisons between two methods are paired: both scored the same images, so the interval of the mean
difference is far tighter than two separate intervals would suggest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

N_BOOT = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    def cell(self, percent: bool = True) -> str:
        if self.n == 0 or math.isnan(self.mean):
            return "–"
        f = 100.0 if percent else 1.0
        return f"{f * self.mean:.1f} [{f * self.low:.1f}, {f * self.high:.1f}]"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and not math.isnan(float(v))], dtype=np.float64)


def bootstrap_mean(values: Sequence[float | None], n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> Interval:
    """Mean and percentile-bootstrap interval; None/NaN values (undefined metrics) are left out and not counted."""
    v = _clean(values)
    if len(v) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    a = (1.0 - level) / 2.0
    return Interval(float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1.0 - a)), len(v))


def paired_difference(a: Sequence[float | None], b: Sequence[float | None], n_boot: int = N_BOOT,
                      level: float = LEVEL, seed: int = 0) -> Interval:
    """Interval of mean(a - b) over the images both define (same order = same images)."""
    if len(a) != len(b):
        raise ValueError(f"paired_difference: {len(a)} and {len(b)} scores; pair them image by image")
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None
             and not math.isnan(float(x)) and not math.isnan(float(y))]
    return bootstrap_mean([x - y for x, y in pairs], n_boot, level, seed)
