"""Scanner-like domains as data: how one physical scene becomes pixel values on a given kind of system.

A domain changes only acquisition and processing (tissue overlap, noise, blur, gray mapping, bit depth,
photometric sense), never the objects in the breast, so the calcification ground truth is shared.
Adding a domain is one more ``DomainSpec`` entry in ``DOMAINS``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from MLNNetLib.errors import InputError

# Scenes guarantee calcification contrast through this much system blur (px); domains must not blur more.
MAX_BLUR_PX = 1.0


@dataclass(frozen=True)
class DomainSpec:
    name: str
    description: str
    mapping: str  # "processed" (log + enhancement LUT), "recon" (DBT slice), "film" (H&D curve + digitiser)
    bits: int  # stored bit depth; pixels are written as uint16
    photometric: str = "MONOCHROME2"  # MONOCHROME1: dense tissue is dark (inverted inside the breast)
    modality: str = "MG"
    thickness_weight: float = 1.0  # share of the compressed-thickness fall-off kept (<1: peripheral equalisation)
    tissue_weight: float = 1.0  # share of overlapping fibroglandular tissue (<1: tomosynthesis slice)
    quantum_noise: float = 0.01  # std of log-signal noise at zero attenuation; grows with exp(A/2)
    electronic_noise: float = 0.0  # std in output gray levels
    blur_px: tuple[float, float] = (0.5, 0.5)  # system MTF as Gaussian sigma per axis (row, col)
    unsharp_amount: float = 0.0
    unsharp_sigma_mm: float = 2.0
    gamma: float = 1.0  # LUT exponent on the windowed signal
    background_level: float = 0.0  # gray level of air as a fraction of full scale
    params: dict[str, float] = field(default_factory=dict)  # mapping-specific numbers

    @property
    def max_value(self) -> int:
        return (1 << self.bits) - 1

    @property
    def inverted(self) -> bool:
        return self.photometric == "MONOCHROME1"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["blur_px"] = list(self.blur_px)
        return d


DOMAINS: dict[str, DomainSpec] = {
    "ffdm": DomainSpec(
        name="ffdm", mapping="processed", bits=12,
        description="FFDM 'for presentation': log signal, peripheral equalisation, unsharp-mask enhancement, "
                    "gamma LUT, 12-bit, dense is bright.",
        thickness_weight=0.55, quantum_noise=0.010, electronic_noise=1.5, blur_px=(0.5, 0.5),
        unsharp_amount=1.0, unsharp_sigma_mm=1.5, gamma=1.5, background_level=0.0,
    ),
    "dbt": DomainSpec(
        name="dbt", mapping="recon", bits=10, modality="DBT",
        description="DBT reconstructed slice: little overlapping tissue, flat background (low frequencies "
                    "filtered), more noise, blur along the tube-sweep axis, linear 10-bit mapping.",
        thickness_weight=0.25, tissue_weight=0.35, quantum_noise=0.022, electronic_noise=3.0,
        blur_px=(1.0, 0.35), gamma=1.0, background_level=0.08, params={"highpass_mm": 8.0, "highpass": 0.5},
    ),
    "film": DomainSpec(
        name="film", mapping="film", bits=16, modality="MG",
        description="Digitised screen-film (CBIS-DDSM-like): H&D sigmoid of log exposure, film grain, "
                    "softer digitiser blur, 16-bit, no processing.",
        thickness_weight=1.0, quantum_noise=0.006, electronic_noise=80.0, blur_px=(0.8, 0.8),
        background_level=0.02,
        params={"d_min": 0.18, "d_max": 3.6, "slope": 2.2, "center": 1.75, "grain": 0.025, "grain_px": 0.6},
    ),
    "mono1": DomainSpec(
        name="mono1", mapping="processed", bits=14, photometric="MONOCHROME1",
        description="MONOCHROME1-style vendor: log signal, mild enhancement, 14-bit, inverted inside the "
                    "breast (dense is dark) with the air kept dark.",
        thickness_weight=0.75, quantum_noise=0.012, electronic_noise=4.0, blur_px=(0.6, 0.6),
        unsharp_amount=0.5, unsharp_sigma_mm=3.0, gamma=0.8, background_level=0.01,
    ),
}


def get_domain(name: str | DomainSpec) -> DomainSpec:
    if isinstance(name, DomainSpec):
        return name
    try:
        return DOMAINS[name]
    except KeyError:
        raise InputError(None, f"unknown synthetic domain {name!r}; choose one of {', '.join(DOMAINS)}") from None
