"""What one segmentation returns, and its JSON summary (what the CLI prints and writes beside the mask)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SegmentationResult:
    mask: np.ndarray  # uint8 0/1, the input image's shape
    probability: np.ndarray  # float32 [0, 1], the input image's shape
    branch: int | None  # chosen LayerNorm branch; None = union of all branches
    scores: list[float | None]  # selection score per branch (None = domain never recorded; empty = no selection)
    ood: bool  # the image looks unlike every training domain
    tiles: int  # tiles (or paper-mode quarters) predicted
    skipped_tiles: int  # tiles without a breast pixel, not predicted
    seconds: float
    decisions: list[str] = field(default_factory=list)
    selection: str = "cosine"  # method used ("cosine", "euclidean", "plus", "union", "fixed", "single";
    # "polarity" on a single-branch model: the polarity reading decided whether the image was inverted back)
    options: dict[str, Any] = field(default_factory=dict)
    polarity: float | None = None  # whole-image tissue polarity score (selection/polarity.py); None = not measurable
    ood_score: float | None = None  # distance of the image's statistics from training's (selection.Selection)
    inverted: bool = False  # the breast was inverted back before a single-branch model (read as inverted)
    norm_adapt: float = 0.0  # weight of the image's own BatchNorm statistics (0: the stored ones; inference/norm_adapt.py)

    def summary(self) -> dict[str, Any]:
        """JSON-able facts about the run (no arrays)."""
        return {
            "branch": self.branch,
            "scores": [None if s is None or not math.isfinite(s) else float(s) for s in self.scores],
            "ood": bool(self.ood),
            "ood_score": None if self.ood_score is None else round(float(self.ood_score), 5),
            "selection": self.selection,
            "polarity": None if self.polarity is None else round(float(self.polarity), 4),
            "inverted": bool(self.inverted),
            "norm_adapt": round(float(self.norm_adapt), 4),
            "tta": int(self.options.get("tta", 1)),
            "tiles": int(self.tiles),
            "skipped_tiles": int(self.skipped_tiles),
            "seconds": round(float(self.seconds), 3),
            "shape": [int(s) for s in self.mask.shape],
            "foreground_pixels": int(np.count_nonzero(self.mask)),
            "max_probability": float(self.probability.max()) if self.probability.size else 0.0,
            "decisions": list(self.decisions),
            "options": dict(self.options),
        }
