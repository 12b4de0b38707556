"""Make a result visible: the segment in the slice views, the views on the largest cluster, tables in a table view.

Only MRML nodes and the application logic are used (no Qt): setting the layout node's view arrangement is
what ``qMRMLLayoutManager.setLayout`` does, and the layout logic creates the missing view nodes at once, so
the same calls work in Slicer and on a headless scene with a ``vtkMRMLLayoutLogic``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from MLNNetLib.log import get_logger
from MLNNetLib.quantify import find_clusters, kernel_shape_for  # imported when a job is created, not when it loads

log = get_logger(__name__)

TABLE_VIEW_CLASS = "vtkMRMLTableViewNode"
MIN_FIELD_OF_VIEW_MM = 20.0  # never zoom closer than 2 cm around a cluster
CLUSTER_MARGIN = 3.0  # the view shows this many cluster extents


@dataclass(frozen=True)
class ClusterSpot:
    """Where to look: array index (numpy order, the volume's grid), size in mm, and what it is."""

    index: tuple[float, ...]
    extent_mm: float
    calcifications: int
    clustered: bool


def _crop_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows, cols = np.nonzero(mask)
    r0, r1 = max(int(rows.min()) - margin, 0), min(int(rows.max()) + margin + 1, mask.shape[0])
    c0, c1 = max(int(cols.min()) - margin, 0), min(int(cols.max()) + margin + 1, mask.shape[1])
    return slice(r0, r1), slice(c0, c1)


def largest_cluster(mask: np.ndarray, spacing: Sequence[float]) -> ClusterSpot | None:
    """The cluster with most calcifications (MLNNetLib.quantify's definition); else the largest calcification.

    2-D masks are clustered as they are; for a DBT stack the slice with most foreground is used. The mask is
    cropped to its foreground (plus the clustering kernel) first: dilation clusters do not depend on what lies
    farther away, and a mammogram's calcifications cover a small part of it. None for an empty mask.
    """
    mask = np.asarray(mask) > 0
    if not mask.any():
        return None
    spacing = tuple(float(s) for s in spacing)
    if mask.ndim == 3:
        k = int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))
        spot = largest_cluster(mask[k], spacing[1:])
        return None if spot is None else ClusterSpot((float(k), *spot.index), spot.extent_mm, spot.calcifications, spot.clustered)
    margin = 2 * max(kernel_shape_for(spacing))
    box = _crop_box(mask, margin)
    crop = mask[box].astype(np.uint8)
    clusters = find_clusters(crop, spacing)
    if clusters.n_clusters:
        members = np.asarray(clusters.cluster_of_component)
        counts = np.bincount(members[members > 0], minlength=clusters.n_clusters + 1)
        cid = int(np.argmax(counts))
        region = np.asarray(clusters.cluster_labels) == cid
        n, clustered = int(counts[cid]), True
    else:
        labels, n_components = ndimage.label(crop)
        sizes = ndimage.sum(crop, labels, range(1, n_components + 1))
        region = labels == int(np.argmax(sizes)) + 1
        n, clustered = 1, False
    rows, cols = np.nonzero(region)
    extent = max((rows.max() - rows.min() + 1) * spacing[0], (cols.max() - cols.min() + 1) * spacing[1])
    centre = (float(rows.mean()) + box[0].start, float(cols.mean()) + box[1].start)
    return ClusterSpot(centre, float(extent), n, clustered)


def show_segment(app_logic: Any, volume_node: Any, segmentation_node: Any, segment_id: str) -> None:
    """The volume as background of every slice view (field of view kept) and the segment drawn in 2-D."""
    selection = app_logic.GetSelectionNode()
    if selection is not None:
        selection.SetActiveVolumeID(volume_node.GetID())
        app_logic.PropagateBackgroundVolumeSelection(0)
    if segmentation_node.GetDisplayNode() is None:
        segmentation_node.CreateDefaultDisplayNodes()
    display = segmentation_node.GetDisplayNode()
    display.SetVisibility(True)
    display.SetVisibility2DFill(True)
    display.SetVisibility2DOutline(True)
    display.SetSegmentVisibility(segment_id, True)


def centre_views_on(scene: Any, volume_node: Any, spot: ClusterSpot) -> np.ndarray:
    """Centre every slice view on ``spot`` and zoom in so the cluster is clearly visible; returns the RAS point."""
    import slicer

    from MLNNetLib.scene.markups import ijk_to_ras

    ras = ijk_to_ras(volume_node, np.array([spot.index]))[0]
    slicer.vtkMRMLSliceNode.JumpAllSlices(scene, float(ras[0]), float(ras[1]), float(ras[2]), slicer.vtkMRMLSliceNode.CenteredJumpSlice)
    wanted = max(MIN_FIELD_OF_VIEW_MM, CLUSTER_MARGIN * spot.extent_mm)
    for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
        node = scene.GetNthNodeByClass(i, "vtkMRMLSliceNode")
        fov = node.GetFieldOfView()
        if fov[0] > wanted:  # zoom in only; a view already closer stays as it is
            node.SetFieldOfView(wanted, wanted * fov[1] / fov[0], fov[2])
    log.info("views centred on %s at RAS %s (%d calcifications, %.1f mm)",
             "the largest cluster" if spot.clustered else "the largest calcification", np.round(ras, 2).tolist(),
             spot.calcifications, spot.extent_mm)
    return ras


def show_table(app_logic: Any, table_node: Any) -> bool:
    """Show ``table_node`` in a table view, switching to the four-up + table layout when none is shown.

    Returns True when the layout was changed.
    """
    import slicer

    scene = table_node.GetScene()
    layout = scene.GetFirstNodeByClass("vtkMRMLLayoutNode")
    changed = False
    if layout is not None and TABLE_VIEW_CLASS not in (layout.GetCurrentLayoutDescription() or ""):
        layout.SetViewArrangement(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
        changed = True
    selection = app_logic.GetSelectionNode()
    selection.SetActiveTableID(table_node.GetID())
    app_logic.PropagateTableSelection()
    return changed


def present_segmentation(app_logic: Any, volume_node: Any, result: dict[str, Any]) -> None:
    """After a segmentation: the new segment shown over its volume, the views on the largest cluster."""
    scene = volume_node.GetScene()
    segmentation_node = scene.GetNodeByID(result["segmentation_node_id"])
    show_segment(app_logic, volume_node, segmentation_node, result["segment_id"])
    focus = result.get("focus")
    if focus is not None:
        centre_views_on(scene, volume_node, focus)
