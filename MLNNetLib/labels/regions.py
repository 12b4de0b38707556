"""Calcification masks inside loose region outlines (CBIS-DDSM calcification ROIs) by a classical detector.

A region label says "the calcifications are somewhere in here" (CBIS-DDSM's curators refined only the mass
outlines). A segmenter trained on the filled outline would learn blobs, not calcifications, so the region is
used as a search area: inside it (plus a small margin), bright spots smaller than a calcification's largest
size are found by a white top-hat (grey opening with a disk of ``max_diameter_mm``), thresholded with
hysteresis against the robust noise level of the top-hat over breast tissue in the search window
(``high`` x sigma seeds a spot, ``low`` x sigma bounds it, and within that it keeps the pixels above half its
peak, the level the point labels use). Components larger than the disk or outside
the region are dropped. The result is approximate and is flagged so wherever it is used (cache index, model
header); it is reported against the true masks of synthetic cases by a test.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class DetectorSettings:
    max_diameter_mm: float = 0.8  # calcifications are 0.1-0.6 mm (DESIGN §5); larger bright spots are tissue
    high: float = 6.0  # seed threshold, in robust noise sigmas of the top-hat
    low: float = 2.5  # extent threshold
    margin_mm: float = 1.0  # the outline is loose: search a little beyond it
    extent: float = 0.5  # a spot's pixels reach this fraction of its top-hat peak (0.5 = half maximum)

    def to_dict(self) -> dict:
        return asdict(self)


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius


def _robust_sigma(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    med = float(np.median(values))
    return 1.4826 * float(np.median(np.abs(values - med)))


def detect_in_regions(img01: np.ndarray, breast: np.ndarray, region: np.ndarray, spacing_rc: tuple[float, float],
                      settings: DetectorSettings | None = None) -> tuple[np.ndarray, dict]:
    """(calcification mask uint8, info) of the spots found inside each connected region of ``region``."""
    s = settings or DetectorSettings()
    img = np.asarray(img01, dtype=np.float32)
    out = np.zeros(img.shape, np.uint8)
    pitch = float(min(spacing_rc))
    radius = max(1, int(round(s.max_diameter_mm / 2 / pitch)))
    margin = max(1, int(round(s.margin_mm / pitch)))
    max_area = np.pi * (radius + 0.5) ** 2
    labels, n_regions = ndimage.label(np.asarray(region) > 0, structure=EIGHT)
    found = 0
    for box in ndimage.find_objects(labels):
        pad = margin + 2 * radius
        r0, c0 = max(box[0].start - pad, 0), max(box[1].start - pad, 0)
        r1, c1 = min(box[0].stop + pad, img.shape[0]), min(box[1].stop + pad, img.shape[1])
        crop = img[r0:r1, c0:c1]
        tophat = crop - ndimage.grey_opening(crop, footprint=_disk(radius))
        tissue = np.asarray(breast)[r0:r1, c0:c1]
        sigma = _robust_sigma(tophat[tissue] if tissue.any() else tophat.ravel())
        if sigma <= 0:
            continue
        search = ndimage.binary_dilation(labels[r0:r1, c0:c1] > 0, _disk(margin)) & tissue
        weak = (tophat > s.low * sigma) & search
        comps, n = ndimage.label(weak, structure=EIGHT)
        if n == 0:
            continue
        idx = np.arange(1, n + 1)
        peaks = ndimage.maximum(tophat, comps, idx)
        areas = ndimage.sum(np.ones_like(tophat), comps, idx)
        keep = np.zeros(n + 1, bool)
        keep[1:] = (np.asarray(peaks) > s.high * sigma) & (np.asarray(areas) <= max_area)
        peak_of = np.zeros(n + 1, np.float32)
        peak_of[1:] = peaks
        spots = keep[comps] & (tophat >= s.extent * peak_of[comps])  # half maximum of each spot, as level tracing
        out[r0:r1, c0:c1] |= spots.astype(np.uint8)
        found += int(keep.sum())
    info = {"method": "white top-hat + hysteresis inside the region", "approximate": True, "regions": int(n_regions),
            "spots": found, "settings": s.to_dict()}
    return out, info
