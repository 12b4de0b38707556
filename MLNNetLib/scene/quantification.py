"""Quantification outputs in the scene: per-calcification table, cluster table, image features, cluster points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.scene.markups import add_point_list, ijk_to_ras
from MLNNetLib.scene.segments import find_segment, segment_to_array
from MLNNetLib.scene.tables import dict_table, rows_table
from MLNNetLib.scene.volumes import image_from_volume


def quantification_inputs(volume_node: Any, segmentation_node: Any, segment: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float], str]:
    """(image, mask, spacing, segment name) of a segment on a 2-D volume: what quantification measures."""
    image = image_from_volume(volume_node)
    if image.array.ndim != 2:
        raise InputError(None, f"quantification is defined on 2-D mammograms; volume '{volume_node.GetName()}' has {image.array.shape[0]} slices")
    segment_id = find_segment(segmentation_node, segment)
    mask = segment_to_array(segmentation_node, segment_id, volume_node)
    name = segmentation_node.GetSegmentation().GetSegment(segment_id).GetName()
    return image.array, mask, tuple(image.spacing), name


def cluster_points(volume_node: Any, cluster_rows: Sequence[Mapping[str, Any]], scene: Any = None, name: str = "Calcification clusters") -> Any:
    """Point list at each cluster's centroid (the cluster table's centroid_row/col), labelled with its count."""
    rows = list(cluster_rows)
    centres = np.array([[float(r["centroid_row"]), float(r["centroid_col"])] for r in rows]).reshape(len(rows), 2)
    labels = [f"Cluster {int(r['cluster'])}: {int(r['count'])} calcifications" for r in rows]
    scene = scene if scene is not None else volume_node.GetScene()
    ras = ijk_to_ras(volume_node, centres) if rows else np.zeros((0, 3))
    return add_point_list(scene, ras, labels, name)


def add_quantification_nodes(
    volume_node: Any,
    name: str,
    calcifications: Sequence[Mapping[str, Any]],
    clusters: Sequence[Mapping[str, Any]],
    features: Mapping[str, Any],
    density_unit: str | None = None,
) -> dict[str, Any]:
    """Four nodes for one quantification result; the same for the in-process and the background run."""
    scene = volume_node.GetScene()
    calcs = rows_table(scene, calcifications, f"{name} calcifications")
    cluster_table = rows_table(scene, clusters, f"{name} clusters")
    shown = {**features, "density_unit": density_unit} if density_unit else dict(features)
    features_table = dict_table(scene, shown, f"{name} image features")
    points = cluster_points(volume_node, clusters, scene, f"{name} cluster centres")
    return {
        "features": dict(features),
        "density_unit": density_unit,
        "n_calcifications": len(calcifications),
        "n_clusters": len(clusters),
        "calcifications": calcs.GetID(),
        "clusters": cluster_table.GetID(),
        "features_table": features_table.GetID(),
        "points": points.GetID(),
    }


def quantify_segment(volume_node: Any, segmentation_node: Any, segment: str, prefix: str | None = None) -> dict[str, Any]:
    """Run MLNNetLib.quantify on a segment of a 2-D volume and add four nodes for its results.

    Returns the feature dict and the node IDs (``calcifications``, ``clusters``, ``features_table``, ``points``).
    """
    from MLNNetLib.quantify import quantify

    image, mask, spacing, name = quantification_inputs(volume_node, segmentation_node, segment)
    result = quantify(mask, image, spacing, path=volume_node.GetName())
    return add_quantification_nodes(volume_node, prefix or name, result.calcifications, result.clusters, result.features,
                                    result.density_unit)
