"""Where calcifications go: clusters grown member by member, plus scattered isolated ones.

Why clusters are grown this way: BI-RADS calls calcifications "grouped" when at least five lie within 1 cm,
and the quantifier (seed 002, ``MLNNetLib.quantify.clusters``) joins calcifications whose masks are at most
~1.1 mm apart (a 16 x 16 px box at 0.068 mm) and calls a group of more than five a cluster. Real clusters
that this rule finds are therefore chains of close neighbours. Each new member is placed next to an existing
one with an edge-to-edge gap drawn from ``GAP_MM`` (malignant, fine pleomorphic clusters denser than benign
ones), never closer than ``MIN_GAP_MM`` to any other calcification (masks never touch) and within
``CLUSTER_RADIUS_MM`` of the first member (the group fits in 1 cm). Malignant clusters are segmental (grown
along a duct direction) 40 % of the time. Isolated calcifications stay far from every cluster.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from MLNNetLib.synth.anatomy import Anatomy
from MLNNetLib.synth.calcifications import DENSITY_MU, FAINT_FRACTION, MORPHOLOGY, Calc

GAP_MM = {"benign": (0.35, 0.75), "malignant": (0.3, 0.6)}
MIN_GAP_MM = 0.3
CLUSTER_RADIUS_MM = 5.0
MEMBERS = {"benign": (6, 12), "malignant": (10, 35)}
N_CLUSTERS = {"benign": [1, 1, 2], "malignant": [1, 1, 2, 2, 3]}
ISOLATED = {"benign": (3, 9), "malignant": (0, 4)}
CLUSTER_SEPARATION_MM = 15.0
ISOLATED_FROM_CLUSTER_MM = 12.0
ISOLATED_SEPARATION_MM = 8.0
BORDER_MM = 2.0
START_ROOM_MM = 2.0  # a cluster starts where at least this much allowed tissue surrounds it
DEPTH_SPREAD_MM = (0.5, 1.5)  # std of member depths about the cluster's depth


def _sample_kind(rng: np.random.Generator, label: str) -> tuple[str, float]:
    table = MORPHOLOGY[label]
    i = rng.choice(len(table), p=[p for _, p, _ in table])
    kind, _, (lo, hi) = table[i]
    return kind, float(rng.uniform(lo, hi))


def _density(rng: np.random.Generator, label: str) -> float:
    lo, hi = DENSITY_MU[label]
    return 0.5 * lo if rng.random() < FAINT_FRACTION else float(rng.uniform(lo, hi))


class _Placed:
    """Positions (mm) and diameters of everything placed so far, for the gap test."""

    def __init__(self) -> None:
        self.pos: list[np.ndarray] = []
        self.diam: list[float] = []

    def fits(self, p: np.ndarray, d: float) -> bool:
        if not self.pos:
            return True
        q = np.asarray(self.pos)
        gap = np.hypot(q[:, 0] - p[0], q[:, 1] - p[1]) - (np.asarray(self.diam) + d) / 2
        return bool(gap.min() >= MIN_GAP_MM)

    def add(self, p: np.ndarray, d: float) -> None:
        self.pos.append(np.asarray(p, float))
        self.diam.append(d)


def _room(allowed: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Distance (mm) to the nearest forbidden pixel, on a 4x coarser grid (conservative by one coarse pixel)."""
    f = 4
    h, w = allowed.shape
    coarse = np.pad(allowed, ((0, (-h) % f), (0, (-w) % f))).reshape(-(-h // f), f, -(-w // f), f).all(axis=(1, 3))
    room_c = np.maximum(ndimage.distance_transform_edt(coarse) - 1.0, 0.0) * f * spacing_mm
    return np.repeat(np.repeat(room_c, f, 0), f, 1)[:h, :w]


def _grow(rng: np.random.Generator, label: str, start_mm: np.ndarray, want: int, ok, placed: _Placed
          ) -> list[tuple[np.ndarray, str, float]]:
    """Members of one cluster: each next to an earlier one, gap from GAP_MM (see the module docstring)."""
    linear = label == "malignant" and rng.random() < 0.4
    theta = rng.uniform(0, np.pi)
    kind, d = _sample_kind(rng, label)
    if not (ok(start_mm) and placed.fits(start_mm, d)):
        return []
    got = [(start_mm, kind, d)]
    placed.add(start_mm, d)
    for _ in range(want * 40):
        if len(got) >= want:
            break
        if linear:  # grow from either end of the chain along the duct, with some wander
            parent = got[-1] if rng.random() < 0.5 else got[0]
            ang = theta + rng.normal(0, 0.35) + (0.0 if rng.random() < 0.5 else np.pi)
        else:
            parent = got[int(rng.integers(0, len(got)))]
            ang = rng.uniform(0, 2 * np.pi)
        kind, d = _sample_kind(rng, label)
        dist = (parent[2] + d) / 2 + rng.uniform(*GAP_MM[label])
        p = parent[0] + dist * np.array([np.sin(ang), np.cos(ang)])
        if np.hypot(*(p - start_mm)) + d / 2 > CLUSTER_RADIUS_MM or not ok(p) or not placed.fits(p, d):
            continue
        got.append((p, kind, d))
        placed.add(p, d)
    return got


def plan_calcifications(rng: np.random.Generator, label: str, allowed: np.ndarray, anat: Anatomy,
                        spacing_mm: float, thickness_mm: float) -> list[Calc]:
    """Every calcification of a case; clusters numbered 1..n in creation order, isolated ones 0."""
    h, w = allowed.shape
    border = int(np.ceil(BORDER_MM / spacing_mm))
    allowed = allowed.copy()
    allowed[:border] = allowed[-border:] = False
    allowed[:, :border] = allowed[:, -border:] = False

    def ok(p_mm: np.ndarray) -> bool:
        r, c = int(p_mm[0] / spacing_mm), int(p_mm[1] / spacing_mm)
        return 0 <= r < h and 0 <= c < w and bool(allowed[r, c])

    room = _room(allowed, spacing_mm)
    weight = 0.3 + anat.gland / max(float(anat.gland.max()), 1e-6)
    placed = _Placed()
    calcs: list[Calc] = []
    centres: list[np.ndarray] = []
    lo, hi = MEMBERS[label]
    roomy = np.argwhere(room >= START_ROOM_MM)
    for _ in range(int(rng.choice(N_CLUSTERS[label]))):
        for _attempt in range(30):
            cand = roomy
            for c in centres:
                cand = cand[np.hypot(*(cand * spacing_mm - c).T) >= CLUSTER_SEPARATION_MM]
            if len(cand) == 0:
                break
            wt = weight[cand[:, 0], cand[:, 1]]
            start = (cand[rng.choice(len(cand), p=wt / wt.sum())] + 0.5) * spacing_mm
            trial = _Placed()
            trial.pos, trial.diam = list(placed.pos), list(placed.diam)
            members = _grow(rng, label, start, int(rng.integers(lo, hi + 1)), ok, trial)
            if len(members) >= 6:  # "more than five": the quantifier's cluster
                placed = trial
                centres.append(start)
                cid = len(centres)
                z0 = rng.uniform(0.25, 0.75) * thickness_mm
                dz = rng.uniform(*DEPTH_SPREAD_MM)
                for p, kind, d in members:
                    z = float(np.clip(z0 + rng.normal(0, dz), 2.0, thickness_mm - 2.0))
                    calcs.append(Calc(centre_mm=(float(p[0]), float(p[1])), kind=kind, diameter_mm=d,
                                      mu=_density(rng, label), shape_seed=int(rng.integers(0, 2**32)), cluster=cid,
                                      depth_mm=z))
                break
    iso_cand = np.argwhere(allowed & (room >= 1.0))
    singles: list[np.ndarray] = []
    for _ in range(int(rng.integers(*ISOLATED[label]))):
        for _attempt in range(50):
            if len(iso_cand) == 0:
                break
            p = (iso_cand[rng.integers(0, len(iso_cand))] + 0.5) * spacing_mm
            if any(np.hypot(*(p - c)) < ISOLATED_FROM_CLUSTER_MM for c in centres):
                continue
            if any(np.hypot(*(p - q)) < ISOLATED_SEPARATION_MM for q in singles):
                continue
            kind, d = _sample_kind(rng, label)
            if placed.fits(p, d):
                placed.add(p, d)
                singles.append(p)
                calcs.append(Calc(centre_mm=(float(p[0]), float(p[1])), kind=kind, diameter_mm=d,
                                  mu=_density(rng, label), shape_seed=int(rng.integers(0, 2**32)), cluster=0,
                                  depth_mm=float(rng.uniform(0.1, 0.9) * thickness_mm)))
                break
    return calcs
