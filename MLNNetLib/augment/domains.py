"""Expand one normalised image into the augmented domains that MLN-net's LN branches learn.

Images are produced in a fixed order: the M = len(curves) + 1 source-similar images (identity first,
then one per Bézier curve), followed by their M inversions (source-dissimilar). With 2M images in
that order, image i gets the domain label ``i * K // (2M)``:
- K = 2 (default, DESIGN §2): label 0 = source-similar, 1 = source-dissimilar;
- K = 2M: one label per image (one branch per curve and per inverted curve);
- even K in between: labels 0..K/2-1 are source-similar, K/2..K-1 source-dissimilar, consecutive
  curves sharing a label.
"""

from __future__ import annotations

import numpy as np

from MLNNetLib.augment.bezier import PAPER_CURVES, Curve, bezier_remap
from MLNNetLib.augment.invert import invert


def domain_labels(num_curves: int, num_domains: int) -> list[int]:
    """Labels of the 2·(num_curves + 1) images of :func:`expand_domains`, in its output order."""
    total = 2 * (num_curves + 1)
    if not 2 <= num_domains <= total:
        raise ValueError(f"num_domains={num_domains} must be between 2 and {total} for {num_curves} curves")
    return [i * num_domains // total for i in range(total)]


def expand_domains(img01: np.ndarray, mask: np.ndarray, num_domains: int = 2,
                   curves: list[Curve] | None = None) -> list[tuple[np.ndarray, int]]:
    """Return [(image float32, domain label)]: identity + Bézier remaps, then their inversions."""
    curves = PAPER_CURVES if curves is None else list(curves)
    labels = domain_labels(len(curves), num_domains)
    img = np.asarray(img01, dtype=np.float32)
    similar = [img.copy()] + [bezier_remap(img, p1, p2) for p1, p2 in curves]
    dissimilar = [invert(s, mask) for s in similar]
    return list(zip(similar + dissimilar, labels))
