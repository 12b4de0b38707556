"""Random Bézier intensity curves for a single-branch network: MLN-net's source-similar augmentation without
its inversion (the default undoes inversion at test time by reading the image's polarity instead).

Each tile keeps its grey levels with probability 1 - ``p`` and otherwise passes one curve drawn from
:func:`MLNNetLib.augment.bezier.random_curve`; ``p`` = 2/3 matches the paper's three choices (identity and two
curves) drawn uniformly. Measured on the default network, not made the default (docs/decisions.md, "Random Bézier curves"): local contrast
normalisation removes a smooth grey-level map only where it is close to linear; a curve still changes how a
bright calcification stands out from the tissue around it, which is what vendors' LUTs do.
"""

from __future__ import annotations

import numpy as np

from MLNNetLib.augment.bezier import bezier_remap, random_curve

CURVE_PROBABILITY = 2.0 / 3.0


class CurveSampler:
    """Wraps a TileSampler (``sample(rng) -> (image, mask, breast)``); remaps the image of the tiles it returns."""

    def __init__(self, sampler, p: float = CURVE_PROBABILITY, spread: float = 0.3) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"curve probability p={p} must lie in [0, 1]")
        self.sampler, self.p, self.spread = sampler, float(p), float(spread)

    @property
    def tile(self) -> int:
        return self.sampler.tile

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        img, mask, breast = self.sampler.sample(rng)
        if rng.random() < self.p:
            img = bezier_remap(img, *random_curve(rng, self.spread))
        return img, mask, breast
