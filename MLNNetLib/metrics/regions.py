"""Predicted calcifications scored against loose region outlines (CBIS-DDSM calcification ROIs): region-level
targets with lesion-level metrics.

A region outline says where a group of calcifications is, not which pixels are calcification, so pixel
overlap (DSC, TPR, precision) and surface distances against it are undefined (``None``). What can be scored:
- ``region_sensitivity``: reference regions holding at least one predicted calcification pixel / regions;
- ``region_precision``: predicted calcifications (8-connected components) touching a region / predicted ones;
- ``region_cluster_sensitivity``: regions holding a predicted cluster (MLNNetLib.quantify rule) / regions.
Each is ``None`` where its denominator is 0.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from MLNNetLib.metrics.evaluate import METRIC_KEYS

EIGHT = np.ones((3, 3), dtype=bool)


def evaluate_regions(pred: np.ndarray, region: np.ndarray, spacing) -> dict:
    """Region-level scores of a 2-D prediction (keys as ``evaluate_masks`` plus the region_* keys)."""
    from MLNNetLib.quantify.clusters import find_clusters

    pred, region = np.asarray(pred) > 0, np.asarray(region) > 0
    regions, n_regions = ndimage.label(region, structure=EIGHT)
    comps, n_pred = ndimage.label(pred, structure=EIGHT)
    hit_regions = np.unique(regions[pred & region])
    hit_regions = hit_regions[hit_regions > 0]
    inside = np.unique(comps[pred & region])
    inside = inside[inside > 0]
    clusters = find_clusters(pred, spacing)
    with_cluster = np.unique(regions[(clusters.cluster_labels > 0) & region])
    with_cluster = with_cluster[with_cluster > 0]
    out = {k: None for k in METRIC_KEYS}
    out.update(
        region_sensitivity=len(hit_regions) / n_regions if n_regions else None,
        region_precision=len(inside) / n_pred if n_pred else None,
        region_cluster_sensitivity=len(with_cluster) / n_regions if n_regions else None,
        empty=None,
        counts={"regions": {"n_ref": int(n_regions), "n_pred": int(n_pred), "found": int(len(hit_regions)),
                            "matched": int(len(inside))},
                "pred_clusters": int(clusters.n_clusters), "pred_pixels": int(pred.sum()), "ref_pixels": int(region.sum())},
        spacing=[float(s) for s in spacing],
    )
    return out
