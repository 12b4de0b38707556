"""The breast itself: outline, compressed thickness, skin, fibroglandular tissue, ducts/ligaments, pectoral muscle.

Everything is in attenuation units (line integrals, nats) so that domains can map it to pixels the way a
detector and its processing would. Sizes are in mm and converted with the pixel spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from MLNNetLib.synth.noise import power_law_noise, radial_streaks, rasterize_polylines, smooth

MU_FAT_THICK = 1.2  # nats through a fully compressed fatty breast
MU_GLAND_EXTRA = 0.9  # extra nats where the projection is all fibroglandular tissue
MU_PECTORAL = 0.75
CONE_GAIN = 1.4  # logit of the glandular cone behind the nipple
GLAND_COARSE = 1.0  # amplitude of the 40 mm-cutoff power-law field in the glandular-fraction logit
GLAND_SOFTNESS = 0.8  # logistic width: small = sharp fat/gland boundaries, large = smooth overlap
GLAND_SMOOTH_MM = 2.0  # low-pass of the field that shapes fibroglandular regions (smooth region edges)
DUCT_NATS = (0.02, 0.055)  # attenuation of ducts / Cooper's ligaments along their centreline
EDGE_RADIUS_MM = (9.0, 16.0)  # width of the compressed breast's rounded edge (thickness roll-off)
STREAK_MM = (2.0, 0.4)  # correlation length along and across the fibrous strands
STREAK_SHARE = 0.6  # share of the fine texture that is fibrous, radiating from the nipple
GLAND_FINE = 0.05  # share of the 8 mm-cutoff texture modulating the glandular fraction


@dataclass
class Anatomy:
    breast: np.ndarray  # bool, tissue (air outside)
    thickness: np.ndarray  # 0..1 relative compressed thickness
    distance_mm: np.ndarray  # distance to the skin line (inf-like inside toward the chest wall)
    skin: np.ndarray  # attenuation of the skin band
    gland: np.ndarray  # attenuation of fibroglandular tissue (overlapping tissue)
    structures: np.ndarray  # attenuation of ducts / Cooper's ligaments converging on the nipple
    pectoral: np.ndarray  # attenuation of the pectoral muscle (0 on CC views)
    pectoral_mask: np.ndarray
    nipple: tuple[float, float]
    view: str  # "CC" | "MLO"
    laterality: str  # "L": chest wall on the left image edge, "R": on the right
    density: float  # 0 (fatty) .. 1 (extremely dense)

    def base(self, thickness_weight: float) -> np.ndarray:
        """Fatty background with the thickness fall-off partly equalised (processing) or not (film)."""
        t = self.thickness
        eq = thickness_weight * t + (1.0 - thickness_weight) * np.minimum(1.0, 4.0 * t)
        return (MU_FAT_THICK * eq * self.breast).astype(np.float32)


def _outline(rng: np.random.Generator, shape: tuple[int, int], view: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breast and pectoral masks with the chest wall at column 0, and the edge profile x_e(row)."""
    h, w = shape
    y = np.arange(h, dtype=np.float64)
    wobble = sum(rng.uniform(-0.02, 0.02) * np.sin(2 * np.pi * k * y / h + rng.uniform(0, 2 * np.pi)) for k in (1, 2, 3))
    pect = np.zeros(shape, dtype=bool)
    if view == "CC":
        yc = h * rng.uniform(0.45, 0.55)
        b = h * rng.uniform(0.40, 0.47)
        a = w * rng.uniform(0.74, 0.9)
        u = np.clip(1.0 - ((y - yc) / b) ** 2, 0.0, 1.0)
        xe = a * u ** rng.uniform(0.42, 0.6) * (1 + wobble)
    else:
        ybot = h * rng.uniform(0.86, 0.96)
        a = w * rng.uniform(0.74, 0.9)
        umax = rng.uniform(0.5, 0.62)
        q = np.log(0.5) / np.log(umax)
        u = np.clip(y / ybot, 0.0, 1.0)
        xe = a * np.sin(np.pi * u ** q) ** rng.uniform(0.5, 0.7) * (1 + wobble)
        top = w * rng.uniform(0.3, 0.42)
        ylow = h * rng.uniform(0.38, 0.55)
        xe = np.maximum(xe, top * 1.25 * np.clip(1 - y / (ylow * 1.3), 0, 1))
        xe[y > ybot] = 0
        bow = rng.uniform(0.0, 0.12)
        t = np.clip(y / ylow, 0, 1)
        xp = top * (1 - t) * (1 + bow * np.sin(np.pi * t))  # slightly convex muscle edge
        cols = np.arange(w)[None, :]
        pect = cols < xp[:, None]
    cols = np.arange(w)[None, :]
    breast = cols < xe[:, None]
    return breast, pect & breast, xe


