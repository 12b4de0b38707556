"""Scalar volume node <-> MLNNetLib Image, keeping the geometry.

MRML stores IJK->RAS; ITK/SimpleITK (and so ``Geometry``) store LPS origin, spacing and direction. The two
differ by flipping the first two physical axes. A 2-D mammogram is a single-slice volume in MRML and a
(rows, cols) array in MLNNetLib; the slice's own 3-D placement is kept in ``meta`` so nothing is lost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def _node_label(node: Any) -> str:
    return f"volume node '{node.GetName()}'" if node is not None else "volume node"


def ijk_to_ras_matrix(volume_node: Any) -> np.ndarray:
    """4x4 IJK->RAS matrix of a volume node (its own, parent transforms not applied)."""
    import vtk

    m = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(m)
    return np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])


def _matrix_from_geometry(geometry: Geometry) -> np.ndarray:
    """IJK->RAS from an LPS Geometry (2-D geometries become the z = 0 plane with 1 mm slice spacing)."""
    n = geometry.ndim
    if n not in (2, 3):
        raise InputError(None, f"geometry must be 2-D or 3-D, got {n}-D")
    direction = np.eye(3)
    direction[:n, :n] = np.asarray(geometry.direction, float).reshape(n, n)
    spacing = np.ones(3)
    spacing[:n] = geometry.spacing_xyz
    origin = np.zeros(3)
    origin[:n] = geometry.origin_xyz
    m = np.eye(4)
    m[:3, :3] = LPS_TO_RAS @ direction @ np.diag(spacing)
    m[:3, 3] = LPS_TO_RAS @ origin
    return m


def _geometry_from_matrix(m: np.ndarray, ndim: int) -> tuple[Geometry, list[str]]:
    lps = LPS_TO_RAS @ m[:3, :4]
    axes = lps[:, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if np.any(spacing <= 0):
        raise InputError(None, f"IJK->RAS matrix has a zero-length axis: {m.tolist()}")
    direction = axes / spacing
    origin = lps[:, 3]
    warnings: list[str] = []
    if ndim == 2:
        block = direction[:2, :2]
        if not np.allclose(block.T @ block, np.eye(2), atol=1e-6):
            warnings.append("single-slice volume is not in an axial plane; its 2-D geometry keeps only the in-plane axes")
        return Geometry(tuple(spacing[:2].tolist()), tuple(origin[:2].tolist()), tuple(block.ravel().tolist())), warnings
    return Geometry(tuple(spacing.tolist()), tuple(origin.tolist()), tuple(direction.ravel().tolist())), warnings


def volume_array_shape(volume_node: Any) -> tuple[int, ...]:
    """Shape ``image_from_volume`` gives, without copying the voxels: (rows, cols) or (slices, rows, cols)."""
    if volume_node is None or volume_node.GetImageData() is None:
        raise InputError(None, f"{_node_label(volume_node)} has no image data")
    cols, rows, slices = volume_node.GetImageData().GetDimensions()
    return (rows, cols) if slices == 1 else (slices, rows, cols)


def image_from_volume(volume_node: Any, keep_slice_axis: bool = False) -> Image:
    """Copy a scalar volume into an Image: (rows, cols) for single-slice volumes, else (slices, rows, cols)."""
    import slicer.util

    if volume_node is None or not volume_node.IsA("vtkMRMLScalarVolumeNode"):
        raise InputError(None, "input must be a scalar volume node")
    if volume_node.GetImageData() is None:
        raise InputError(None, f"{_node_label(volume_node)} has no image data")
    array = np.array(slicer.util.arrayFromVolume(volume_node), dtype=np.float32, copy=True)
    if array.ndim != 3:
        raise InputError(None, f"{_node_label(volume_node)} has {array.ndim}-D voxels; a scalar image is needed")
    m = ijk_to_ras_matrix(volume_node)
    two_d = array.shape[0] == 1 and not keep_slice_axis
    geometry, warnings = _geometry_from_matrix(m, 2 if two_d else 3)
    meta = {
        "source": "mrml",
        "node_name": volume_node.GetName(),
        "ijk_to_ras": m.tolist(),
        "spacing_source": "header",
        "warnings": warnings,
        "frames": int(array.shape[0]),
    }
    return Image(array[0] if two_d else array, geometry, path=None, meta=meta)


def update_volume_from_image(volume_node: Any, image: Image | np.ndarray, geometry: Geometry | None = None) -> Any:
    """Replace a volume's voxels (and geometry when given/known) with an Image or array."""
    import slicer.util

    array = image.array if isinstance(image, Image) else np.asarray(image)
    geometry = image.geometry if isinstance(image, Image) and geometry is None else geometry
    if array.ndim not in (2, 3):
        raise InputError(None, f"array must be 2-D or 3-D, got shape {array.shape}")
    slicer.util.updateVolumeFromArray(volume_node, array if array.ndim == 3 else array[np.newaxis])
    if geometry is not None:
        if geometry.ndim != array.ndim:
            raise InputError(None, f"geometry is {geometry.ndim}-D but the array is {array.ndim}-D")
        volume_node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(_matrix_from_geometry(geometry)))
    volume_node.Modified()
    return volume_node


def add_volume_from_image(scene: Any, image: Image, name: str = "Image", like: Any = None, label: bool = False) -> Any:
    """New scalar (or labelmap) volume node holding ``image``; ``like`` copies another node's IJK->RAS instead."""
    import slicer.util

    node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode" if label else "vtkMRMLScalarVolumeNode", name)
    if like is not None:
        update_volume_from_image(node, image.array if isinstance(image, Image) else image)
        node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(ijk_to_ras_matrix(like)))
        if like.GetTransformNodeID():
            node.SetAndObserveTransformNodeID(like.GetTransformNodeID())
    else:
        update_volume_from_image(node, image)
    node.CreateDefaultDisplayNodes()
    return node
