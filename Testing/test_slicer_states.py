"""Enabled buttons of the MLNNet panel (MLNNet/MLNNetModuleLib/states.py): plain rules, tested without Qt."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "MLNNet"))

from MLNNetModuleLib.states import BUTTONS, PanelState, buttons, normalize_path  # noqa: E402

READY = PanelState(volume=True, volume_slices=1, model_path="/m.safetensors", model_exists=True, points=True,
                   label_segmentation=True, reference_segment=True, predicted_segment=True, quantify_segment=True,
                   classifier_path="/c.skops", classifier_exists=True, features=True)


def _enabled(state: PanelState) -> dict[str, bool]:
    return {name: b.enabled for name, b in buttons(state).items()}


def test_every_button_has_a_state():
    assert set(buttons(PanelState())) == set(BUTTONS)


def test_nothing_selected_nothing_enabled_and_the_tooltip_says_why():
    """Item 10: Evaluate and Quantify were clickable with nothing selected."""
    state = buttons(PanelState())
    assert not any(b.enabled for b in state.values())
    assert state["evaluate"].tooltip.startswith("Select the input volume")
    assert state["quantify"].tooltip == "Select the input volume"
    state = buttons(PanelState(volume=True, volume_slices=1))
    assert state["evaluate"].tooltip == "Select the reference segment"
    assert state["quantify"].tooltip == "Select the calcification segment"
    state = buttons(PanelState(volume=True, volume_slices=1, reference_segment=True))
    assert not state["evaluate"].enabled and state["evaluate"].tooltip == "Select the predicted segment"


def test_all_chosen_everything_enabled_but_cancel():
    assert _enabled(READY) == {"apply": True, "cancel": False, "labelPoints": True, "evaluate": True, "quantify": True, "classify": True}


def test_quantification_is_2d_only_and_scoring_needs_features_and_a_classifier():
    dbt = buttons(PanelState(**{**READY.__dict__, "volume_slices": 40}))
    assert not dbt["quantify"].enabled and "2-D" in dbt["quantify"].tooltip
    assert dbt["evaluate"].enabled  # DBT is evaluated in 3-D
    assert not buttons(PanelState(**{**READY.__dict__, "features": False}))["classify"].enabled
    missing = buttons(PanelState(**{**READY.__dict__, "classifier_exists": False}))["classify"]
    assert not missing.enabled and "/c.skops" in missing.tooltip


def test_model_path_empty_or_missing():
    """Item 7: an empty field stays empty (never "."), and Segment says what is missing."""
    assert normalize_path("") == normalize_path(".") == normalize_path("   ") == ""
    assert normalize_path(' "/data/model.safetensors" ') == "/data/model.safetensors"
    empty = buttons(PanelState(**{**READY.__dict__, "model_path": normalize_path("."), "model_exists": False}))["apply"]
    assert not empty.enabled and empty.tooltip.startswith("Choose a model file")
    gone = buttons(PanelState(**{**READY.__dict__, "model_exists": False}))["apply"]
    assert not gone.enabled and gone.tooltip == "Model file not found: /m.safetensors"


def test_while_anything_runs_no_second_run_can_start():
    """Item 6: during an installation nothing can be pressed (Slicer's installers cannot be cancelled);
    during a background run only Cancel."""
    installing = _enabled(PanelState(**{**READY.__dict__, "running": "Installation", "cancellable": False}))
    assert not any(installing.values())
    running = buttons(PanelState(**{**READY.__dict__, "running": "Segmentation", "cancellable": True}))
    assert {n for n, b in running.items() if b.enabled} == {"cancel"}
    assert running["apply"].tooltip.startswith("Segmentation is running")


def test_an_unsupported_slicer_disables_everything():
    state = buttons(PanelState(**{**READY.__dict__, "version_problem": "MLNNet needs 3D Slicer 5.10 or later"}))
    assert not any(b.enabled for b in state.values())
    assert state["apply"].tooltip == "MLNNet needs 3D Slicer 5.10 or later"
