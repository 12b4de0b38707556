"""Calcification quantification (seeds/002 §2.5): per-calcification measurements, clusters, image features.

Module map: ``clusters`` (components + dilation clusters), ``calcifications`` (per-component shape and
density), ``features`` (cluster table, image-level vector, bin cuts), ``analysis`` (one call for all three),
``table`` (atomic CSV).
"""

from MLNNetLib.quantify.analysis import Quantification, quantify
from MLNNetLib.quantify.calcifications import COLUMNS, crofton_perimeter, measure_calcifications, min_area_rectangle
from MLNNetLib.quantify.clusters import Clusters, find_clusters, kernel_shape_for, label_components
from MLNNetLib.quantify.features import BINS, CLUSTER_COLUMNS, FEATURE_NAMES, cluster_table, image_features
from MLNNetLib.quantify.intensity import DENSITY_UNIT, density_image
from MLNNetLib.quantify.table import write_table

__all__ = [
    "BINS", "CLUSTER_COLUMNS", "COLUMNS", "Clusters", "DENSITY_UNIT", "FEATURE_NAMES", "Quantification",
    "cluster_table", "density_image",
    "crofton_perimeter", "find_clusters", "image_features", "kernel_shape_for", "label_components",
    "measure_calcifications", "min_area_rectangle", "quantify", "write_table",
]
