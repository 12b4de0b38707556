"""Turning every kind of reference label into calcification masks, with the same code in the CLI, training and
Slicer: level tracing around points (``level_tracing``, ``points``), classical detection inside loose regions
(``regions``), and the explicit policy that chooses between them (``policy``)."""

from MLNNetLib.labels.level_tracing import PointLabel, relative_level_region, trace_level, trace_outline
from MLNNetLib.labels.points import points_to_mask, read_points, write_points
from MLNNetLib.labels.policy import POINTS_POLICIES, REGION_POLICIES, LabelPolicy, calcification_target
from MLNNetLib.labels.regions import DetectorSettings, detect_in_regions

__all__ = ["PointLabel", "relative_level_region", "trace_level", "trace_outline", "points_to_mask", "read_points",
           "write_points", "POINTS_POLICIES", "REGION_POLICIES", "LabelPolicy", "calcification_target",
           "DetectorSettings", "detect_in_regions"]
