"""Cluster table and the image-level feature vector with the seed's names (seeds/002 §2.5, Figure 5).

How the seed's categories are cut (why fixed thresholds): the seed says the ``_l/_m/_s`` suffixes are
"relative size categories" without giving the cuts. Per-image tertiles would put a third of every image's
calcifications in each bin, so the counts would only repeat ``calc_num``; the classifier needs counts that
mean the same thing in every image. So each bin has fixed cuts in physical (mm) or dimensionless units:
``_s``: value < lo, ``_m``: lo <= value < hi, ``_l``: value >= hi (NaN values fall in no bin). The cuts
(``BINS``) follow BI-RADS sizes (fine calcifications < 0.5 mm, coarse > 1 mm) and the shapes' reference values
(disc roundness 1, rectangularity 0.79, perimeter ratio 0.79; square 0.93, 1, 0.93), keeping those
reference values away from the cuts so that resampling does not flip a shape between bins.
Sizes: the seed's size_10 / size_10_30 / size_30 count calcifications under 10, from 10 to 30, and over 30
pixels at its 0.068 mm pixel; here the same areas in mm² (10 px = 0.04624 mm², 30 px = 0.13872 mm²).
Density features use ``contrast`` (density above the 2.2 mm surroundings, as a fraction of the image's robust
intensity range) so they do not depend on the scanner's intensity scale. ``density``, ``density_8`` and
``density_32`` are means over calcifications (not over pixels) in ``quantify.intensity.DENSITY_UNIT`` (the
normalised image), ``blurriness`` the mean edge width in mm (``calcifications.edge_width_mm``).
Cluster area = area of the convex hull of the cluster's calcification pixels (mm²); ``clu_max_num`` and
``clu_max_area`` are maxima over clusters, each taken separately. An empty mask gives zeros everywhere
(and without an image the density means are 0, the density bins empty).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull

from MLNNetLib.quantify.calcifications import REFERENCE_SPACING_MM
from MLNNetLib.quantify.clusters import Clusters

# feature stem -> (per-calcification column, lo, hi)
BINS: dict[str, tuple[str, float, float]] = {
    "perimeter": ("perimeter_mm", 0.8, 1.6),
    "round": ("roundness", 0.6, 0.85),
    "long": ("long_side_mm", 0.25, 0.5),
    "rectangularity": ("rectangularity", 0.65, 0.9),  # any ellipse is pi/4 = 0.785: mid-bin, blocky >= 0.9
    "lenratio": ("perimeter_ratio", 0.85, 1.0),
    "density": ("contrast", 0.1, 0.25),
    "length": ("aspect_ratio", 1.5, 3.0),
}
SIZE_PX = (10, 30)

FEATURE_NAMES = [
    "calc_num", "density", "density_32", "density_8", "size_10", "size_10_30", "size_30", "calc_area",
    "clu_num", "clu_max_num", "clu_max_area", "clu_Density_l", "clu_Density_m", "clu_Density_s",
    "perimeter_s", "perimeter_m", "perimeter_l", "round_s", "round_m", "round_l", "long_l", "long_m", "long_s",
    "rectangularity_l", "rectangularity_m", "rectangularity_s", "lenratio_l", "lenratio_m", "lenratio_s",
    "density_l", "density_m", "density_s", "length_l", "length_m", "length_s",
    "blurriness",  # the seed quantifies it without a Figure-5 name: mean edge width (mm), calcifications.py
]

CLUSTER_COLUMNS = [
    "cluster", "count", "calc_area_mm2", "hull_area_mm2", "centroid_row", "centroid_col",
    "density", "density_8", "density_32",
]


def bin_of(value: float, lo: float, hi: float) -> str | None:
    """'s', 'm' or 'l' for one value (None for NaN)."""
    if not np.isfinite(value):
        return None
    value = round(float(value), 9)  # 1.5000000000000009 and 1.4999999999999984 are the same 3x2 rectangle
    return "s" if value < lo else "m" if value < hi else "l"


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else 0.0


def hull_area_mm2(rows: np.ndarray, cols: np.ndarray, spacing: Sequence[float]) -> float:
    """Area of the convex hull of the pixels' corners (a lone pixel has its own area)."""
    offsets = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
    centres = np.stack([np.asarray(rows, float), np.asarray(cols, float)], axis=1)
    pts = np.unique((centres[:, None, :] + offsets[None]).reshape(-1, 2), axis=0) * np.asarray(spacing, float)
    return float(ConvexHull(pts).volume)


def cluster_table(calcs: list[dict[str, float]], clusters: Clusters, spacing: Sequence[float]) -> list[dict[str, float]]:
    """One row per cluster: count, summed and hull area (mm²), area-weighted centroid (pixels), mean densities."""
    out = []
    boxes = ndimage.find_objects(clusters.cluster_labels, max_label=clusters.n_clusters)
    for cid, box in enumerate(boxes, start=1):
        members = [c for c in calcs if c["cluster"] == cid]
        rr, cc = np.nonzero(clusters.cluster_labels[box] == cid)
        rr, cc = rr + box[0].start, cc + box[1].start
        out.append({
            "cluster": cid,
            "count": len(members),
            "calc_area_mm2": float(sum(c["area_mm2"] for c in members)),
            "hull_area_mm2": hull_area_mm2(rr, cc, spacing),
            "centroid_row": float(rr.mean()),
            "centroid_col": float(cc.mean()),
            "density": _mean([c["density"] for c in members]),
            "density_8": _mean([c["density_8"] for c in members]),
            "density_32": _mean([c["density_32"] for c in members]),
        })
    return out


def image_features(
    calcs: list[dict[str, float]], cluster_rows: list[dict[str, float]], reference_spacing_mm: float = REFERENCE_SPACING_MM
) -> dict[str, float]:
    """The seed's image-level vector (keys ``FEATURE_NAMES``, in that order) from the two tables."""
    f: dict[str, float] = {name: 0 for name in FEATURE_NAMES}
    f["calc_num"] = len(calcs)
    f["density"] = _mean([c["density"] for c in calcs])
    f["density_32"] = _mean([c["density_32"] for c in calcs])
    f["density_8"] = _mean([c["density_8"] for c in calcs])
    f["blurriness"] = _mean([c.get("blurriness_mm", float("nan")) for c in calcs])
    ref_px_area = reference_spacing_mm**2
    lo, hi = SIZE_PX
    for c in calcs:
        eq_px = round(c["area_mm2"] / ref_px_area, 6)  # area in the seed's pixels; rounding absorbs float noise
        f["size_10" if eq_px < lo else "size_10_30" if eq_px <= hi else "size_30"] += 1
        for stem, (column, b_lo, b_hi) in BINS.items():
            b = bin_of(c[column], b_lo, b_hi)
            if b is not None:
                f[f"{stem}_{b}"] += 1
                if stem == "density" and c["cluster"] > 0:
                    f[f"clu_Density_{b}"] += 1
    f["calc_area"] = float(sum(c["area_mm2"] for c in calcs))
    f["clu_num"] = len(cluster_rows)
    f["clu_max_num"] = max((r["count"] for r in cluster_rows), default=0)
    f["clu_max_area"] = float(max((r["hull_area_mm2"] for r in cluster_rows), default=0.0))
    return {name: f[name] for name in FEATURE_NAMES}
