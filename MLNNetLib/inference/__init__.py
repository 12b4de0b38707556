"""Whole-image inference (DESIGN §5): sliding window at native resolution or the paper's 2x2 recipe."""

from MLNNetLib.inference.blending import BlendAccumulator, blend_window
from MLNNetLib.inference.options import InferenceOptions
from MLNNetLib.inference.paper_mode import paper_predict, quarter_boxes
from MLNNetLib.inference.predictor import make_predictor
from MLNNetLib.inference.resample import SpacingDecision, decide_spacing, resize_plane, resize_stack
from MLNNetLib.inference.result import SegmentationResult
from MLNNetLib.inference.segment import SELECTION_METHODS, segment_image
from MLNNetLib.inference.sliding_window import WindowResult, sliding_window
from MLNNetLib.inference.tiling import TilePlan, pad_to, plan_tiles, tile_starts

__all__ = [
    "BlendAccumulator", "blend_window", "InferenceOptions", "paper_predict", "quarter_boxes", "make_predictor",
    "SpacingDecision", "decide_spacing", "resize_plane", "resize_stack", "SegmentationResult", "SELECTION_METHODS",
    "segment_image", "WindowResult", "sliding_window", "TilePlan", "pad_to", "plan_tiles", "tile_starts",
]