def _thickness(breast: np.ndarray, spacing_mm: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the skin (chest wall side is not skin) and the rounded compressed-breast edge profile."""
    pad = 64
    padded = np.pad(breast, ((0, 0), (pad, 0)), mode="edge")  # tissue continues beyond the chest wall
    dist = ndimage.distance_transform_edt(padded)[:, pad:] * spacing_mm
    radius = rng.uniform(*EDGE_RADIUS_MM)
    r = np.clip(dist / radius, 0.0, 1.0)
    thick = np.sqrt(np.clip(1.0 - (1.0 - r) ** 2, 0.0, 1.0)) * breast
    return dist.astype(np.float32), thick.astype(np.float32)


def _curves(rng: np.random.Generator, starts: np.ndarray, target: np.ndarray, steps: int, step_px: float,
            wander: float, breast: np.ndarray, stop_px: float) -> list[np.ndarray]:
    """Random walks that drift toward ``target`` (the nipple); vectorised over curves, not pixels."""
    n = len(starts)
    pos = starts.astype(np.float64).copy()
    heading = np.arctan2(target[0] - pos[:, 0], target[1] - pos[:, 1]) + rng.normal(0, 0.4, n)
    alive = np.ones(n, dtype=bool)
    out = np.full((steps, n, 2), np.nan)
    h, w = breast.shape
    for s in range(steps):
        want = np.arctan2(target[0] - pos[:, 0], target[1] - pos[:, 1])
        diff = np.angle(np.exp(1j * (want - heading)))
        heading = heading + 0.08 * diff + rng.normal(0, wander, n)
        pos = pos + step_px * np.stack([np.sin(heading), np.cos(heading)], axis=1)
        r = np.clip(pos[:, 0].astype(int), 0, h - 1)
        c = np.clip(pos[:, 1].astype(int), 0, w - 1)
        alive &= breast[r, c] & (np.hypot(*(pos - target).T) > stop_px)
        out[s][alive] = pos[alive]
    return [out[:, i][~np.isnan(out[:, i, 0])] for i in range(n)]


def build_anatomy(rng: np.random.Generator, shape: tuple[int, int], spacing_mm: float) -> Anatomy:
    view = "CC" if rng.random() < 0.5 else "MLO"
    laterality = "L" if rng.random() < 0.5 else "R"
    breast, pect_mask, xe = _outline(rng, shape, view)
    dist, thick = _thickness(breast, spacing_mm, rng)
    h, w = shape
    nipple_row = float(np.argmax(xe))
    nipple = np.array([nipple_row, float(xe.max()) - 2.0])

    # Fibroglandular tissue: a cone behind the nipple with a mottled, power-law (beta ~ 3) texture.
    density = float(rng.beta(2.0, 2.0))
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    frac = cols / max(nipple[1], 1.0)
    spread = (0.18 + 0.25 * frac) * h * rng.uniform(0.8, 1.2)
    center_row = nipple[0] + (1 - frac) * rng.uniform(-0.12, 0.12) * h
    cone = np.exp(-0.5 * ((rows - center_row) / spread) ** 2) * np.clip(1.3 - 0.6 * frac, 0, 1)
    coarse = power_law_noise(rng, shape, 3.0, spacing_mm, cutoff_mm=40.0, smooth_mm=GLAND_SMOOTH_MM)
    fine = power_law_noise(rng, shape, 3.0, spacing_mm, cutoff_mm=8.0)
    streaks = radial_streaks(rng, shape, (nipple[0], nipple[1]), spacing_mm, along_mm=STREAK_MM[0], across_mm=STREAK_MM[1])
    fine = np.float32(np.sqrt(1.0 - STREAK_SHARE ** 2)) * fine + np.float32(STREAK_SHARE) * streaks
    # subcutaneous and retromammary fat: no gland within ~4-12 mm of the skin
    fat_mm = rng.uniform(4.0, 12.0)
    subcut = np.clip((dist - 0.4 * fat_mm) / fat_mm, 0.0, 1.0)
    level = CONE_GAIN * cone * subcut + GLAND_COARSE * coarse - (1.5 - 1.3 * density)
    gland_frac = 1.0 / (1.0 + np.exp(-level / GLAND_SOFTNESS))
    gland_frac = np.clip(gland_frac * (1.0 - GLAND_FINE + GLAND_FINE * fine), 0.0, 1.0)
    pect_soft = smooth(pect_mask.astype(np.float32), 1.5 / spacing_mm) if pect_mask.any() else np.zeros(shape, np.float32)
    outside_muscle = 1.0 - pect_soft  # soft muscle edge: no stair-stepped tissue boundary
    gland = (MU_GLAND_EXTRA * gland_frac * thick * outside_muscle).astype(np.float32)

    # Ducts and Cooper's ligaments converging on the nipple.
    inner = np.argwhere(breast & (thick > 0.5) & ~pect_mask)
    n_lines = int(rng.integers(40, 80))
    structures = np.zeros(shape, dtype=np.float32)
    if len(inner):
        starts = inner[rng.integers(0, len(inner), n_lines)].astype(np.float64)
        curves = _curves(rng, starts, nipple, steps=int(60.0 / (0.7 * spacing_mm) / 2), step_px=1.4,
                         wander=0.05, breast=breast, stop_px=3.0 / spacing_mm)
        for k, sigma_mm in enumerate((0.15, 0.4)):  # fine ducts/ligaments and broader trabeculae
            pts = [c for c in curves[k::2] if len(c)]
            if not pts:
                continue
            amp = np.concatenate([np.full(len(c), rng.uniform(*DUCT_NATS)) for c in pts])
            acc = rasterize_polylines(shape, np.concatenate(pts), amp)
            sig = max(sigma_mm / spacing_mm, 0.6)
            structures += smooth(acc, sig) * (1.4 * np.sqrt(2 * np.pi) * sig)
        structures *= thick * outside_muscle

    # Pectoral muscle (MLO): dense, nearly uniform, faint fibre striation.
    pectoral = np.zeros(shape, dtype=np.float32)
    if pect_mask.any():
        edge = pect_soft
        fall = np.clip(1.0 - 0.35 * np.linspace(0, 1, w)[None, :] ** 2, 0, 1)  # thinner toward its edge
        pectoral = (MU_PECTORAL * edge * (1 + 0.03 * coarse) * thick * fall).astype(np.float32)

    skin_w = 0.7 / spacing_mm
    d_px = dist / spacing_mm
    skin = (0.18 * np.exp(-0.5 * ((d_px - skin_w) / (0.6 * skin_w + 0.5)) ** 2) * breast).astype(np.float32)

    if laterality == "R":
        flip = lambda a: np.ascontiguousarray(a[:, ::-1])  # noqa: E731
        breast, thick, dist, skin, gland, structures, pectoral, pect_mask = map(
            flip, (breast, thick, dist, skin, gland, structures, pectoral, pect_mask))
        nipple = np.array([nipple[0], w - 1 - nipple[1]])
    return Anatomy(breast=breast, thickness=thick, distance_mm=dist, skin=skin, gland=gland, structures=structures,
                   pectoral=pectoral, pectoral_mask=pect_mask, nipple=(float(nipple[0]), float(nipple[1])),
                   view=view, laterality=laterality, density=density)
