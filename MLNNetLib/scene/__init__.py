"""The only part of MLNNetLib that talks to MRML (3D Slicer's scene).

Every function takes MRML nodes (or a scene) as arguments and imports ``slicer`` lazily, so the rest of
MLNNetLib stays importable without Slicer. Only what the PyPI package ``slicer-core`` also provides is used
(vtkMRML* nodes, vtkSlicer*Logic static helpers, vtkITK, slicer.util array helpers that do not need
``slicer.mrmlScene``), so the same code runs inside the Slicer application and in headless pytest.
"""

from MLNNetLib.scene.evaluation import evaluate_segments
from MLNNetLib.scene.files import load_segmentation, save_segmentation
from MLNNetLib.scene.headless import HeadlessScene
from MLNNetLib.scene.level_tracing import PointLabel, label_points
from MLNNetLib.scene.markups import add_point_list, cluster_centres, ijk_to_ras, point_list_ras, ras_to_ijk
from MLNNetLib.scene.quantification import quantify_segment
from MLNNetLib.scene.run import segment_volume_node
from MLNNetLib.scene.segments import (
    CALCIFICATION_TERMINOLOGY,
    MLN_SEGMENT_COLOR,
    MLN_SEGMENT_NAME,
    add_mask_segment,
    find_segment,
    new_segmentation_node,
    segment_to_array,
    segment_names,
    unique_segment_name,
    write_mask_to_segment,
)
from MLNNetLib.scene.tables import dict_table, rows_table, table_to_rows
from MLNNetLib.scene.volumes import add_volume_from_image, image_from_volume, ijk_to_ras_matrix, update_volume_from_image

__all__ = [
    "CALCIFICATION_TERMINOLOGY",
    "MLN_SEGMENT_COLOR",
    "MLN_SEGMENT_NAME",
    "HeadlessScene",
    "PointLabel",
    "add_mask_segment",
    "add_point_list",
    "add_volume_from_image",
    "cluster_centres",
    "dict_table",
    "evaluate_segments",
    "find_segment",
    "image_from_volume",
    "ijk_to_ras",
    "ijk_to_ras_matrix",
    "label_points",
    "load_segmentation",
    "new_segmentation_node",
    "point_list_ras",
    "quantify_segment",
    "ras_to_ijk",
    "rows_table",
    "save_segmentation",
    "segment_names",
    "segment_to_array",
    "segment_volume_node",
    "table_to_rows",
    "unique_segment_name",
    "update_volume_from_image",
    "write_mask_to_segment",
]
