"""Bright things that are NOT calcifications: vessels (some with calcified rims), skin markers, noise spikes.

They are in the image and never in the mask, so a model has to learn the size and shape of calcifications
instead of "small and bright". Each function also returns where it put things (for info and keep-out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from MLNNetLib.synth.anatomy import Anatomy
from MLNNetLib.synth.noise import rasterize_polylines, smooth


@dataclass
class Distractors:
    attenuation: np.ndarray  # vessels + rims + skin markers (before system blur)
    keep_out: np.ndarray  # bool: calcifications are not placed here (would merge with a distractor)
    vessels: list[dict] = field(default_factory=list)
    markers: list[dict] = field(default_factory=list)


def _vessel_path(rng: np.random.Generator, anat: Anatomy, spacing_mm: float) -> np.ndarray:
    """A long, gently winding path from the chest-wall side across the breast (numpy (row, col) points)."""
    h, w = anat.breast.shape
    chest_col = 0 if anat.laterality == "L" else w - 1
    step = 0.5
    rows = np.flatnonzero(anat.breast[:, chest_col])
    start = np.array([rng.choice(rows) if len(rows) else h / 2, abs(chest_col - 2.0)], dtype=float)
    target = np.array(anat.nipple) + rng.normal(0, 0.25 * h, 2)
    heading = np.arctan2(target[0] - start[0], target[1] - start[1])
    n = int(rng.uniform(50.0, 100.0) / spacing_mm / step)
    turn = np.cumsum(rng.normal(0, 0.02, n))
    turn = turn - np.linspace(0, turn[-1], n) * 0.5
    ang = heading + turn
    pts = start + np.cumsum(step * np.stack([np.sin(ang), np.cos(ang)], 1), 0)
    r = np.clip(pts[:, 0].astype(int), 0, h - 1)
    c = np.clip(pts[:, 1].astype(int), 0, w - 1)
    inside = anat.breast[r, c] & (anat.thickness[r, c] > 0.05)
    stop = np.argmin(inside) if not inside.all() else len(pts)
    return pts[:stop]


VESSEL_SIGMA_MM = (0.35, 0.7)  # two calibres; every vessel of one calibre is blurred in one pass
RIM_SIGMA_PX = 0.6
VESSEL_NATS = (0.04, 0.10)  # blood vs fat over a 2-4 mm vessel, in the generator's (compressed) tissue units
RIM_PROBABILITY = 0.15  # breast arterial calcification in ~10-15 % of screening mammograms
MARKERS_PER_CASE = (0, 0, 0, 0, 0, 0, 0, 0, 1, 2)  # skin markers in ~20 % of cases


def add_vessels_and_markers(rng: np.random.Generator, anat: Anatomy, spacing_mm: float) -> Distractors:
    shape = anat.breast.shape
    step = 0.5
    lines = [[] for _ in VESSEL_SIGMA_MM]
    rims: list[np.ndarray] = []
    rim_w: list[np.ndarray] = []
    vessels: list[dict] = []
    for _ in range(int(rng.integers(2, 6))):
        pts = _vessel_path(rng, anat, spacing_mm)
        if len(pts) < 20:
            continue
        k = int(rng.integers(0, len(VESSEL_SIGMA_MM)))
        width_mm = 2.5 * VESSEL_SIGMA_MM[k]
        lines[k].append((pts, rng.uniform(*VESSEL_NATS)))
        rimmed = bool(rng.random() < RIM_PROBABILITY)
        if rimmed:  # calcified vessel wall: two thin bright tracks ("tram lines"), long and parallel
            d = np.gradient(pts, axis=0)
            normal = np.stack([d[:, 1], -d[:, 0]], 1) / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)[:, None]
            half = 0.5 * width_mm / spacing_mm
            n = max(20, int(len(pts) * rng.uniform(0.4, 1.0)))
            amp = rng.uniform(0.15, 0.4)
            for side in (-1.0, 1.0):
                rims.append(pts[:n] + side * half * normal[:n])
                rim_w.append(np.full(n, amp))
        vessels.append({"length_mm": round(float(len(pts) * step * spacing_mm), 1), "width_mm": round(width_mm, 2),
                        "calcified_rim": rimmed})
    att = np.zeros(shape, dtype=np.float32)
    centre = np.zeros(shape, dtype=np.float32)
    for k, group in enumerate(lines):
        if not group:
            continue
        sig = max(VESSEL_SIGMA_MM[k] / spacing_mm, 0.7)
        pts = np.concatenate([p for p, _ in group])
        acc = rasterize_polylines(shape, pts, np.concatenate([np.full(len(p), a) for p, a in group]))
        att += smooth(acc, sig) * (step * np.sqrt(2 * np.pi) * sig)
        centre += rasterize_polylines(shape, pts, np.ones(len(pts)))
    if rims:
        acc = rasterize_polylines(shape, np.concatenate(rims), np.concatenate(rim_w))
        att += smooth(acc, RIM_SIGMA_PX) * (step * np.sqrt(2 * np.pi) * RIM_SIGMA_PX)
    # keep calcifications off vessels: everything within 0.6 mm of the widest tube around a centreline
    reach = int(np.ceil((2.5 * max(VESSEL_SIGMA_MM) / 2 + 0.6) / spacing_mm))
    keep = smooth(centre, max(reach / 3.0, 1.0)) > 1e-3 if centre.any() else np.zeros(shape, bool)

    markers: list[dict] = []
    edge = np.argwhere(anat.breast & (anat.distance_mm < 1.5) & (anat.distance_mm > 0.5))
    h, w = shape
    if len(edge):
        edge = edge[(edge[:, 0] > 0.1 * h) & (edge[:, 0] < 0.9 * h)]
    n_markers = int(rng.choice(MARKERS_PER_CASE))
    rows, cols = np.ogrid[0:h, 0:w]
    for _ in range(n_markers if len(edge) else 0):
        r0, c0 = edge[rng.integers(0, len(edge))]
        radius = rng.uniform(1.0, 2.0) / spacing_mm  # 2-4 mm balls: much larger than any calcification
        lo_r, hi_r = int(max(r0 - radius - 2, 0)), int(min(r0 + radius + 3, h))
        lo_c, hi_c = int(max(c0 - radius - 2, 0)), int(min(c0 + radius + 3, w))
        rr, cc = rows[lo_r:hi_r], cols[:, lo_c:hi_c]
        q = 1.0 - ((rr - r0) ** 2 + (cc - c0) ** 2) / radius**2
        att[lo_r:hi_r, lo_c:hi_c] += rng.uniform(1.5, 2.5) * np.sqrt(np.clip(q, 0, 1))
        keep[lo_r:hi_r, lo_c:hi_c] |= q > -1.0
        markers.append({"center_px": [int(r0), int(c0)], "diameter_mm": round(float(2 * radius * spacing_mm), 2)})
    keep_out = ndimage.binary_dilation(keep, iterations=3)
    return Distractors(attenuation=att, keep_out=keep_out, vessels=vessels, markers=markers)


def spike_positions(rng: np.random.Generator, anat: Anatomy, avoid: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Isolated one-pixel detector spikes (hot pixels, dust) away from every calcification."""
    n = int(rng.integers(0, 16))
    far = ~ndimage.binary_dilation(avoid, iterations=max(6, int(round(0.8 / spacing_mm))))
    cand = np.argwhere(far & anat.breast)
    if n == 0 or len(cand) == 0:
        return np.zeros((0, 2), dtype=int)
    return cand[rng.integers(0, len(cand), n)]
