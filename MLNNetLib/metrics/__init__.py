"""Segmentation metrics (paper §4.1.2, DESIGN §6): pixel overlap, medpy-equal surface distances, lesion detection."""

from MLNNetLib.metrics.evaluate import METRIC_KEYS, empty_state, evaluate_masks, image_diagonal_mm
from MLNNetLib.metrics.lesions import Detection, cluster_detection, label_objects, lesion_detection
from MLNNetLib.metrics.overlap import confusion, dice, precision, tpr
from MLNNetLib.metrics.surface import (
    SurfaceDistances, asd, assd, hd, hd95, surface_distances, surface_indices, surface_points,
)

__all__ = [
    "METRIC_KEYS", "empty_state", "evaluate_masks", "image_diagonal_mm", "Detection", "cluster_detection",
    "label_objects", "lesion_detection", "confusion", "dice", "precision", "tpr", "SurfaceDistances", "asd",
    "assd", "hd", "hd95", "surface_distances", "surface_indices", "surface_points",
]
