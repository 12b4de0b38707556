"""Save and reload segmentations as .seg.nrrd (Slicer's own format: segment names, colours, terminology)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from MLNNetLib.atomic import atomic_path
from MLNNetLib.errors import InputError


def save_segmentation(segmentation_node: Any, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``path`` (.seg.nrrd) atomically; refuses to replace an existing file unless ``overwrite``."""
    import slicer

    path = Path(path)
    if not path.name.endswith(".seg.nrrd"):
        raise InputError(path, "segmentations are saved as .seg.nrrd")
    with atomic_path(path, overwrite) as tmp:
        storage = slicer.vtkMRMLSegmentationStorageNode()
        storage.SetFileName(str(tmp))
        if not storage.WriteData(segmentation_node):
            raise InputError(path, f"could not write segmentation '{segmentation_node.GetName()}'")
    return path


def load_segmentation(scene: Any, path: str | os.PathLike, name: str | None = None) -> Any:
    """New segmentation node read from a .seg.nrrd (or a labelmap NRRD) file."""
    import slicer

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such segmentation file")
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name or path.name.removesuffix(".seg.nrrd").removesuffix(".nrrd"))
    storage = slicer.vtkMRMLSegmentationStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    if not storage.ReadData(node):
        scene.RemoveNode(storage)
        scene.RemoveNode(node)
        raise InputError(path, "not a readable segmentation file")
    node.SetAndObserveStorageNodeID(storage.GetID())
    node.CreateDefaultDisplayNodes()
    return node
