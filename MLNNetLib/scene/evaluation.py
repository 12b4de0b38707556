"""Reference segment vs predicted segment -> MLNNetLib.metrics figures, in mm, as a table node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from MLNNetLib.scene.segments import find_segment, segment_to_array
from MLNNetLib.scene.tables import dict_table
from MLNNetLib.scene.volumes import image_from_volume

DISTANCE_KEYS = ("hd", "hd95", "asd", "asd_directed")  # asd = the paper's (symmetric) ASD
METRIC_ORDER = (
    "tpr", "precision", "dice", "hd", "hd95", "asd", "asd_directed",
    "lesion_sensitivity", "lesion_precision", "cluster_sensitivity", "cluster_precision", "empty",
)


def evaluation_masks(
    reference_node: Any, reference_segment: str, predicted_node: Any, predicted_segment: str, reference_volume: Any,
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """(reference mask, predicted mask, spacing in mm) on the volume's grid: what the metrics are computed on."""
    ref = segment_to_array(reference_node, find_segment(reference_node, reference_segment), reference_volume)
    pred = segment_to_array(predicted_node, find_segment(predicted_node, predicted_segment), reference_volume)
    return ref, pred, tuple(image_from_volume(reference_volume).spacing)


def evaluation_table(scene: Any, metrics: Mapping[str, Any], name: str, table_node: Any = None) -> Any:
    """Table node (name, value, unit) of an ``evaluate_masks`` result, the main figures first."""
    ordered = {k: metrics[k] for k in METRIC_ORDER if k in metrics}
    ordered.update({k: v for k, v in metrics.items() if k not in ordered})
    units = {k: ("mm" if k in DISTANCE_KEYS else "") for k in ordered}
    return dict_table(scene, ordered, name=name, units=units, table_node=table_node)


def table_name(predicted_segment: str, reference_segment: str) -> str:
    return f"Evaluation {predicted_segment} vs {reference_segment}"


def evaluate_segments(
    reference_node: Any,
    reference_segment: str,
    predicted_node: Any,
    predicted_segment: str,
    reference_volume: Any,
    table_node: Any = None,
    scene: Any = None,
) -> tuple[dict[str, Any], Any]:
    """Metrics of the predicted segment against the reference segment on the volume's grid and spacing.

    2-D (single-slice) volumes are evaluated as 2-D images; DBT volumes as one 3-D object. Returns the
    metrics dict of ``MLNNetLib.metrics.evaluate_masks`` and the table node (name, value, unit).
    """
    from MLNNetLib.metrics import evaluate_masks

    ref, pred, spacing = evaluation_masks(reference_node, reference_segment, predicted_node, predicted_segment, reference_volume)
    metrics = evaluate_masks(pred, ref, spacing)
    scene = scene if scene is not None else reference_volume.GetScene()
    table = evaluation_table(scene, metrics, table_name(predicted_segment, reference_segment), table_node)
    return metrics, table
