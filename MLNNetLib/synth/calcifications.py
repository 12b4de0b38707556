"""Microcalcifications as physical objects: shapes sized in mm, stamped with partial-volume sampling.

The mask is defined on the physics, not on a rendering: a pixel is in the mask when the calcium path length
through it is at least 35 % of that calcification's peak, so every domain shares one ground truth.
Contrast is drawn per calcification (faint to dense) but never so low that the calcification stops being
a local extremum after ``MAX_BLUR_PX`` of system blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from MLNNetLib.synth.anatomy import Anatomy
from MLNNetLib.synth.domains import MAX_BLUR_PX

SUPERSAMPLE = 5
MASK_FRACTION = 0.35
MIN_PEAK = 0.12  # nats after MAX_BLUR_PX of blur: the faintest calcification still stands out of the noise
MIN_MARGIN = 0.06  # nats by which a calcification's peak exceeds its 2-px surround before noise

# (shape, probability, diameter range mm) per case label: benign = round/coarse/scattered/few,
# malignant = fine pleomorphic, linear and branching, numerous and dense.
MORPHOLOGY = {
    "benign": [("round", 0.55, (0.25, 0.6)), ("coarse", 0.30, (0.35, 0.6)), ("punctate", 0.15, (0.12, 0.25))],
    "malignant": [("pleomorphic", 0.40, (0.15, 0.45)), ("punctate", 0.25, (0.10, 0.22)),
                  ("linear", 0.20, (0.25, 0.6)), ("branching", 0.15, (0.3, 0.6))],
}
DENSITY_MU = {"benign": (1.5, 3.5), "malignant": (0.8, 2.2)}  # calcium attenuation, nats per mm of path


@dataclass
class CalcLayer:
    attenuation: np.ndarray  # float32 nats, before system blur
    mask: np.ndarray  # uint8 0/1
    calcifications: list[dict]
    n_clusters: int
    stamps: list[tuple[int, int, np.ndarray, np.ndarray]]  # (row0, col0, attenuation, mask) per calcification


def _ellipsoid(y, x, cy, cx, a, b, theta):
    ct, st = np.cos(theta), np.sin(theta)
    u = ((x - cx) * ct + (y - cy) * st) / a
    v = (-(x - cx) * st + (y - cy) * ct) / b
    return 2.0 * 0.5 * (a + b) * np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, None))


def _rod(y, x, p0, p1, r):
    d = np.asarray(p1, float) - np.asarray(p0, float)
    L2 = max(float(d @ d), 1e-12)
    t = np.clip(((y - p0[0]) * d[0] + (x - p0[1]) * d[1]) / L2, 0.0, 1.0)
    dist2 = (y - p0[0] - t * d[0]) ** 2 + (x - p0[1] - t * d[1]) ** 2
    return 2.0 * np.sqrt(np.clip(r * r - dist2, 0.0, None))


def _shape_thickness(kind: str, d: float, rng: np.random.Generator, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Calcium path length (mm) on fine (y, x) mm coordinates; the object fits in a disc of diameter d."""
    R = d / 2.0
    if kind in ("round", "punctate"):
        a = R
        return _ellipsoid(y, x, 0, 0, a, a * rng.uniform(0.75, 1.0), rng.uniform(0, np.pi))
    if kind in ("coarse", "pleomorphic"):
        n = int(rng.integers(2, 4)) if kind == "coarse" else int(rng.integers(2, 5))
        big = (0.55, 0.75) if kind == "coarse" else (0.3, 0.5)
        radii = R * rng.uniform(*big, n)
        centres = [np.zeros(2)]
        for i in range(1, n):  # chain blobs so the calcification stays one connected piece
            ang = rng.uniform(0, 2 * np.pi)
            c = centres[-1] + 0.6 * (radii[i - 1] + radii[i]) * np.array([np.sin(ang), np.cos(ang)])
            lim = R - radii[i]
            norm = np.hypot(*c)
            centres.append(c if norm <= lim else c * lim / max(norm, 1e-9))
        t = np.zeros_like(y)
        for c, r in zip(centres, radii):
            t = np.maximum(t, _ellipsoid(y, x, c[0], c[1], r, r * rng.uniform(0.6, 1.0), rng.uniform(0, np.pi)))
        return t
    r = rng.uniform(0.05, 0.075)
    theta = rng.uniform(0, np.pi)
    u = np.array([np.sin(theta), np.cos(theta)])
    if kind == "linear":
        return _rod(y, x, -(R - r) * u, (R - r) * u, r)
    # branching: a through-going rod plus one side branch from the middle (a "Y")
    t = _rod(y, x, -(R - r) * u, (R - r) * u, r)
    phi = theta + rng.choice([-1, 1]) * rng.uniform(0.5, 1.0)
    v = np.array([np.sin(phi), np.cos(phi)]) * (R - r) * rng.uniform(0.6, 1.0)
    return np.maximum(t, _rod(y, x, np.zeros(2), v, r * rng.uniform(0.8, 1.0)))


