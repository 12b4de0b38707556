"""Screen-film mammography and its digitiser (the CBIS-DDSM route from exposure to pixel values).

- The intensifying screen blurs the exposure and its quantum mottle (``mtf_mm``, in ``detector.detect``).
- The film's characteristic (H&D) curve: optical density is a logistic function of log exposure between base
  + fog ``d_min`` and ``d_max``, steepest (``slope`` per nat) at ``center`` nats of attenuation.
- Film grain: density noise growing with density (Selwyn: granularity ~ sqrt(D)), correlated over ``grain_mm``.
- The digitiser reads density through an aperture (``digitiser_mm``) with its own noise (``digitiser_noise`` in
  density units, larger at high density where little light gets through) and stores a value linear in
  density, dense tissue (low density) bright.
"""

from __future__ import annotations

import numpy as np

from MLNNetLib.synth.domains import DomainSpec
from MLNNetLib.synth.noise import correlated_noise, smooth


def develop_and_scan(p: np.ndarray, spec: DomainSpec, rng: np.random.Generator, pitch_mm: float) -> np.ndarray:
    """Log signal (nats of attenuation) -> display value 0..1 of the digitised film."""
    k = spec.params
    d_min, d_max = k["d_min"], k["d_max"]
    od = d_min + (d_max - d_min) / (1.0 + np.exp(-k["slope"] * (k["center"] - p)))
    grain = correlated_noise(rng, p.shape, k["grain_mm"] / pitch_mm)
    od = od + k["grain"] * np.sqrt(od / d_max) * grain
    od = smooth(od.astype(np.float32), k["digitiser_mm"] / pitch_mm)
    od = od + k["digitiser_noise"] * (1.0 + od) * rng.standard_normal(od.shape, dtype=np.float32)
    top = d_max + 0.15
    return np.clip((top - od) / top, 0.0, 1.0).astype(np.float32)
