"""Calcification-aware tile augmentation of seed 002 §2.1 (all but copy-paste, see copy_paste.py).

Every function takes float32 tiles in [0, 1] (plus the 0/1 calcification mask and the bool breast mask where
geometry changes) and a numpy Generator, and returns new arrays; geometric transforms move image and masks
with the same mapping (image linear, masks nearest) so annotations stay on their calcifications. Intensity
transforms act inside the breast only: the background stays 0, as the domain augmentation expects.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

Tile = tuple[np.ndarray, np.ndarray, np.ndarray]  # image float32 [0,1], mask uint8, breast bool


def _fit(a: np.ndarray, shape: tuple[int, int], r0: int, c0: int) -> np.ndarray:
    """Window of ``shape`` at (r0, c0) of ``a`` (crop) or ``a`` placed at (-r0, -c0) in zeros (pad)."""
    out = np.zeros(shape, dtype=a.dtype)
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + shape[0], a.shape[0]), min(c0 + shape[1], a.shape[1])
    out[rs - r0:re - r0, cs - c0:ce - c0] = a[rs:re, cs:ce]
    return out


def scale_then_crop(img: np.ndarray, mask: np.ndarray, breast: np.ndarray, rng: np.random.Generator,
                    scale_range: tuple[float, float] = (0.8, 1.5)) -> Tile:
    """Zoom the tile by a random factor, then crop (or zero-pad) back to its size at a random position.

    Zooming in is the seed's "scale the original image, then crop": small calcifications get more pixels.
    """
    s = float(rng.uniform(*scale_range))
    big = ndimage.zoom(img, s, order=1)
    m = ndimage.zoom(mask.astype(np.uint8), s, order=0)
    b = ndimage.zoom(breast.astype(np.uint8), s, order=0).astype(bool)
    h, w = img.shape
    dr, dc = big.shape[0] - h, big.shape[1] - w
    r0 = int(rng.integers(0, dr + 1)) if dr >= 0 else -int(rng.integers(0, -dr + 1))
    c0 = int(rng.integers(0, dc + 1)) if dc >= 0 else -int(rng.integers(0, -dc + 1))
    return (_fit(big.astype(np.float32), (h, w), r0, c0), _fit(m, (h, w), r0, c0), _fit(b, (h, w), r0, c0))


def affine(img: np.ndarray, mask: np.ndarray, breast: np.ndarray, rng: np.random.Generator,
           degrees: float = 15.0, scale: tuple[float, float] = (0.9, 1.1), shear: float = 0.1) -> Tile:
    """Random rotation, isotropic scale and shear about the tile centre (same mapping for all three arrays)."""
    a = np.deg2rad(rng.uniform(-degrees, degrees))
    s = rng.uniform(*scale)
    sh = rng.uniform(-shear, shear)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    forward = rot @ np.array([[1.0, sh], [0.0, 1.0]]) * s  # output = forward @ input (about the centre)
    inv = np.linalg.inv(forward)
    centre = (np.array(img.shape, dtype=float) - 1) / 2
    offset = centre - inv @ centre

    def warp(x: np.ndarray, order: int) -> np.ndarray:
        return ndimage.affine_transform(x, inv, offset=offset, order=order, mode="constant", cval=0)

    return (warp(img, 1).astype(np.float32), warp(mask.astype(np.uint8), 0),
            warp(breast.astype(np.uint8), 0).astype(bool))


def gaussian_blur(img: np.ndarray, rng: np.random.Generator, sigma: tuple[float, float] = (0.3, 1.0)) -> np.ndarray:
    """Fuzzy calcifications (the seed: blur helps with blurred micro-calcifications)."""
    return ndimage.gaussian_filter(img, float(rng.uniform(*sigma))).astype(np.float32)


def sharpen(img: np.ndarray, rng: np.random.Generator, amount: tuple[float, float] = (0.3, 1.0),
            sigma: float = 1.0) -> np.ndarray:
    """Unsharp masking ``img + a * (img - blur(img))``, clipped to [0, 1]."""
    a = float(rng.uniform(*amount))
    return np.clip(img + a * (img - ndimage.gaussian_filter(img, sigma)), 0, 1).astype(np.float32)


def grayscale_transform(img: np.ndarray, breast: np.ndarray, rng: np.random.Generator,
                        gamma: tuple[float, float] = (0.7, 1.4), contrast: tuple[float, float] = (0.85, 1.15),
                        brightness: tuple[float, float] = (-0.05, 0.05)) -> np.ndarray:
    """Gamma, then contrast/brightness, inside the breast (dense/fatty tissue variation)."""
    g = float(rng.uniform(*gamma))
    c, b = float(rng.uniform(*contrast)), float(rng.uniform(*brightness))
    out = img.copy()
    out[breast] = np.clip(c * np.power(img[breast], g) + b, 0, 1)
    return out.astype(np.float32)


def histogram_transform(img: np.ndarray, breast: np.ndarray, rng: np.random.Generator,
                        strength: tuple[float, float] = (0.2, 0.6), bins: int = 256) -> np.ndarray:
    """Blend the breast pixels with their histogram-equalised values (partial equalisation)."""
    if not breast.any():
        return img.copy()
    values = img[breast]
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    cdf = np.cumsum(hist).astype(np.float64)
    cdf /= cdf[-1]
    equalised = np.interp(values, edges[1:], cdf)
    t = float(rng.uniform(*strength))
    out = img.copy()
    out[breast] = (1 - t) * values + t * equalised
    return out.astype(np.float32)
