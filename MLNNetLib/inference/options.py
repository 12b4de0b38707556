"""Settings of whole-image inference, validated once so bad values fail before any work is done."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from MLNNetLib.errors import InputError
from MLNNetLib.inference.blending import BLEND_KINDS
from MLNNetLib.inference.predictor import TTA_CHOICES
from MLNNetLib.inference.resample import SPACING_POLICIES

MODES = ("sliding", "paper")
NORM_ADAPT_SCOPES = ("ood", "always")


@dataclass(frozen=True)
class InferenceOptions:
    tile: int | None = None  # None = the model's training tile size (config.img_size)
    overlap: float = 0.25
    mode: str = "sliding"  # "sliding" (native resolution, default) or "paper" (2x2 split resized to the tile)
    threshold: float = 0.5  # foreground where probability > threshold
    batch_size: int = 4
    device: str = "cpu"
    spacing_policy: str = "resample"  # or "refuse"
    spacing_tolerance: float = 0.10
    blend: str = "gaussian"  # "gaussian", "cosine" or "constant"
    selection_tiles: int = 16  # tissue tiles used for the once-per-image branch selection (8 left ties on the demo images)
    require_breast: bool = True  # refuse an image in which no breast is found (noise, blank export); False = warn
    # test-time BatchNorm adaptation (inference/norm_adapt.py): weight of the image's own statistics, 0 = off;
    # applied to images flagged out-of-distribution ("ood") or to every image ("always")
    norm_adapt: float = 0.25
    norm_adapt_scope: str = "ood"
    # test-time augmentation (inference/predictor.py): every tile predicted in this many of its dihedral
    # transforms (1 = as it is, 2 = + mirrored, 4 = + both mirrors, 8 = + transposed) and averaged
    tta: int = 4

    def __post_init__(self) -> None:
        problems = []
        if self.tile is not None and self.tile < 8:
            problems.append(f"tile must be >= 8 px, got {self.tile}")
        if not 0.0 <= self.overlap < 1.0:
            problems.append(f"overlap must be in [0, 1), got {self.overlap}")
        if self.mode not in MODES:
            problems.append(f"mode must be one of {MODES}, got {self.mode!r}")
        if not 0.0 <= self.threshold < 1.0:
            problems.append(f"threshold must be in [0, 1), got {self.threshold}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.spacing_policy not in SPACING_POLICIES:
            problems.append(f"spacing_policy must be one of {SPACING_POLICIES}, got {self.spacing_policy!r}")
        if self.spacing_tolerance < 0:
            problems.append(f"spacing_tolerance must be >= 0, got {self.spacing_tolerance}")
        if self.blend not in BLEND_KINDS:
            problems.append(f"blend must be one of {BLEND_KINDS}, got {self.blend!r}")
        if self.selection_tiles < 1:
            problems.append(f"selection_tiles must be >= 1, got {self.selection_tiles}")
        if not 0.0 <= self.norm_adapt <= 1.0:
            problems.append(f"norm_adapt must be in [0, 1], got {self.norm_adapt}")
        if self.norm_adapt_scope not in NORM_ADAPT_SCOPES:
            problems.append(f"norm_adapt_scope must be one of {NORM_ADAPT_SCOPES}, got {self.norm_adapt_scope!r}")
        if self.tta not in TTA_CHOICES:
            problems.append(f"tta must be one of {TTA_CHOICES}, got {self.tta!r}")
        if problems:
            raise InputError(None, "invalid inference options: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
