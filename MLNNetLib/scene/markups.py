"""Point lists: array indices <-> RAS, and cluster centres labelled with their calcification counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from MLNNetLib.scene.volumes import ijk_to_ras_matrix


def ijk_to_ras(volume_node: Any, indices: np.ndarray) -> np.ndarray:
    """Numpy-order indices (N, 2) = (row, col) or (N, 3) = (slice, row, col) -> RAS (N, 3) in mm."""
    idx = np.atleast_2d(np.asarray(indices, float))
    ijk = np.zeros((len(idx), 4))
    ijk[:, : idx.shape[1]] = idx[:, ::-1]
    ijk[:, 3] = 1.0
    return (ijk_to_ras_matrix(volume_node) @ ijk.T).T[:, :3]


def ras_to_ijk(volume_node: Any, ras: np.ndarray) -> np.ndarray:
    """RAS (N, 3) -> continuous IJK (N, 3) (x = column, y = row, z = slice)."""
    pts = np.atleast_2d(np.asarray(ras, float))
    homo = np.c_[pts, np.ones(len(pts))]
    return (np.linalg.inv(ijk_to_ras_matrix(volume_node)) @ homo.T).T[:, :3]


def add_point_list(scene: Any, ras: np.ndarray, labels: Sequence[str] | None = None, name: str = "MLNNet points", node: Any = None) -> Any:
    """Markups point list with one labelled control point per RAS row (replaces ``node``'s points if given)."""
    pts = np.atleast_2d(np.asarray(ras, float)).reshape(-1, 3)
    node = node if node is not None else scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", name)
    node.RemoveAllControlPoints()
    for i, p in enumerate(pts):
        index = node.AddControlPoint(float(p[0]), float(p[1]), float(p[2]))
        if labels is not None:
            node.SetNthControlPointLabel(index, str(labels[i]))
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    return node


def point_list_ras(markups_node: Any) -> np.ndarray:
    """Control point positions (N, 3) in the node's own RAS (parent transforms not applied)."""
    n = markups_node.GetNumberOfControlPoints()
    out = np.zeros((n, 3))
    for i in range(n):
        markups_node.GetNthControlPointPosition(i, out[i])
    return out


def cluster_centres(volume_node: Any, clusters: Any, scene: Any = None, name: str = "Calcification clusters", node: Any = None) -> Any:
    """Point list at the centre of mass of each cluster, labelled "Cluster n: k calcifications".

    ``clusters`` is MLNNetLib.quantify's ``Clusters`` (duck-typed: ``cluster_labels``, ``n_clusters``,
    ``cluster_of_component``), on the volume's array grid.
    """
    from scipy import ndimage

    labels_img = np.asarray(clusters.cluster_labels)
    ids = list(range(1, int(clusters.n_clusters) + 1))
    if ids:
        centres = np.array(ndimage.center_of_mass(labels_img > 0, labels_img, ids), dtype=float).reshape(len(ids), -1)
    else:
        centres = np.zeros((0, labels_img.ndim))
    members = np.asarray(clusters.cluster_of_component)
    counts = [int(np.count_nonzero(members == cid)) for cid in ids]
    text = [f"Cluster {cid}: {k} calcifications" for cid, k in zip(ids, counts)]
    scene = scene if scene is not None else volume_node.GetScene()
    ras = ijk_to_ras(volume_node, centres) if len(ids) else np.zeros((0, 3))
    return add_point_list(scene, ras, text, name, node)
