"""Quantification outputs in the scene: per-calcification table, cluster table, image features, cluster points."""

from __future__ import annotations

from typing import Any

from MLNNetLib.errors import InputError
from MLNNetLib.scene.markups import cluster_centres
from MLNNetLib.scene.segments import find_segment, segment_to_array
from MLNNetLib.scene.tables import dict_table, rows_table
from MLNNetLib.scene.volumes import image_from_volume


def quantify_segment(volume_node: Any, segmentation_node: Any, segment: str, prefix: str | None = None) -> dict[str, Any]:
    """Run MLNNetLib.quantify on a segment of a 2-D volume and add four nodes for its results.

    Returns the feature dict and the node IDs (``calcifications``, ``clusters``, ``features``, ``points``).
    """
    from MLNNetLib.quantify import Clusters, quantify

    image = image_from_volume(volume_node)
    if image.array.ndim != 2:
        raise InputError(None, f"quantification is defined on 2-D mammograms; volume '{volume_node.GetName()}' has {image.array.shape[0]} slices")
    segment_id = find_segment(segmentation_node, segment)
    mask = segment_to_array(segmentation_node, segment_id, volume_node)
    result = quantify(mask, image.array, image.spacing, path=volume_node.GetName())
    # the Clusters object (component and cluster label images) of the result, whatever its field is called
    clusters_obj = next(v for v in vars(result).values() if isinstance(v, Clusters))
    scene = volume_node.GetScene()
    name = prefix or segmentation_node.GetSegmentation().GetSegment(segment_id).GetName()
    calcs = rows_table(scene, result.calcifications, f"{name} calcifications")
    clusters = rows_table(scene, result.clusters, f"{name} clusters")
    features = dict_table(scene, {**result.features, "density_unit": result.density_unit}, f"{name} image features")
    points = cluster_centres(volume_node, clusters_obj, scene, f"{name} cluster centres")
    return {
        "features": dict(result.features),
        "density_unit": result.density_unit,
        "n_calcifications": len(result.calcifications),
        "n_clusters": int(clusters_obj.n_clusters),
        "calcifications": calcs.GetID(),
        "clusters": clusters.GetID(),
        "features_table": features.GetID(),
        "points": points.GetID(),
    }
