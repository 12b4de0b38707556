"""Source-domain augmentation (paper §3.1, DESIGN §2): normalise, Bézier remaps, background-preserving inversion."""

from MLNNetLib.augment.bezier import (
    PAPER_CURVES, bezier_lut, bezier_points, bezier_remap, mean_curves, random_curves,
)
from MLNNetLib.augment.breast import breast_mask, is_inverted, otsu_threshold
from MLNNetLib.augment.domains import domain_labels, expand_domains
from MLNNetLib.augment.intensity import normalize
from MLNNetLib.augment.invert import invert

__all__ = [
    "PAPER_CURVES", "bezier_lut", "bezier_points", "bezier_remap", "mean_curves", "random_curves",
    "breast_mask", "is_inverted", "otsu_threshold", "domain_labels", "expand_domains", "normalize", "invert",
]
