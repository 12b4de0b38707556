"""Microcalcifications as physical objects (position in mm, shape, size, density, depth), stamped on any pixel grid.

Why it is built this way:
- An object is stored physically (``Calc``) and drawn from its own seed, so a style with another detector
  pitch gets the *same* calcification, partial-volume sampled on its own grid (5x5 sub-pixels per pixel).
- The annotation is what an annotator traces: the **half-maximum outline of the blurred object** (the object
  convolved with a reference system PSF, ``ANNOTATION_PSF_MM``, as level tracing at 50 % would find it), not the
  physical core. Small calcifications therefore get a mask a little larger than the object, large ones a little
  smaller than their physical outline. Every style of one pitch shares it.
- Contrast is drawn per calcification (faint to dense). A calcification must be *annotatable*: its own blurred
  peak at least ``MIN_PEAK`` nats and the blurred image over it at least ``MIN_EXCESS`` above the median of its
  surroundings (0.3-1 mm away). It need **not** be a local maximum: a faint one on a gland edge or duct may sit
  below brighter tissue nearby, as real ones over dense tissue do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

SUPERSAMPLE = 5
ANNOTATION_PSF_MM = 0.05  # reference system blur for the half-maximum outline (an FFDM-like MTF50 of ~3.7 cy/mm)
MIN_PEAK = 0.08  # nats: the calcification's own peak after the reference blur (CNR ~4 on the source style)
MIN_EXCESS = 0.05  # nats above the median of the 0.3-1 mm surroundings, tissue included
RING_MM = (0.3, 1.0)

# (shape, probability, diameter range mm) per case label: benign = round/coarse/few,
# malignant = fine pleomorphic, linear and branching, numerous and dense.
MORPHOLOGY = {
    "benign": [("round", 0.55, (0.25, 0.6)), ("coarse", 0.30, (0.35, 0.6)), ("punctate", 0.15, (0.12, 0.25))],
    "malignant": [("pleomorphic", 0.40, (0.15, 0.45)), ("punctate", 0.25, (0.10, 0.22)),
                  ("linear", 0.20, (0.25, 0.6)), ("branching", 0.15, (0.3, 0.6))],
}
DENSITY_MU = {"benign": (2.0, 4.0), "malignant": (1.6, 3.5)}  # calcium attenuation, nats per mm of path
FAINT_FRACTION = 0.25  # this share is drawn at half the lower density bound (then raised only to annotatable)


@dataclass
class Calc:
    """One calcification: everything needed to draw it on any grid."""
    centre_mm: tuple[float, float]  # (row, col) from the image's top-left corner
    kind: str
    diameter_mm: float
    mu: float  # nats per mm of calcium path (after the annotatability check)
    shape_seed: int
    cluster: int  # 0 = isolated, 1..n = planned cluster
    depth_mm: float  # height above the detector (tomosynthesis); the scene's slice plane is scene.slice_mm


@dataclass
class Stamp:
    r0: int
    c0: int
    path: np.ndarray  # calcium path length per pixel (mm), partial-volume averaged
    mask: np.ndarray  # bool: half-maximum outline of the blurred object


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
    """Calcium path length (mm) on (y, x) mm coordinates around the centre; the object fits a disc of diameter d."""
    R = d / 2.0
    if kind in ("round", "punctate"):
        return _ellipsoid(y, x, 0, 0, R, R * rng.uniform(0.75, 1.0), rng.uniform(0, np.pi))
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


def stamp(calc: Calc, pitch_mm: float, psf_mm: float = ANNOTATION_PSF_MM) -> Stamp:
    """The calcification on a ``pitch_mm`` grid (pixel k covers [k, k+1) * pitch): path length and annotation."""
    p = float(pitch_mm)
    margin = int(np.ceil(3.0 * psf_mm / p)) + 1
    half = int(np.ceil(calc.diameter_mm / 2 / p)) + margin
    n = 2 * half + 1
    centre = np.asarray(calc.centre_mm, dtype=float)
    i0 = np.rint(centre / p - 0.5).astype(int)
    sub = (np.arange(n * SUPERSAMPLE) + 0.5) * (p / SUPERSAMPLE)
    ys = (i0[0] - half) * p + sub - centre[0]
    xs = (i0[1] - half) * p + sub - centre[1]
    y, x = np.meshgrid(ys, xs, indexing="ij")
    fine = _shape_thickness(calc.kind, calc.diameter_mm, np.random.default_rng(calc.shape_seed), y, x)
    path = fine.reshape(n, SUPERSAMPLE, n, SUPERSAMPLE).mean(axis=(1, 3)).astype(np.float32)
    blurred = ndimage.gaussian_filter(fine, psf_mm / (p / SUPERSAMPLE), mode="constant")
    ann = blurred.reshape(n, SUPERSAMPLE, n, SUPERSAMPLE).mean(axis=(1, 3))
    m = ann >= 0.5 * ann.max()
    lab, _ = ndimage.label(m, structure=np.ones((3, 3)))
    m = lab == lab.flat[int(np.argmax(ann))]
    return Stamp(r0=int(i0[0] - half), c0=int(i0[1] - half), path=path, mask=m)


def _window(shape: tuple[int, int], st: Stamp, pad: int) -> tuple[slice, slice, slice, slice]:
    """Image slices of the stamp grown by ``pad`` (clipped) and the stamp's slices within that window."""
    r0, c0 = max(st.r0 - pad, 0), max(st.c0 - pad, 0)
    r1 = min(st.r0 + st.path.shape[0] + pad, shape[0])
    c1 = min(st.c0 + st.path.shape[1] + pad, shape[1])
    return slice(r0, r1), slice(c0, c1), slice(st.r0 - r0, st.r0 - r0 + st.path.shape[0]), slice(st.c0 - c0, st.c0 - c0 + st.path.shape[1])


