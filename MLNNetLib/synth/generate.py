"""One synthetic case: a physical scene from the seed, rendered through one domain.

The scene depends only on (seed, shape, spacing, case label), so the same seed gives the same anatomy and
the same calcifications (hence the same mask) in every domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from MLNNetLib import __version__
from MLNNetLib.errors import InputError
from MLNNetLib.synth.anatomy import Anatomy, build_anatomy
from MLNNetLib.synth.calcifications import CalcLayer, ensure_contrast, place_calcifications
from MLNNetLib.synth.distractors import Distractors, add_vessels_and_markers, spike_positions
from MLNNetLib.synth.domains import DomainSpec, get_domain
from MLNNetLib.synth.render import render

GENERATOR = "MLNNetLib.synth"
DEFAULT_SHAPE = (1024, 832)  # rows, cols: 102 x 83 mm at 0.1 mm, small enough to train on a 2-core CPU
DEFAULT_SPACING_MM = 0.1
CASE_LABELS = ("benign", "malignant")


@dataclass
class Scene:
    seed: int
    shape: tuple[int, int]
    spacing_mm: float
    case_label: str
    anatomy: Anatomy
    distractors: Distractors
    calcs: CalcLayer
    spikes: np.ndarray  # (N, 2) pixel positions
    spike_amplitudes: np.ndarray  # nats, added after system blur


def check_parameters(shape: tuple[int, int], spacing_mm: float, case_label: str | None) -> tuple[tuple[int, int], float, str | None]:
    try:
        shape = (int(shape[0]), int(shape[1]))
    except (TypeError, ValueError, IndexError):
        raise InputError(None, f"shape must be two integers (rows, cols), got {shape!r}") from None
    spacing_mm = float(spacing_mm)
    if not (0.02 <= spacing_mm <= 0.5):
        raise InputError(None, f"spacing {spacing_mm} mm is outside 0.02..0.5 mm (mammograms are 0.05-0.1 mm)")
    if min(shape) < 64 or min(shape) * spacing_mm < 25.0:
        raise InputError(None, f"shape {shape} at {spacing_mm} mm is too small: need >= 64 px and >= 25 mm per side "
                               "so that 1 cm clusters fit in the breast")
    if case_label in (None, "mixed", "random"):
        case_label = None
    elif case_label not in CASE_LABELS:
        raise InputError(None, f"case label {case_label!r} must be benign, malignant or mixed")
    return shape, spacing_mm, case_label


def build_scene(seed: int, shape: tuple[int, int] = DEFAULT_SHAPE, spacing_mm: float = DEFAULT_SPACING_MM,
                case_label: str | None = None) -> Scene:
    shape, spacing_mm, case_label = check_parameters(shape, spacing_mm, case_label)
    anat_ss, dist_ss, calc_ss, spike_ss, label_ss = np.random.SeedSequence(int(seed)).spawn(5)
    if case_label is None:
        case_label = CASE_LABELS[int(np.random.default_rng(label_ss).integers(0, 2))]
    anatomy = build_anatomy(np.random.default_rng(anat_ss), shape, spacing_mm)
    distractors = add_vessels_and_markers(np.random.default_rng(dist_ss), anatomy, spacing_mm)
    calcs = place_calcifications(np.random.default_rng(calc_ss), anatomy, distractors.keep_out, spacing_mm, case_label)
    worst = anatomy.base(1.0) + anatomy.gland + anatomy.structures + anatomy.pectoral + anatomy.skin + distractors.attenuation
    ensure_contrast(calcs, worst)
    srng = np.random.default_rng(spike_ss)
    spikes = spike_positions(srng, anatomy, calcs.mask.astype(bool), spacing_mm)
    amps = srng.uniform(0.3, 1.0, len(spikes)).astype(np.float32)
    return Scene(seed=int(seed), shape=shape, spacing_mm=spacing_mm, case_label=case_label, anatomy=anatomy,
                 distractors=distractors, calcs=calcs, spikes=spikes, spike_amplitudes=amps)


def case_info(scene: Scene, spec: DomainSpec) -> dict[str, Any]:
    a = scene.anatomy
    return {
        "generator": GENERATOR, "version": __version__, "domain": spec.name, "seed": scene.seed,
        "case_label": scene.case_label, "view": a.view, "laterality": a.laterality,
        "breast_density": round(a.density, 3), "spacing_mm": scene.spacing_mm, "shape": list(scene.shape),
        "photometric": spec.photometric, "bits": spec.bits, "modality": spec.modality,
        "nipple_px": [round(a.nipple[0], 1), round(a.nipple[1], 1)],
        "n_calcifications": len(scene.calcs.calcifications), "n_clusters": scene.calcs.n_clusters,
        "calcifications": scene.calcs.calcifications,
        "distractors": {"vessels": scene.distractors.vessels, "skin_markers": scene.distractors.markers,
                        "spikes_px": scene.spikes.tolist()},
    }


def render_case(scene: Scene, domain: str | DomainSpec) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    spec = get_domain(domain)
    return render(scene, spec), scene.calcs.mask.copy(), case_info(scene, spec)


def generate_case(domain: str | DomainSpec, seed: int, shape: tuple[int, int] = DEFAULT_SHAPE,
                  spacing_mm: float = DEFAULT_SPACING_MM, case_label: str | None = None
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(image float32 in the domain's gray levels, mask uint8 0/1, JSON-able info) for one seed."""
    spec = get_domain(domain)
    return render_case(build_scene(seed, shape, spacing_mm, case_label), spec)
