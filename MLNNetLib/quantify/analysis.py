"""One call from (mask, image, spacing) to the calcification table, the cluster table and the feature vector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.quantify.calcifications import measure_calcifications
from MLNNetLib.quantify.clusters import Clusters, find_clusters
from MLNNetLib.quantify.features import cluster_table, image_features
from MLNNetLib.quantify.intensity import AS_GIVEN_UNIT, DENSITY_UNIT, DENSITY_UNITS, density_image

log = get_logger(__name__)


@dataclass
class Quantification:
    calcifications: list[dict[str, float]]
    clusters: list[dict[str, float]]
    features: dict[str, float]
    components: Clusters  # component and cluster label images (for overlays, markups)
    density_unit: str = DENSITY_UNIT  # what density, density_8, density_32 are measured in


def quantify(
    mask: np.ndarray,
    image: np.ndarray | None,
    spacing: Sequence[float],
    path: str | None = None,
    kernel_px: int = 16,
    kernel_spacing_mm: float = 0.068,
    min_calcifications: int = 6,
    photometric: str = "MONOCHROME2",
    density_units: str = "normalised",
) -> Quantification:
    """Measure every calcification of a 2-D mask, group them into clusters, build the image-level features.

    ``image`` is the image as read (scanner units); densities are measured on ``intensity.density_image`` of it
    (one unit everywhere, ``Quantification.density_unit``); ``photometric="MONOCHROME1"`` for inverted pixel data
    that the reader did not convert. ``density_units="as_given"`` measures the values as passed (for images that
    already are in a known scale, e.g. known-answer tests). ``path`` only names the input in error messages.
    An empty mask is valid and gives zero counts.
    """
    if density_units not in DENSITY_UNITS:
        raise InputError(path, f"density_units must be one of {DENSITY_UNITS}, got {density_units!r}")
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(path, f"quantification needs a 2-D mask, got shape {mask.shape}")
    if image is not None and np.shape(image) != mask.shape:
        raise InputError(path, f"mask shape {mask.shape} does not match image shape {np.shape(image)}")
    if image is not None and not np.all(np.isfinite(image)):
        raise InputError(path, "image contains NaN or infinite values")
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 2 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise InputError(path, f"spacing must be two positive mm values, got {spacing}")
    unit = DENSITY_UNIT if density_units == "normalised" else AS_GIVEN_UNIT
    if image is not None and density_units == "normalised":
        image = density_image(image, spacing, photometric)
    clusters = find_clusters(mask, spacing, kernel_px, kernel_spacing_mm, min_calcifications)
    calcs = measure_calcifications(mask, image, spacing, clusters, reference_spacing_mm=kernel_spacing_mm)
    table = cluster_table(calcs, clusters, spacing)
    feats = image_features(calcs, table, reference_spacing_mm=kernel_spacing_mm)
    log.info("quantified %d calcifications, %d clusters (kernel %s px at spacing %s mm); densities in %s",
             clusters.n_components, clusters.n_clusters, clusters.kernel_shape, spacing, unit)
    return Quantification(calcs, table, feats, clusters, unit)
