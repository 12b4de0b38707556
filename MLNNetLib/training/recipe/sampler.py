"""A tile sampler wrapper that applies seed 002's calcification-aware augmentation to every sampled tile.

It has the TileSampler interface (``sample(rng) -> (image, mask, breast)``), so the training batch builder
uses it unchanged and the Bézier/inversion domain versions are made from the augmented tile. Works for
either architecture: it only changes the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from MLNNetLib.training.recipe.augment import (
    affine, gaussian_blur, grayscale_transform, histogram_transform, scale_then_crop, sharpen,
)
from MLNNetLib.training.recipe.copy_paste import copy_paste


@dataclass(frozen=True)
class RecipeOptions:
    """Probability of each transform per tile (geometric ones first, then intensity ones)."""

    copy_paste: float = 0.5
    scale_crop: float = 0.3
    affine: float = 0.3
    blur: float = 0.2
    sharpen: float = 0.2  # blur and sharpen exclude each other
    grayscale: float = 0.3
    histogram: float = 0.2
    donor_tries: int = 3  # tiles drawn to find a copy-paste donor that holds calcifications

    def to_dict(self) -> dict:
        return asdict(self)


class RecipeSampler:
    """Wraps a TileSampler; ``sample(rng)`` returns an augmented (image, mask, breast) tile."""

    def __init__(self, sampler, options: RecipeOptions | None = None) -> None:
        self.sampler = sampler
        self.options = options or RecipeOptions()

    @property
    def tile(self) -> int:
        return self.sampler.tile

    def _donor(self, rng: np.random.Generator):
        for _ in range(max(1, self.options.donor_tries)):
            img, mask, _ = self.sampler.sample(rng)
            if mask.any():
                return img, mask
        return None

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        o = self.options
        img, mask, breast = self.sampler.sample(rng)
        if rng.random() < o.copy_paste:
            donor = self._donor(rng)
            if donor is not None:
                res = copy_paste(img, mask, donor[0], donor[1], rng, dst_breast=breast)
                img, mask = res.image, res.mask
        if rng.random() < o.scale_crop:
            img, mask, breast = scale_then_crop(img, mask, breast, rng)
        if rng.random() < o.affine:
            img, mask, breast = affine(img, mask, breast, rng)
        u = rng.random()
        if u < o.blur:
            img = gaussian_blur(img, rng)
        elif u < o.blur + o.sharpen:
            img = sharpen(img, rng)
        if rng.random() < o.grayscale:
            img = grayscale_transform(img, breast, rng)
        if rng.random() < o.histogram:
            img = histogram_transform(img, breast, rng)
        return (np.ascontiguousarray(img, dtype=np.float32), np.ascontiguousarray(mask, dtype=np.uint8),
                np.ascontiguousarray(breast, dtype=bool))
