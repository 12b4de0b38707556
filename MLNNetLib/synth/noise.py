"""FFT-based random fields and smoothing: the only way to make 1024x832 textures in milliseconds on a CPU."""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from scipy import ndimage


def power_law_noise(rng: np.random.Generator, shape: tuple[int, int], beta: float, spacing_mm: float,
                    cutoff_mm: float = 60.0, smooth_mm: float = 0.0) -> np.ndarray:
    """Zero-mean, unit-std Gaussian field with power spectrum ~ 1/f**beta (mammographic texture: beta ~ 3).

    Frequencies below 1/cutoff_mm are flattened so one huge wave does not dominate a small image;
    ``smooth_mm`` > 0 adds a Gaussian low-pass of that sigma (structure only above a few mm).
    """
    white = rng.standard_normal(shape, dtype=np.float32)
    spectrum = sfft.rfft2(white)
    fy = np.fft.fftfreq(shape[0], d=spacing_mm).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(shape[1], d=spacing_mm).astype(np.float32)[None, :]
    f = np.sqrt(fy * fy + fx * fx)
    f = np.maximum(f, 1.0 / cutoff_mm)
    gain = f ** np.float32(-beta / 2.0)
    if smooth_mm > 0:
        gain = gain * np.exp(np.float32(-2.0 * np.pi ** 2 * smooth_mm ** 2) * f * f)
    field = sfft.irfft2(spectrum * gain, s=shape)
    field -= field.mean()
    std = field.std()
    return (field / std if std > 0 else field).astype(np.float32)


def smooth(array: np.ndarray, sigma_px: float | tuple[float, float]) -> np.ndarray:
    """Gaussian blur. Wide kernels (low-frequency backgrounds) run on a block-averaged copy and are
    interpolated back: a 20 px blur costs the same as a 2 px one and nothing wraps around."""
    sig = np.broadcast_to(np.asarray(sigma_px, dtype=float), (2,)).copy()
    arr = np.asarray(array, dtype=np.float32)
    if float(sig.max()) <= 0:
        return arr.copy()
    if float(sig.min()) < 6.0:
        return ndimage.gaussian_filter(arr, sig, mode="nearest", truncate=3.5)
    f = int(sig.min() // 3)
    h, w = arr.shape
    ph, pw = (-h) % f, (-w) % f
    padded = np.pad(arr, ((0, ph), (0, pw)), mode="edge")
    small = padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f).mean(axis=(1, 3))
    # block averaging already blurs by ~f/sqrt(12); take that off the remaining sigma
    rest = np.sqrt(np.maximum((sig / f) ** 2 - 1.0 / 12.0, 0.0))
    small = ndimage.gaussian_filter(small, rest, mode="nearest", truncate=3.5)
    rows = (np.arange(h) + 0.5) / f - 0.5
    cols = (np.arange(w) + 0.5) / f - 0.5
    rr = np.clip(rows, 0, small.shape[0] - 1)
    cc = np.clip(cols, 0, small.shape[1] - 1)
    r0 = np.minimum(rr.astype(int), small.shape[0] - 2) if small.shape[0] > 1 else np.zeros(h, int)
    c0 = np.minimum(cc.astype(int), small.shape[1] - 2) if small.shape[1] > 1 else np.zeros(w, int)
    fr = (rr - r0)[:, None].astype(np.float32)
    fc = (cc - c0)[None, :].astype(np.float32)
    r1 = np.minimum(r0 + 1, small.shape[0] - 1)
    c1 = np.minimum(c0 + 1, small.shape[1] - 1)
    top = small[r0][:, c0] * (1 - fc) + small[r0][:, c1] * fc
    bot = small[r1][:, c0] * (1 - fc) + small[r1][:, c1] * fc
    return (top * (1 - fr) + bot * fr).astype(np.float32)


def masked_smooth(array: np.ndarray, mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """Normalised convolution: the local mean of ``array`` over ``mask`` only (no air leaking into tissue)."""
    m = mask.astype(np.float32)
    num = smooth(array * m, sigma_px)
    den = smooth(m, sigma_px)
    return np.where(den > 1e-3, num / np.maximum(den, 1e-3), 0.0).astype(np.float32)


def rasterize_polylines(shape: tuple[int, int], points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Accumulate weighted sample points (N, 2) in (row, col) into an image (nearest pixel)."""
    acc = np.zeros(shape, dtype=np.float64)
    if len(points) == 0:
        return acc.astype(np.float32)
    r = np.rint(points[:, 0]).astype(np.int64)
    c = np.rint(points[:, 1]).astype(np.int64)
    ok = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    np.add.at(acc, (r[ok], c[ok]), weights[ok])
    return acc.astype(np.float32)


def correlated_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float | tuple[float, float]) -> np.ndarray:
    """Zero-mean, unit-std Gaussian noise correlated over ``sigma_px`` (film grain clumps, plate structure)."""
    field = smooth(rng.standard_normal(shape, dtype=np.float32), sigma_px)
    std = float(field.std())
    return field / std if std > 0 else field


def radial_streaks(rng: np.random.Generator, shape: tuple[int, int], centre: tuple[float, float], spacing_mm: float,
                   along_mm: float = 4.0, across_mm: float = 0.35, ref_radius_mm: float = 60.0) -> np.ndarray:
    """Unit-std texture elongated along lines through ``centre`` (ducts and fibrous strands radiate from the
    nipple): a smooth field on (radius, arc length at ``ref_radius_mm``), sampled at every pixel, so streaks
    are ``across_mm`` wide at that radius and converge toward the centre. ``centre`` lies on the right of the
    breast (chest wall at column 0)."""
    h, w = shape
    rows = (np.arange(h, dtype=np.float32) - np.float32(centre[0]))[:, None]
    cols = (np.arange(w, dtype=np.float32) - np.float32(centre[1]))[None, :]
    r = np.hypot(rows, cols) * np.float32(spacing_mm)
    arc = np.arctan2(rows, -cols) * np.float32(ref_radius_mm)  # 0 toward the chest wall, +-pi/2 * R along the edge
    du, dv = along_mm / 4.0, across_mm / 3.0
    nu = int(np.ceil(float(r.max()) / du)) + 3
    half_v = np.pi * ref_radius_mm
    nv = int(np.ceil(2 * half_v / dv)) + 3
    grid = ndimage.gaussian_filter(rng.standard_normal((nu, nv), dtype=np.float32), (4.0, 3.0), mode="wrap")
    grid /= max(float(grid.std()), 1e-6)
    coords = np.stack([(r / du).ravel(), ((arc + half_v) / dv).ravel()])
    return ndimage.map_coordinates(grid, coords, order=1, mode="nearest").reshape(shape).astype(np.float32)
