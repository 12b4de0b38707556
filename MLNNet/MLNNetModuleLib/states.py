"""Which buttons of the MLNNet panel can be pressed, and why not: plain data in, plain data out.

The widget reads its selectors into a :class:`PanelState` and applies :func:`buttons`; nothing here knows
Qt, so every rule is tested without Slicer. A button is enabled only when everything it needs is chosen and
no other run or installation is in progress; its tooltip says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class PanelState:
    """What the panel has chosen right now (booleans say "a node / a segment is selected")."""

    volume: bool = False
    volume_slices: int = 0  # 1 = a 2-D mammogram, more = DBT
    model_path: str = ""
    model_exists: bool = False
    points: bool = False
    label_segmentation: bool = False
    reference_segment: bool = False  # node and segment both chosen
    predicted_segment: bool = False
    quantify_segment: bool = False
    classifier_path: str = ""
    classifier_exists: bool = False
    features: bool = False  # a quantification result (image features table) exists
    running: Optional[str] = None  # title of the background run or "Installation" while one is in progress
    cancellable: bool = False  # the running work can be stopped (background runs can, Slicer's installers cannot)
    version_problem: Optional[str] = None


@dataclass(frozen=True)
class Button:
    enabled: bool
    tooltip: str


BUTTONS = ("apply", "cancel", "labelPoints", "evaluate", "quantify", "classify")
TOOLTIPS = {
    "apply": "Segment microcalcifications in the input volume (runs in the background)",
    "cancel": "Stop the running computation; the scene stays as it was",
    "labelPoints": "Fill a level-tracing outline around every point into the label segment",
    "evaluate": "Compare the predicted segment with the reference segment (runs in the background)",
    "quantify": "Measure calcifications and clusters of the segment (runs in the background)",
    "classify": "Score the quantified calcification pattern benign/malignant with the classifier file",
}


def normalize_path(text: str) -> str:
    """A file path as typed or chosen: surrounding blanks and quotes removed; "" and "." mean no file."""
    value = (text or "").strip().strip('"').strip("'").strip()
    return "" if value in ("", ".") else value


def _first_missing(needs: list[tuple[bool, str]]) -> Optional[str]:
    return next((why for ok, why in needs if not ok), None)


def buttons(state: PanelState) -> dict[str, Button]:
    """Enabled flag and tooltip of every action button for ``state``."""
    busy = f"{state.running} is running; wait for it or press Cancel" if state.running else None
    blocked = state.version_problem or busy
    needs = {
        "apply": [
            (state.volume, "Select an input volume"),
            (bool(state.model_path), "Choose a model file (.safetensors written by 'mlnnet train')"),
            (state.model_exists, f"Model file not found: {state.model_path}"),
        ],
        "labelPoints": [
            (state.volume, "Select an input volume"),
            (state.points, "Select (or place) the points on the calcifications"),
            (state.label_segmentation, "Select the segmentation the labels go into"),
        ],
        "evaluate": [
            (state.volume, "Select the input volume (its grid and spacing are used)"),
            (state.reference_segment, "Select the reference segment"),
            (state.predicted_segment, "Select the predicted segment"),
        ],
        "quantify": [
            (state.volume, "Select the input volume"),
            (state.volume_slices <= 1, "Quantification is defined on 2-D mammograms; this volume has several slices"),
            (state.quantify_segment, "Select the calcification segment"),
        ],
        "classify": [
            (state.features, "Quantify a segment first: its image features are scored"),
            (bool(state.classifier_path), "Choose a classifier file (model.skops written by 'mlnnet classify train')"),
            (state.classifier_exists, f"Classifier file not found: {state.classifier_path}"),
        ],
    }
    out = {}
    for name, requirements in needs.items():
        why = blocked or _first_missing(requirements)
        out[name] = Button(why is None, TOOLTIPS[name] if why is None else why)
    can_cancel = bool(state.running and state.cancellable)
    out["cancel"] = Button(can_cancel, TOOLTIPS["cancel"] if can_cancel else "Nothing to cancel")
    return out
