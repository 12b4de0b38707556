"""Turn a physical scene into the pixel values one domain's scanner and processing would store."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from MLNNetLib.synth.domains import DomainSpec
from MLNNetLib.synth.noise import masked_smooth, smooth

if TYPE_CHECKING:
    from MLNNetLib.synth.generate import Scene


def domain_rng(seed: int, spec: DomainSpec) -> np.random.Generator:
    """Noise differs between domains but is reproducible: the stream depends on (seed, domain name)."""
    return np.random.default_rng([int(seed), zlib.crc32(spec.name.encode())])


def attenuation(scene: "Scene", spec: DomainSpec) -> np.ndarray:
    """Line integral (nats) this domain sees: tomosynthesis keeps less of the overlapping tissue."""
    a = scene.anatomy
    tissue = spec.tissue_weight
    return (a.base(spec.thickness_weight) + tissue * (a.gland + a.structures) + max(tissue, 0.6) * a.pectoral
            + a.skin + scene.distractors.attenuation + scene.calcs.attenuation).astype(np.float32)


def _soft_window(z: np.ndarray, toe: float = 8.0, shoulder: float = 0.15, cap: float = 8.0) -> np.ndarray:
    """Strictly increasing curve onto 0..1: soft toe at z=0 (the skin edge stays visible), logarithmic
    shoulder above z=1 so dense calcifications keep distinct gray levels instead of saturating; z >= cap clips."""
    v = np.logaddexp(0.0, toe * np.minimum(z, cap)) / toe
    over = v > 1.0
    v[over] = 1.0 + shoulder * np.log1p((v[over] - 1.0) / shoulder)
    return v / (1.0 + shoulder * np.log1p((cap - 1.0) / shoulder))


def _map_processed(p: np.ndarray, scene: "Scene", spec: DomainSpec) -> np.ndarray:
    a = scene.anatomy
    if spec.unsharp_amount:
        low = masked_smooth(p, a.breast, spec.unsharp_sigma_mm / scene.spacing_mm)
        p = np.where(a.breast, p + spec.unsharp_amount * (p - low), p)
    interior = a.breast & (a.thickness > 0.9)
    lo = 0.45 * float(np.percentile(p[interior], 2)) if interior.any() else 0.0
    hi = float(np.percentile(p[interior], 99.5)) if interior.any() else 1.0
    v = _soft_window((p - lo) / max(hi - lo, 1e-6))
    return v ** spec.gamma


def _map_recon(p: np.ndarray, scene: "Scene", spec: DomainSpec) -> np.ndarray:
    a = scene.anatomy
    low = masked_smooth(p, a.breast, spec.params["highpass_mm"] / scene.spacing_mm)
    q = p - spec.params["highpass"] * low
    interior = a.breast & (a.thickness > 0.5)
    lo = float(np.percentile(q[interior], 0.5)) if interior.any() else 0.0
    hi = float(np.percentile(q[interior], 99.8)) if interior.any() else 1.0
    v = _soft_window((q - lo) / max(hi - lo, 1e-6), toe=12.0)
    return np.where(a.breast, v, 0.0)


def _map_film(p: np.ndarray, scene: "Scene", spec: DomainSpec, rng: np.random.Generator) -> np.ndarray:
    """H&D curve: optical density is a sigmoid of log exposure; the digitiser reads density, dense = bright."""
    k = spec.params
    od = k["d_min"] + (k["d_max"] - k["d_min"]) / (1.0 + np.exp(-k["slope"] * (k["center"] - p)))
    grain = smooth(rng.standard_normal(p.shape).astype(np.float32), k["grain_px"])
    grain /= max(float(grain.std()), 1e-6)
    od = od + k["grain"] * (0.4 + 0.6 * od / k["d_max"]) * grain
    top = k["d_max"] + 0.15
    return np.clip((top - od) / top, 0.0, 1.0)


def render(scene: "Scene", spec: DomainSpec) -> np.ndarray:
    """Pixel values (float32 holding integers 0..2**bits-1) of ``scene`` acquired in domain ``spec``."""
    rng = domain_rng(scene.seed, spec)
    a = attenuation(scene, spec)
    noisy = a + spec.quantum_noise * np.exp(0.5 * a) * rng.standard_normal(a.shape).astype(np.float32)
    p = smooth(noisy, spec.blur_px)
    if len(scene.spikes):
        p[scene.spikes[:, 0], scene.spikes[:, 1]] += scene.spike_amplitudes
    if spec.mapping == "processed":
        v = _map_processed(p, scene, spec)
    elif spec.mapping == "recon":
        v = _map_recon(p, scene, spec)
    elif spec.mapping == "film":
        v = _map_film(p, scene, spec, rng)
    else:
        raise ValueError(f"domain {spec.name}: unknown mapping {spec.mapping!r}")
    breast = scene.anatomy.breast
    if spec.inverted:
        v = np.where(breast, 1.0 - v, 0.0)
    bg = spec.background_level
    out = (bg + (1.0 - bg) * v) * spec.max_value
    if spec.inverted:
        out = np.where(breast, out, bg * spec.max_value)
    out = out + spec.electronic_noise * rng.standard_normal(out.shape)
    return np.clip(np.rint(out), 0, spec.max_value).astype(np.float32)
