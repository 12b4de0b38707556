"""Calcification clusters (seeds/002 §2.5): dilate the mask, a connected region with > 5 calcifications is a cluster.

Why it is written this way:
- Calcifications are the 8-connected components of the 2-D mask (diagonal pixels touch, as in the
  contour-based reference code; an oblique one-pixel-wide linear calcification stays one object).
- The seed dilates with a 16x16 all-ones kernel at its own pixel size; DESIGN §7 fixes that size as a
  physical length, ``kernel_px * kernel_spacing_mm`` (16 x 0.068 mm = 1.088 mm), turned back into pixels per
  axis at the image's spacing (``round(length / spacing)``, at least 1). So the same physical layout clusters
  the same way at any spacing.
- With a k x k box, two pixels end up in one dilated region when they are at most k pixels apart along each
  axis (Chebyshev distance <= k, i.e. up to k-1 background pixels between them); the box's anchor does not
  matter for that (the mask is padded by k so that holds at the image border too). Dilated regions are
  labelled with 8-connectivity too.
- Every calcification lies inside exactly one dilated region; a region holding at least ``min_calcifications``
  (default 6, "greater than 5") calcifications is a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from MLNNetLib.errors import InputError

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass
class Clusters:
    """Components of a mask and their grouping into clusters.

    component_labels: int32 array, mask shape, 0 background, 1..n_components one label per calcification.
    cluster_of_component: int array (n_components,), cluster id 1..n_clusters of component i+1, or -1.
    cluster_labels: int32 array, mask shape, pixels of clustered calcifications labelled by cluster id.
    """

    component_labels: np.ndarray
    n_components: int
    cluster_of_component: np.ndarray
    cluster_labels: np.ndarray
    n_clusters: int
    kernel_shape: tuple[int, ...] = field(default=(16, 16))

    def members(self, cluster_id: int) -> np.ndarray:
        """Component labels (1-based) belonging to one cluster."""
        return np.flatnonzero(self.cluster_of_component == cluster_id) + 1

    def counts(self) -> np.ndarray:
        """Number of calcifications per cluster, index 0 = cluster 1."""
        if self.n_clusters == 0:
            return np.zeros(0, dtype=np.int64)
        valid = self.cluster_of_component[self.cluster_of_component > 0]
        return np.bincount(valid, minlength=self.n_clusters + 1)[1:]


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a 2-D mask (labels in raster order of their first pixel)."""
    labels, n = ndimage.label(np.asarray(mask) > 0, structure=EIGHT_CONNECTED)
    return labels.astype(np.int32, copy=False), int(n)


def kernel_shape_for(spacing: Sequence[float], kernel_px: int = 16, kernel_spacing_mm: float = 0.068) -> tuple[int, ...]:
    """Side of the all-ones kernel per array axis: the seed's physical kernel length at this spacing."""
    length_mm = float(kernel_px) * float(kernel_spacing_mm)
    return tuple(max(1, int(round(length_mm / float(s)))) for s in spacing)


def _check(mask: np.ndarray, spacing: Sequence[float]) -> tuple[float, ...]:
    if mask.ndim != 2:
        raise InputError(None, f"clusters need a 2-D mask (rows, cols), got shape {mask.shape}; run DBT slice by slice")
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 2 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise InputError(None, f"spacing must be two positive mm values in array order, got {spacing}")
    return spacing


def find_clusters(
    mask: np.ndarray,
    spacing: Sequence[float],
    kernel_px: int = 16,
    kernel_spacing_mm: float = 0.068,
    min_calcifications: int = 6,
) -> Clusters:
    """Label calcifications and group them into clusters (see the module docstring for every choice)."""
    mask = np.asarray(mask)
    spacing = _check(mask, spacing)
    components, n = label_components(mask)
    shape = kernel_shape_for(spacing, kernel_px, kernel_spacing_mm)
    cluster_of = np.full(n, -1, dtype=np.int64)
    cluster_labels = np.zeros(mask.shape, dtype=np.int32)
    if n == 0:
        return Clusters(components, 0, cluster_of, cluster_labels, 0, shape)

    # A box maximum filter is a binary dilation by the all-ones kernel, done separably (fast on 12 MP images).
    # Padding by the kernel first lets dilated regions meet beyond the image edge, so calcifications near the
    # border group exactly as elsewhere and the grouping does not depend on where the kernel is anchored.
    pad = [(k, k) for k in shape]
    padded = np.pad((components > 0).view(np.uint8), pad)
    dilated = ndimage.maximum_filter(padded, size=shape, mode="constant", cval=0) > 0
    regions, n_regions = ndimage.label(dilated, structure=EIGHT_CONNECTED)
    regions = regions[tuple(slice(k, k + s) for k, s in zip(shape, components.shape))]
    # Region of each component: every pixel of a component lies in the same region, so any write wins.
    fg = components > 0
    region_of = np.zeros(n + 1, dtype=np.int64)
    region_of[components[fg]] = regions[fg]
    region_of = region_of[1:]
    per_region = np.bincount(region_of, minlength=n_regions + 1)

    cluster_regions = np.flatnonzero(per_region >= int(min_calcifications))
    cluster_regions = cluster_regions[cluster_regions > 0]
    region_to_cluster = np.full(n_regions + 1, -1, dtype=np.int64)
    region_to_cluster[cluster_regions] = np.arange(1, len(cluster_regions) + 1)
    cluster_of = region_to_cluster[region_of]

    lut = np.zeros(n + 1, dtype=np.int32)
    lut[1:] = np.where(cluster_of > 0, cluster_of, 0)
    cluster_labels = lut[components]
    return Clusters(components, n, cluster_of, cluster_labels, int(len(cluster_regions)), shape)
