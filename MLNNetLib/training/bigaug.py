"""Deep stacked transformations ("BigAug", Zhang et al., IEEE TMI 2020) for mammogram tiles.

BigAug is the strongest single-source baseline in the MLN-net paper's Table 2: every training tile passes
through a stack of image-quality (blur, sharpness, noise), appearance (brightness, contrast, intensity
perturbation) and spatial (rotation, scaling) transforms, each applied with probability 0.5 and a random
magnitude. Here the ranges are set for [0, 1] normalised mammogram tiles at the model's training spacing,
and a resolution transform (down- then up-sampling: a softer detector or a coarser pitch resampled to the
training spacing) is added, as the issue that asked for the baseline lists it. Elastic deformation, the
ninth BigAug transform, is left out: it bends thin linear calcifications into shapes no scanner makes.

Used two ways, with the same code so that the comparison is fair: as the BigAug baseline (Basenet, K=1,
``--stacked-augment``) and under the domain branches (the tile is transformed first, its Bézier/inverted
versions are made from the result). Intensity transforms act inside the breast only; the air stays 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from MLNNetLib.training.recipe.augment import affine

Tile = tuple[np.ndarray, np.ndarray, np.ndarray]  # image float32 [0,1], mask uint8, breast bool


@dataclass(frozen=True)
class BigAugOptions:
    """Probability of each transform and the ranges its magnitude is drawn from (uniformly)."""

    probability: float = 0.5
    rotation_deg: float = 20.0
    scale: tuple[float, float] = (0.8, 1.25)
    resolution: tuple[float, float] = (1.0, 2.0)  # down-sampling factor before the return to the tile grid
    blur_sigma_px: tuple[float, float] = (0.25, 1.5)
    sharpen_amount: tuple[float, float] = (0.2, 2.0)
    sharpen_sigma_px: tuple[float, float] = (0.5, 4.0)
    noise_std: tuple[float, float] = (0.003, 0.04)
    noise_corr_px: tuple[float, float] = (0.0, 1.5)  # 0 = white (electronic), > 0 = correlated (grain, quantum + MTF)
    brightness: tuple[float, float] = (-0.1, 0.1)
    contrast: tuple[float, float] = (0.65, 1.5)
    gamma: tuple[float, float] = (0.5, 2.0)

    def to_dict(self) -> dict:
        return asdict(self)


def _u(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def resolution(img: np.ndarray, rng: np.random.Generator, factor: tuple[float, float]) -> np.ndarray:
    """Average down by a random factor, then interpolate back: fine detail is lost as on a coarser detector."""
    f = _u(rng, factor)
    if f <= 1.01:
        return img
    small = ndimage.zoom(ndimage.gaussian_filter(img, 0.4 * f), 1.0 / f, order=1)
    zoom = (img.shape[0] / small.shape[0], img.shape[1] / small.shape[1])
    out = ndimage.zoom(small, zoom, order=1)
    return np.ascontiguousarray(out[: img.shape[0], : img.shape[1]], dtype=np.float32)


def noise(img: np.ndarray, breast: np.ndarray, rng: np.random.Generator, std: tuple[float, float],
          corr_px: tuple[float, float]) -> np.ndarray:
    """Gaussian noise of a random level, white or spatially correlated (re-scaled to the drawn level)."""
    n = rng.standard_normal(img.shape).astype(np.float32)
    c = _u(rng, corr_px)
    if c > 0.05:
        n = ndimage.gaussian_filter(n, c)
        n /= max(float(n.std()), 1e-6)
    out = img.copy()
    out[breast] = img[breast] + _u(rng, std) * n[breast]
    return out


def appearance(img: np.ndarray, breast: np.ndarray, rng: np.random.Generator, o: BigAugOptions) -> np.ndarray:
    """Brightness, contrast (about the breast mean) and gamma, each with probability ``o.probability``."""
    out = img.copy()
    v = np.clip(img[breast], 0.0, 1.0)
    if v.size == 0:
        return out
    if rng.random() < o.probability:
        v = np.power(v, _u(rng, o.gamma))
    if rng.random() < o.probability:
        m = float(v.mean())
        v = m + _u(rng, o.contrast) * (v - m)
    if rng.random() < o.probability:
        v = v + _u(rng, o.brightness)
    out[breast] = v
    return out


def stacked_transform(img: np.ndarray, mask: np.ndarray, breast: np.ndarray, rng: np.random.Generator,
                      options: BigAugOptions | None = None) -> Tile:
    """One random draw of the stack: spatial, resolution, blur or sharpen, noise, appearance."""
    o = options or BigAugOptions()
    p = o.probability
    if rng.random() < p:
        img, mask, breast = affine(img, mask, breast, rng, degrees=o.rotation_deg, scale=o.scale, shear=0.0)
    if rng.random() < p:
        img = resolution(img, rng, o.resolution)
    if rng.random() < p:
        img = ndimage.gaussian_filter(img, _u(rng, o.blur_sigma_px)).astype(np.float32)
    if rng.random() < p:  # unsharp masking of random strength and kernel (vendor enhancement)
        img = img + _u(rng, o.sharpen_amount) * (img - ndimage.gaussian_filter(img, _u(rng, o.sharpen_sigma_px)))
    if rng.random() < p:
        img = noise(img, breast, rng, o.noise_std, o.noise_corr_px)
    img = appearance(img, breast, rng, o)
    img = np.where(breast, np.clip(img, 0.0, 1.0), 0.0)
    return (np.ascontiguousarray(img, dtype=np.float32), np.ascontiguousarray(mask, dtype=np.uint8),
            np.ascontiguousarray(breast, dtype=bool))


class BigAugSampler:
    """Wraps a TileSampler (``sample(rng) -> (image, mask, breast)``) and transforms every tile it returns."""

    def __init__(self, sampler, options: BigAugOptions | None = None) -> None:
        self.sampler = sampler
        self.options = options or BigAugOptions()

    @property
    def tile(self) -> int:
        return self.sampler.tile

    def sample(self, rng: np.random.Generator) -> Tile:
        return stacked_transform(*self.sampler.sample(rng), rng, self.options)
