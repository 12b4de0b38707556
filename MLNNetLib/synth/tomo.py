"""Tomosynthesis: a reconstructed slice and a synthesised 2-D image, from the same physical scene.

The tube sweeps along the image rows (parallel to the chest wall) over ``arc_deg`` in ``projections`` steps.
An object at height z above the reconstructed plane z0 is shifted in projection i by (z - z0) tan(theta_i);
shift-and-add reconstruction puts it back in place only when z = z0. Therefore, in a slice:
- fibroglandular tissue inside the slice (``tissue_weight``) is sharp; tissue above and below is smeared along
  the sweep over +-(T/2) tan(arc/2) (T = compressed thickness);
- a calcification at depth z appears as ``projections`` copies of 1/projections contrast spread over
  2 |z - z0| tan(arc/2): a slightly elongated calcification when close to the plane, a row of faint ghosts
  when far from it. It is annotated in this slice only when that spread is at most its diameter (its peak
  keeps about half its in-focus contrast: what a reader would mark in this slice);
- filtered back-projection removes low frequencies (``highpass``) and rings along the sweep
  (``sweep_highpass``): dark undershoots on either side of bright objects in the sweep direction.
A synthesised 2-D image is built from the stack: the full projection of tissue at the reconstruction's
anisotropic resolution, every calcification taken from its in-focus slice and enhanced (``calc_gain``),
the largest-scale contrast reduced (``lowpass``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from MLNNetLib.synth.anatomy import MU_FAT_THICK
from MLNNetLib.synth.domains import DomainSpec
from MLNNetLib.synth.grid import Layers
from MLNNetLib.synth.noise import masked_smooth

if TYPE_CHECKING:
    from MLNNetLib.synth.generate import Scene


def _angles(spec: DomainSpec) -> np.ndarray:
    half = np.radians(float(spec.params.get("arc_deg", 15.0)) / 2.0)
    return np.linspace(-half, half, int(spec.params.get("projections", 15)))


def in_focus(scene: "Scene", spec: DomainSpec) -> list[int]:
    """Indices of the calcifications annotated in the slice (spread along the sweep <= own diameter)."""
    tan_half = np.tan(np.radians(float(spec.params.get("arc_deg", 15.0)) / 2.0))
    return [i for i, c in enumerate(scene.calcs) if 2.0 * abs(c.depth_mm - scene.slice_mm) * tan_half <= c.diameter_mm]


def _ghosted_calcs(scene: "Scene", layers: Layers, spec: DomainSpec) -> np.ndarray:
    """Shift-and-add image of every calcification seen from the slice plane (sub-pixel shifts split linearly)."""
    out = np.zeros(layers.shape, dtype=np.float32)
    angles = _angles(spec)
    h, w = layers.shape
    for calc, st in zip(scene.calcs, layers.calcs.stamps):
        delta = (calc.mu * st.path / len(angles)).astype(np.float32)
        for shift in (calc.depth_mm - scene.slice_mm) * np.tan(angles) / layers.pitch_mm:
            k = int(np.floor(shift))
            f = float(shift - k)
            for dr, wgt in ((k, 1.0 - f), (k + 1, f)):
                if wgt <= 0:
                    continue
                r0, c0 = st.r0 + dr, st.c0
                rs = slice(max(r0, 0), min(r0 + delta.shape[0], h))
                cs = slice(max(c0, 0), min(c0 + delta.shape[1], w))
                if rs.stop <= rs.start or cs.stop <= cs.start:
                    continue
                out[rs, cs] += wgt * delta[rs.start - r0:rs.stop - r0, cs.start - c0:cs.stop - c0]
    return out


def slice_attenuation(scene: "Scene", layers: Layers, spec: DomainSpec) -> np.ndarray:
    """Attenuation-like signal of the reconstructed slice (before detector noise)."""
    w = spec.tissue_weight
    tan_half = np.tan(np.radians(float(spec.params.get("arc_deg", 15.0)) / 2.0))
    smear_px = max(1, int(round(scene.thickness_mm * tan_half / layers.pitch_mm)))  # +-(T/2) tan(arc/2), full width
    smeared = ndimage.uniform_filter1d(layers.tissue, size=smear_px, axis=0, mode="nearest")
    fat = layers.fat * spec.thickness_weight + (1.0 - spec.thickness_weight) * MU_FAT_THICK * np.minimum(1.0, 4.0 * layers.thickness)
    return (fat + w * layers.tissue + (1.0 - w) * smeared + max(w, 0.6) * layers.pectoral + layers.other
            + _ghosted_calcs(scene, layers, spec)).astype(np.float32)


def reconstruct(p: np.ndarray, layers: Layers, spec: DomainSpec) -> np.ndarray:
    """Filtered-back-projection look of a slice: large-scale high-pass, ringing along the sweep."""
    k = spec.params
    q = p - float(k.get("highpass", 0.5)) * masked_smooth(p, layers.breast, float(k.get("highpass_mm", 8.0)) / layers.pitch_mm)
    sig = float(k.get("sweep_highpass_mm", 1.2)) / layers.pitch_mm
    low = ndimage.gaussian_filter1d(q, sig, axis=0, mode="nearest")
    return np.where(layers.breast, q + float(k.get("sweep_highpass", 0.35)) * (q - low), q).astype(np.float32)


def synthesised_attenuation(layers: Layers, spec: DomainSpec) -> np.ndarray:
    """Full projection with every calcification from its in-focus slice, enhanced."""
    return layers.projection(calc_gain=float(spec.params.get("calc_gain", 1.4)))


def synthesise(p: np.ndarray, layers: Layers, spec: DomainSpec) -> np.ndarray:
    """Reduce the largest-scale contrast, as weighting the slices of a stack does."""
    k = spec.params
    low = masked_smooth(p, layers.breast, float(k.get("lowpass_mm", 12.0)) / layers.pitch_mm)
    return np.where(layers.breast, p - float(k.get("lowpass", 0.3)) * low, p).astype(np.float32)
