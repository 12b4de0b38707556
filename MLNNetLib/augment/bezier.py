"""Monotone cubic Bézier intensity remaps: the paper's source-similar augmentation (§3.1.1, DESIGN §2).

The curve runs from (0, 0) to (1, 1) with control points ``p1``, ``p2`` (each (x, y) in [0, 1]).
It is a parametric curve (x(t), y(t)); the remap needs y as a function of x, so the parameter t is
sampled densely, x(t) is checked to be non-decreasing, and y(x) is linearly interpolated from the
samples (a look-up table). With 8193 samples the interpolation error is below 1e-7.

x(t) is non-decreasing for every pair of control points in the unit square: x'(t)/3 =
x1(1-t)^2 + 2(x2-x1)(1-t)t + (1-x2)t^2 is a quadratic form that is non-negative because
(x1-x2)^2 <= x1(1-x2) whenever 0 <= x2 <= x1 <= 1 (and trivially when x2 >= x1). So bounds are the
only check needed; ``np.maximum.accumulate`` only removes floating-point jitter.
"""

from __future__ import annotations

import numpy as np

Point = tuple[float, float]
Curve = tuple[Point, Point]

#: The paper's two curves (control points (0.30, 0.70)/(0.70, 0.30) and the reverse); the identity
#: (the original image) is added by :func:`MLNNetLib.augment.expand_domains`.
PAPER_CURVES: list[Curve] = [((0.3, 0.7), (0.7, 0.3)), ((0.7, 0.3), (0.3, 0.7))]

LUT_SAMPLES = 8193


def _check_point(p: Point, name: str) -> tuple[float, float]:
    x, y = (float(v) for v in p)
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(f"Bézier control point {name}={p} must lie in [0, 1] x [0, 1]")
    return x, y


def bezier_points(p1: Point, p2: Point, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (x(t), y(t)) of the cubic Bézier (0,0), p1, p2, (1,1) at parameters ``t``."""
    (x1, y1), (x2, y2) = _check_point(p1, "p1"), _check_point(p2, "p2")
    t = np.asarray(t, dtype=np.float64)
    s = 1.0 - t
    b1, b2, b3 = 3.0 * s * s * t, 3.0 * s * t * t, t ** 3
    return b1 * x1 + b2 * x2 + b3, b1 * y1 + b2 * y2 + b3


def bezier_lut(p1: Point, p2: Point, samples: int = LUT_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """Dense samples (x, y) of the curve, x non-decreasing from 0 to 1, for ``np.interp``."""
    x, y = bezier_points(p1, p2, np.linspace(0.0, 1.0, int(samples)))
    return np.maximum.accumulate(x), y


def bezier_remap(img01: np.ndarray, p1: Point, p2: Point) -> np.ndarray:
    """Remap intensities in [0, 1] through the curve y(x); float32 out, end points 0 -> 0 and 1 -> 1."""
    x, y = bezier_lut(p1, p2)
    img = np.asarray(img01, dtype=np.float32)
    return np.interp(img, x, y).astype(np.float32)


def mean_curves(n_pairs: int) -> list[Curve]:
    """The paper's Fig. 8 "mean" strategy: a_n = 0.5·n/N for n = 1..N, curve ((a, 1-a), (1-a, a)).

    Note: n = N gives a = 0.5, i.e. the straight line (identity); the formula is kept literally.
    """
    if n_pairs < 1:
        raise ValueError("mean_curves: need at least one control-point pair")
    out = []
    for n in range(1, n_pairs + 1):
        a = 0.5 * n / n_pairs
        out.append(((a, 1.0 - a), (1.0 - a, a)))
    return out


def random_curves(n_pairs: int, seed: int) -> list[Curve]:
    """The paper's Fig. 8 "random" strategy: a ~ U(0, 0.5) (seeded), curve ((a, 1-a), (1-a, a))."""
    if n_pairs < 1:
        raise ValueError("random_curves: need at least one control-point pair")
    rng = np.random.default_rng(seed)
    return [((float(a), 1.0 - float(a)), (1.0 - float(a), float(a))) for a in rng.uniform(0.0, 0.5, n_pairs)]


def random_curve(rng: np.random.Generator, spread: float = 0.3) -> Curve:
    """One curve of the family ((a, 1 - a), (b, 1 - b)), a, b ~ U(0.5 - spread, 0.5 + spread).

    The family holds the identity (a = b = 0.5) and the paper's two curves (a, b = 0.3, 0.7 and 0.7, 0.3) and
    everything between: S-shaped, inverse-S, and concave or convex ones that brighten or darken the mid-tones.
    """
    if not 0.0 <= spread <= 0.5:
        raise ValueError(f"spread={spread} must lie in [0, 0.5]")
    a, b = rng.uniform(0.5 - spread, 0.5 + spread, 2)
    return (float(a), 1.0 - float(a)), (float(b), 1.0 - float(b))
