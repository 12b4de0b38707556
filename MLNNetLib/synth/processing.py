"""Vendor processing of the log signal: peripheral equalisation, multi-scale unsharp masking, windowing and LUTs.

What each step models:
- Peripheral (thickness) equalisation: toward the skin line the compressed breast gets thinner and the log
  signal falls; vendors add back part of that fall-off so the periphery stays readable. ``thickness_weight``
  is the share of the fall-off kept (1 = none removed).
- Unsharp masking per scale ``(sigma_mm, gain)``: ``P + gain * (P - lowpass_sigma(P))`` inside the breast (the
  low-pass is a normalised convolution, so air does not leak in). Small kernels sharpen calcifications and add
  a dark halo; large kernels compress the dynamic range (CR "frequency processing", "DRC").
- Window: from a fraction of the 2nd to the 99.5th percentile of the breast interior, with a soft toe (the
  skin line stays visible) and a logarithmic shoulder (dense calcifications keep distinct grey levels), then
  the LUT: power law (gamma), DICOM VOI LUT SIGMOID, or linear.
"""

from __future__ import annotations

import numpy as np

from MLNNetLib.synth.anatomy import MU_FAT_THICK
from MLNNetLib.synth.domains import DomainSpec
from MLNNetLib.synth.grid import Layers
from MLNNetLib.synth.noise import masked_smooth


def equalise(p: np.ndarray, layers: Layers, weight: float) -> np.ndarray:
    """Add back ``1 - weight`` of the thickness roll-off within ~1/4 of the edge profile (fatty-breast units)."""
    if weight >= 1.0:
        return p
    t = layers.thickness
    return p + (MU_FAT_THICK * (1.0 - weight) * (np.minimum(1.0, 4.0 * t) - t) * layers.breast).astype(np.float32)


def unsharp(p: np.ndarray, layers: Layers, scales: tuple[tuple[float, float], ...]) -> np.ndarray:
    for sigma_mm, gain in scales:
        low = masked_smooth(p, layers.breast, sigma_mm / layers.pitch_mm)
        p = np.where(layers.breast, p + gain * (p - low), p).astype(np.float32)
    return p


def soft_window(z: np.ndarray, toe: float = 8.0, shoulder: float = 0.15, cap: float = 8.0) -> np.ndarray:
    """Strictly increasing curve onto 0..1: soft toe at z=0, logarithmic shoulder above z=1; z >= cap clips."""
    v = np.logaddexp(0.0, toe * np.minimum(z, cap)) / toe
    over = v > 1.0
    v[over] = 1.0 + shoulder * np.log1p((v[over] - 1.0) / shoulder)
    return v / (1.0 + shoulder * np.log1p((cap - 1.0) / shoulder))


def window_bounds(p: np.ndarray, layers: Layers, lo_fraction: float = 0.45, interior_thickness: float = 0.9
                  ) -> tuple[float, float]:
    interior = layers.breast & (layers.thickness > interior_thickness)
    if not interior.any():
        return 0.0, 1.0
    vals = p[interior]
    return lo_fraction * float(np.percentile(vals, 2)), float(np.percentile(vals, 99.5))


def apply_lut(x: np.ndarray, spec: DomainSpec) -> np.ndarray:
    """x in [0, 1] (windowed) -> display value in [0, 1], dense bright."""
    if spec.lut == "gamma":
        return x ** spec.gamma
    if spec.lut == "sigmoid":
        w = float(spec.params.get("sigmoid_width", 0.6))
        f = lambda u: 1.0 / (1.0 + np.exp(-4.0 * (u - 0.5) / w))  # noqa: E731
        return (f(x) - f(0.0)) / (f(1.0) - f(0.0))
    if spec.lut == "linear":
        return x
    raise ValueError(f"style {spec.name}: unknown LUT {spec.lut!r}")


def present(p: np.ndarray, layers: Layers, spec: DomainSpec) -> np.ndarray:
    """'For presentation' processing of a log signal (nats) to display values 0..1."""
    p = equalise(p, layers, spec.thickness_weight)
    p = unsharp(p, layers, spec.unsharp)
    lo, hi = window_bounds(p, layers)
    return apply_lut(soft_window((p - lo) / max(hi - lo, 1e-6)), spec).astype(np.float32)