def make_annotatable(calcs: list[Calc], background: np.ndarray, spacing_mm: float) -> int:
    """Raise ``mu`` of calcifications too faint to annotate (module docstring); returns how many were raised.

    ``background`` is the noise-free attenuation without calcifications on the scene grid, with all
    overlapping tissue (the hardest case)."""
    sig = ANNOTATION_PSF_MM / spacing_mm
    pad = int(np.ceil(RING_MM[1] / spacing_mm)) + 2
    raised = 0
    for calc in calcs:
        st = stamp(calc, spacing_mm)
        rs, cs, sr, sc = _window(background.shape, st, pad)
        bg = ndimage.gaussian_filter(background[rs, cs], sig, mode="nearest")
        own = np.zeros_like(bg)
        comp = np.zeros(bg.shape, dtype=bool)
        own[sr, sc] = st.path
        comp[sr, sc] = st.mask
        own = ndimage.gaussian_filter(own, sig, mode="constant")
        dist = ndimage.distance_transform_edt(~comp) * spacing_mm
        ring = (dist >= RING_MM[0]) & (dist <= RING_MM[1])
        level = float(np.median(bg[ring])) if ring.any() else float(bg.min())
        mu = calc.mu
        k = max(1.0, MIN_PEAK / max(mu * float(own.max()), 1e-9))
        for _ in range(40):
            if float((bg + k * mu * own)[comp].max()) - level >= MIN_EXCESS:
                break
            k *= 1.1
        if k > 1.0:
            calc.mu = float(mu * k)
            raised += 1
    return raised


@dataclass
class CalcLayer:
    """All calcifications of a scene on one grid."""
    attenuation: np.ndarray  # float32 nats (mu * path), before any system blur
    mask: np.ndarray  # uint8 0/1 annotation
    stamps: list[Stamp]


def draw_layer(calcs: list[Calc], shape: tuple[int, int], pitch_mm: float) -> CalcLayer:
    att = np.zeros(shape, dtype=np.float32)
    mask = np.zeros(shape, dtype=np.uint8)
    stamps = []
    for calc in calcs:
        st = stamp(calc, pitch_mm)
        rs, cs, sr, sc = _window(shape, st, 0)
        att[rs, cs] += calc.mu * st.path[sr, sc]
        mask[rs, cs][st.mask[sr, sc]] = 1
        stamps.append(st)
    return CalcLayer(attenuation=att, mask=mask, stamps=stamps)


def describe(calcs: list[Calc], layer: CalcLayer, keep: list[int] | None = None,
             clusters: list[int] | None = None) -> list[dict]:
    """JSON-able list of the (kept) calcifications as they appear on this layer's grid."""
    out = []
    for i in (range(len(calcs)) if keep is None else keep):
        c, st = calcs[i], layer.stamps[i]
        rr, cc = np.nonzero(st.mask)
        out.append({
            "centroid_px": [round(float(rr.mean() + st.r0), 2), round(float(cc.mean() + st.c0), 2)],
            "centre_mm": [round(c.centre_mm[0], 3), round(c.centre_mm[1], 3)],
            "diameter_mm": round(c.diameter_mm, 3), "shape": c.kind,
            "cluster": int(c.cluster if clusters is None else clusters[i]),
            "area_px": int(st.mask.sum()), "peak_attenuation": round(float(c.mu * st.path.max()), 4),
            "depth_mm": round(c.depth_mm, 2),
        })
    return out