def stamp(kind: str, d_mm: float, spacing_mm: float, rng: np.random.Generator) -> np.ndarray:
    """Path length per pixel (mm), partial-volume averaged, on a small square centred on the object."""
    half = int(np.ceil(d_mm / 2 / spacing_mm)) + 2
    n = 2 * half + 1
    off = rng.uniform(-0.5, 0.5, 2) * spacing_mm
    fine = (np.arange(n * SUPERSAMPLE) + 0.5) / SUPERSAMPLE * spacing_mm - (half + 0.5) * spacing_mm
    y, x = np.meshgrid(fine - off[0], fine - off[1], indexing="ij")
    t = _shape_thickness(kind, d_mm, rng, y, x)
    return t.reshape(n, SUPERSAMPLE, n, SUPERSAMPLE).mean(axis=(1, 3))


def _sample_kind(rng: np.random.Generator, label: str) -> tuple[str, float]:
    table = MORPHOLOGY[label]
    i = rng.choice(len(table), p=[p for _, p, _ in table])
    kind, _, (lo, hi) = table[i]
    return kind, float(rng.uniform(lo, hi))


def _plan_positions(rng: np.random.Generator, label: str, allowed: np.ndarray, anat: Anatomy,
                    spacing_mm: float) -> list[tuple[np.ndarray, int, str, float]]:
    """(centre px, cluster id (0 = isolated), shape, diameter mm) for every calcification of the case."""
    gap = max(4.0, 0.4 / spacing_mm)
    if label == "benign":
        n_clusters = int(rng.choice([1, 1, 2]))
        members = lambda: int(rng.integers(5, 11))  # noqa: E731
        radius_mm = (3.0, 5.0)
        n_isolated = int(rng.integers(3, 9))
    else:
        n_clusters = int(rng.choice([1, 1, 2, 2, 3]))
        members = lambda: int(rng.integers(10, 31))  # noqa: E731
        radius_mm = (2.0, 4.5)
        n_isolated = int(rng.integers(0, 4))
    f = 4  # room to the nearest forbidden pixel, on a 4x coarser grid (conservative by one coarse pixel)
    h, w = allowed.shape
    coarse = np.pad(allowed, ((0, (-h) % f), (0, (-w) % f))).reshape(-(-h // f), f, -(-w // f), f).all(axis=(1, 3))
    room_c = np.maximum(ndimage.distance_transform_edt(coarse) - 1.0, 0.0) * f * spacing_mm
    room = np.repeat(np.repeat(room_c, f, 0), f, 1)[:h, :w]
    weight = 0.3 + anat.gland / max(float(anat.gland.max()), 1e-6)
    placed: list[tuple[np.ndarray, int, str, float]] = []
    centres: list[np.ndarray] = []

    def fits(p: np.ndarray, d: float) -> bool:
        r, c = int(round(p[0])), int(round(p[1]))
        if not (0 <= r < allowed.shape[0] and 0 <= c < allowed.shape[1]) or not allowed[r, c]:
            return False
        if not placed:
            return True
        q = np.array([t[0] for t in placed])
        dq = np.array([t[3] for t in placed])
        return bool(np.all(np.hypot(q[:, 0] - p[0], q[:, 1] - p[1]) >= (d + dq) / 2 / spacing_mm + gap + 1))

    for cid in range(1, n_clusters + 1):
        for _attempt in range(30):
            rc = rng.uniform(*radius_mm)
            cand = np.argwhere(room >= min(rc, 2.0))
            far = [np.hypot(*(cand - c).T) * spacing_mm >= 15.0 for c in centres]
            if far:
                cand = cand[np.logical_and.reduce(far)]
            if len(cand) == 0:
                break
            w = weight[cand[:, 0], cand[:, 1]]
            centre = cand[rng.choice(len(cand), p=w / w.sum())].astype(float)
            linear = label == "malignant" and rng.random() < 0.4  # segmental / ductal arrangement
            theta = rng.uniform(0, np.pi)
            want = members()
            got: list[tuple[np.ndarray, int, str, float]] = []
            for _ in range(want * 30):
                if len(got) >= want:
                    break
                if linear:
                    s = rng.uniform(-1, 1) * rc
                    o = rng.normal(0, 0.15 * rc)
                    off = np.array([s * np.sin(theta) + o * np.cos(theta), s * np.cos(theta) - o * np.sin(theta)])
                else:
                    rr = rc * np.sqrt(rng.random())
                    a = rng.uniform(0, 2 * np.pi)
                    off = np.array([rr * np.sin(a), rr * np.cos(a)])
                p = centre + off / spacing_mm
                kind, d = _sample_kind(rng, label)
                if np.hypot(*off) + d / 2 <= rc + 0.3 and fits(p, d):
                    got.append((p, cid, kind, d))
                    placed.append(got[-1])
            if len(got) >= 5:
                centres.append(centre)
                break
            placed[:] = [t for t in placed if t[1] != cid]
    n_made = len(centres)
    # renumber clusters 1..n in creation order (a failed cluster leaves no gap)
    ids = sorted({cid for _, cid, _, _ in placed})
    remap = {old: new for new, old in enumerate(ids, start=1)}
    placed[:] = [(p, remap[c], k, d) for p, c, k, d in placed]

    iso_cand = np.argwhere(allowed & (room >= 1.0))
    for _ in range(n_isolated):
        for _attempt in range(50):
            if len(iso_cand) == 0:
                break
            p = iso_cand[rng.integers(0, len(iso_cand))].astype(float)
            if any(np.hypot(*(p - c)) * spacing_mm < 12.0 for c in centres):
                continue
            if any(np.hypot(*(p - q)) * spacing_mm < 8.0 for q, cl, _, _ in placed if cl == 0):
                continue
            kind, d = _sample_kind(rng, label)
            if fits(p, d):
                placed.append((p, 0, kind, d))
                break
    assert n_made == len(ids)
    return placed


def place_calcifications(rng: np.random.Generator, anat: Anatomy, keep_out: np.ndarray, spacing_mm: float,
                         label: str) -> CalcLayer:
    shape = anat.breast.shape
    allowed = anat.breast & (anat.thickness > 0.9) & ~anat.pectoral_mask & ~keep_out
    border = int(np.ceil(0.6 / spacing_mm)) + 4  # whole stamp (and its 2-px surround) inside the image
    allowed[:border] = allowed[-border:] = False
    allowed[:, :border] = allowed[:, -border:] = False
    plan = _plan_positions(rng, label, allowed, anat, spacing_mm)
    att = np.zeros(shape, dtype=np.float32)
    mask = np.zeros(shape, dtype=np.uint8)
    calcs: list[dict] = []
    stamps: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    mu_range = DENSITY_MU[label]
    for p, cid, kind, d in plan:
        t = stamp(kind, d, spacing_mm, rng)
        if rng.random() < 0.2:  # a faint one: as low as the guaranteed minimum allows
            mu = mu_range[0] * 0.5
        else:
            mu = rng.uniform(*mu_range)
        delta = mu * t
        peak = float(ndimage.gaussian_filter(np.pad(delta, 4), MAX_BLUR_PX, mode="constant").max())
        if peak < MIN_PEAK:
            delta *= MIN_PEAK / peak * rng.uniform(1.0, 1.15)
        m = t >= MASK_FRACTION * t.max()
        lab, _ = ndimage.label(m, structure=np.ones((3, 3)))
        m = lab == lab.flat[int(np.argmax(t))]
        half = t.shape[0] // 2
        r0, c0 = int(round(p[0])) - half, int(round(p[1])) - half
        r1, c1 = r0 + t.shape[0], c0 + t.shape[1]
        if r0 < 0 or c0 < 0 or r1 > shape[0] or c1 > shape[1]:
            continue
        att[r0:r1, c0:c1] += delta
        mask[r0:r1, c0:c1][m] = 1
        stamps.append((r0, c0, delta, m))
        rr, cc = np.nonzero(m)
        calcs.append({
            "centroid_px": [round(float(rr.mean() + r0), 2), round(float(cc.mean() + c0), 2)],
            "diameter_mm": round(d, 3), "shape": kind, "cluster": int(cid),
            "area_px": int(m.sum()), "peak_attenuation": round(float(delta.max()), 4),
        })
    n_clusters = len({c["cluster"] for c in calcs if c["cluster"] > 0})
    return CalcLayer(attenuation=att, mask=mask, calcifications=calcs, n_clusters=n_clusters, stamps=stamps)


def ensure_contrast(layer: CalcLayer, background: np.ndarray, margin: float = MIN_MARGIN) -> int:
    """Raise the contrast of calcifications that sit on a slope (duct, gland edge) until each one is a
    local maximum of the noise-free, blurred image by ``margin`` nats. Returns how many were raised."""
    raised = 0
    ring_fp = np.ones((5, 5), dtype=bool)
    for idx, (r0, c0, delta, m) in enumerate(layer.stamps):
        pad = 4
        rs = slice(max(r0 - pad, 0), r0 + delta.shape[0] + pad)
        cs = slice(max(c0 - pad, 0), c0 + delta.shape[1] + pad)
        bg = background[rs, cs]
        calc = np.zeros_like(bg)
        comp = np.zeros(bg.shape, dtype=bool)
        rr, cc = r0 - rs.start, c0 - cs.start
        calc[rr:rr + delta.shape[0], cc:cc + delta.shape[1]] = delta
        comp[rr:rr + delta.shape[0], cc:cc + delta.shape[1]] = m
        ring = ndimage.binary_dilation(comp, structure=ring_fp) & ~comp
        blur_bg = ndimage.gaussian_filter(bg, MAX_BLUR_PX, mode="nearest")
        blur_calc = ndimage.gaussian_filter(calc, MAX_BLUR_PX, mode="constant")
        k = 1.0
        for _ in range(12):
            img = blur_bg + k * blur_calc
            if img[comp].max() - img[ring].max() >= margin:
                break
            k *= 1.25
        if k > 1.0:
            layer.attenuation[r0:r0 + delta.shape[0], c0:c0 + delta.shape[1]] += (k - 1.0) * delta
            layer.stamps[idx] = (r0, c0, k * delta, m)
            layer.calcifications[idx]["peak_attenuation"] = round(float(k * delta.max()), 4)
            raised += 1
    return raised
