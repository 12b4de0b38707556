"""One synthetic case: a physical scene from the seed, rendered through one scanner style.

The scene depends only on (seed, shape, spacing, case label), so the same seed gives the same anatomy and
the same calcifications in every style: styles of one pitch share one mask; a style with another detector pitch
gets the same objects stamped on its grid; a tomosynthesis slice annotates the calcifications in focus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from MLNNetLib import __version__
from MLNNetLib.errors import InputError
from MLNNetLib.synth.anatomy import Anatomy, build_anatomy
from MLNNetLib.synth.calcifications import Calc, describe, draw_layer, make_annotatable, stamp
from MLNNetLib.synth.cluster_plan import plan_calcifications
from MLNNetLib.synth.distractors import Distractors, add_vessels_and_markers, spike_positions
from MLNNetLib.synth.domains import DomainSpec, get_domain
from MLNNetLib.synth.grid import Layers, grid_shape, make_layers

GENERATOR = "MLNNetLib.synth"
DEFAULT_SHAPE = (1024, 832)  # rows, cols: 102 x 83 mm at 0.1 mm, small enough to train on a 2-core CPU
DEFAULT_SPACING_MM = 0.1
CASE_LABELS = ("benign", "malignant")
COMPRESSED_MM = (35.0, 65.0)  # compressed breast thickness (tomosynthesis depth of every object)


@dataclass
class Scene:
    seed: int
    shape: tuple[int, int]
    spacing_mm: float
    case_label: str
    anatomy: Anatomy
    distractors: Distractors
    calcs: list[Calc]
    spikes_mm: np.ndarray  # (N, 2) physical positions of one-pixel detector spikes
    spike_amplitudes: np.ndarray  # nats, added after system blur
    thickness_mm: float  # compressed thickness
    slice_mm: float  # the tomosynthesis plane a reader would show: the depth of cluster 1
    _layers: dict[float, Layers] = field(default_factory=dict, repr=False)

    def layers(self, pitch_mm: float | None = None) -> Layers:
        """The scene on a detector grid (cached: styles of one pitch share the work)."""
        key = round(float(self.spacing_mm if pitch_mm is None else pitch_mm), 6)
        if key not in self._layers:
            self._layers[key] = make_layers(self, key)
        return self._layers[key]

    @property
    def mask(self) -> np.ndarray:
        """The annotation on the scene grid."""
        return self.layers().calcs.mask


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


def _drop_touching(calcs: list[Calc], shape: tuple[int, int], spacing_mm: float) -> list[Calc]:
    """Remove calcifications whose annotation would touch another's (8-neighbours) on the coarsest grid any
    style uses, so that every calcification is one mask component; rare, the planned gap is >= 0.3 mm."""
    pitch = max(spacing_mm, 0.1)
    grid = grid_shape(shape, spacing_mm, pitch)
    occupied = np.zeros(grid, dtype=bool)
    kept = []
    for calc in calcs:
        st = stamp(calc, pitch)
        core = np.pad(st.mask, 1)
        grown = ndimage.binary_dilation(core, structure=np.ones((3, 3), bool))
        r0, c0 = st.r0 - 1, st.c0 - 1
        rs = slice(max(r0, 0), min(r0 + core.shape[0], grid[0]))
        cs = slice(max(c0, 0), min(c0 + core.shape[1], grid[1]))
        sub = (slice(rs.start - r0, rs.stop - r0), slice(cs.start - c0, cs.stop - c0))
        if (occupied[rs, cs] & grown[sub]).any():
            continue
        occupied[rs, cs] |= core[sub]
        kept.append(calc)
    return kept


def build_scene(seed: int, shape: tuple[int, int] = DEFAULT_SHAPE, spacing_mm: float = DEFAULT_SPACING_MM,
                case_label: str | None = None) -> Scene:
    shape, spacing_mm, case_label = check_parameters(shape, spacing_mm, case_label)
    anat_ss, dist_ss, calc_ss, spike_ss, label_ss = np.random.SeedSequence(int(seed)).spawn(5)
    label_rng = np.random.default_rng(label_ss)
    if case_label is None:
        case_label = CASE_LABELS[int(label_rng.integers(0, 2))]
    thickness_mm = float(label_rng.uniform(*COMPRESSED_MM))
    anatomy = build_anatomy(np.random.default_rng(anat_ss), shape, spacing_mm)
    distractors = add_vessels_and_markers(np.random.default_rng(dist_ss), anatomy, spacing_mm)
    allowed = anatomy.breast & (anatomy.thickness > 0.9) & ~anatomy.pectoral_mask & ~distractors.keep_out
    calcs = plan_calcifications(np.random.default_rng(calc_ss), case_label, allowed, anatomy, spacing_mm, thickness_mm)
    calcs = _drop_touching(calcs, shape, spacing_mm)
    worst = anatomy.base(1.0) + anatomy.gland + anatomy.structures + anatomy.pectoral + anatomy.skin + distractors.attenuation
    make_annotatable(calcs, worst, spacing_mm)
    srng = np.random.default_rng(spike_ss)
    keep_clear = draw_layer(calcs, shape, spacing_mm).mask.astype(bool)
    spikes = spike_positions(srng, anatomy, keep_clear, spacing_mm)
    amps = srng.uniform(0.3, 1.0, len(spikes)).astype(np.float32)
    first = [c.depth_mm for c in calcs if c.cluster == 1]
    slice_mm = float(np.median(first)) if first else 0.5 * thickness_mm
    return Scene(seed=int(seed), shape=shape, spacing_mm=spacing_mm, case_label=case_label, anatomy=anatomy,
                 distractors=distractors, calcs=calcs, spikes_mm=(spikes + 0.5) * spacing_mm, spike_amplitudes=amps,
                 thickness_mm=thickness_mm, slice_mm=slice_mm)


def pitch_of(scene: Scene, spec: DomainSpec) -> float:
    return float(spec.pixel_mm) if spec.pixel_mm is not None else scene.spacing_mm


def case_info(scene: Scene, spec: DomainSpec, visible: list[int], clusters: list[int]) -> dict[str, Any]:
    a = scene.anatomy
    layer = scene.layers(pitch_of(scene, spec)).calcs
    calcs = describe(scene.calcs, layer, visible, clusters)
    pitch = pitch_of(scene, spec)
    return {
        "generator": GENERATOR, "version": __version__, "domain": spec.name, "seed": scene.seed,
        "case_label": scene.case_label, "view": a.view, "laterality": a.laterality,
        "breast_density": round(a.density, 3), "spacing_mm": pitch, "scene_spacing_mm": scene.spacing_mm,
        "shape": list(layer.mask.shape), "photometric": spec.photometric, "stored_inverted": spec.stored_inverted,
        "air_bright_when_read": spec.air_bright_when_read, "bits": spec.bits, "modality": spec.modality,
        "nipple_px": [round(a.nipple[0] * scene.spacing_mm / pitch, 1), round(a.nipple[1] * scene.spacing_mm / pitch, 1)],
        "compressed_mm": round(scene.thickness_mm, 1),
        "n_calcifications": len(calcs), "n_clusters": len({c["cluster"] for c in calcs if c["cluster"] > 0}),
        "calcifications": calcs,
        "distractors": {"vessels": scene.distractors.vessels, "skin_markers": scene.distractors.markers,
                        "spikes_px": scene.layers(pitch).spikes.tolist()},
    }


def render_case(scene: Scene, domain: str | DomainSpec) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(stored pixel values float32, annotation uint8 0/1 on the style's grid, JSON-able info)."""
    from MLNNetLib.synth.render import render

    spec = get_domain(domain)
    image, visible, clusters, mask = render(scene, spec)
    info = case_info(scene, spec, visible, clusters)
    if spec.mapping == "dbt":
        info["slice_mm"] = round(scene.slice_mm, 2)
    return image, mask, info


def generate_case(domain: str | DomainSpec, seed: int, shape: tuple[int, int] = DEFAULT_SHAPE,
                  spacing_mm: float = DEFAULT_SPACING_MM, case_label: str | None = None
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(image float32 as stored in the style's file, mask uint8 0/1, JSON-able info) for one seed."""
    spec = get_domain(domain)
    return render_case(build_scene(seed, shape, spacing_mm, case_label), spec)
