"""Detection: attenuation -> relative exposure with the detector's blur and noise power spectrum.

Physics kept (and why it matters for a benchmark):
- Exposure ``S = exp(-A)`` relative to the unattenuated beam; the detector integrates exposure, so blur acts on S,
  not on its logarithm (a dense calcification's blurred contrast is what a real detector records).
- Quantum noise: Poisson, variance S / N0 with N0 quanta per pixel in air, ``N0 = (pitch / 0.1 mm)^2 /
  quantum_noise^2`` (smaller pixels catch fewer quanta). It is added *before* the PSF, so its power spectrum
  follows MTF^2: an indirect (CsI) panel has correlated noise, a direct a-Se panel (small PSF) nearly white noise.
- Structure noise: a fixed gain pattern (CR plate phosphor, intensifying screen) multiplies S.
- Scan-line jitter (CR laser read-out): one gain per row.
- Electronic noise: white, additive on S after the PSF, so it dominates where S is small (dense tissue).
"""

from __future__ import annotations

import numpy as np

from MLNNetLib.synth.domains import DomainSpec
from MLNNetLib.synth.noise import correlated_noise, smooth

MIN_EXPOSURE = 1e-4


def blur_px(spec: DomainSpec, pitch_mm: float) -> tuple[float, float]:
    return (spec.mtf_mm[0] / pitch_mm, spec.mtf_mm[1] / pitch_mm)


def detect(attenuation: np.ndarray, spec: DomainSpec, rng: np.random.Generator, pitch_mm: float) -> np.ndarray:
    """Relative exposure recorded per pixel (float32, air ~ 1)."""
    s = np.exp(-attenuation.astype(np.float32))
    n0 = (pitch_mm / 0.1) ** 2 / max(spec.quantum_noise, 1e-6) ** 2
    s = s + np.sqrt(s / np.float32(n0)) * rng.standard_normal(s.shape, dtype=np.float32)
    std, corr_mm = spec.structure_noise
    if std > 0:
        s = s * (1.0 + std * correlated_noise(rng, s.shape, corr_mm / pitch_mm))
    s = smooth(s, blur_px(spec, pitch_mm))
    jitter = float(spec.params.get("line_jitter", 0.0))
    if jitter > 0:
        s = s * (1.0 + jitter * rng.standard_normal((s.shape[0], 1), dtype=np.float32))
    if spec.electronic_noise > 0:
        s = s + np.float32(spec.electronic_noise) * rng.standard_normal(s.shape, dtype=np.float32)
    return np.maximum(s, MIN_EXPOSURE).astype(np.float32)
