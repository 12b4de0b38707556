"""Scanner styles as data: how one physical scene becomes the pixel values a kind of system stores.

A style changes only acquisition and processing (detector pitch and blur, noise, tissue overlap in a
tomosynthesis slice, vendor processing, bit depth, photometric storage), never the objects in the breast, so the
calcification ground truth is shared (styles with another pitch get the same objects stamped on their grid;
a DBT slice keeps only the calcifications in focus). Adding a style is one more ``DomainSpec`` in ``DOMAINS``.
Each field names the physical property it models; the values are literature-typical (docs/decisions.md,
"Synthetic scanner styles").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from MLNNetLib.errors import InputError

SOURCE_DOMAIN = "ffdm"  # the training domain of the demo and the benchmarks
MAPPINGS = ("processed", "raw", "film", "dbt", "s2d")


@dataclass(frozen=True)
class DomainSpec:
    name: str
    description: str
    mapping: str  # one of MAPPINGS: what turns detected signal into stored values
    bits: int  # stored bit depth (pixels are uint16)
    # --- storage ---
    photometric: str = "MONOCHROME2"  # the tag written into the file
    stored_inverted: bool = False  # pixel data has air bright (a MONOCHROME1 file, or a wrong MONOCHROME2 tag)
    file_format: str = "nrrd"  # "nrrd" or "dicom" (a photometric tag needs DICOM to mean anything)
    modality: str = "MG"
    # --- detector ---
    pixel_mm: float | None = None  # detector / digitiser pitch; None = the scene's grid
    mtf_mm: tuple[float, float] = (0.05, 0.05)  # Gaussian PSF sigma (row, col) of signal and quantum noise
    quantum_noise: float = 0.01  # std of the log signal in air for a 0.1 mm pixel (1/sqrt(quanta)); scales 1/pitch
    electronic_noise: float = 0.0  # additive white noise, fraction of the air signal (dominates in dense tissue)
    structure_noise: tuple[float, float] = (0.0, 0.0)  # fixed-pattern gain (std, correlation mm): CR plate, screen
    output_noise: float = 0.0  # white noise in stored gray levels (ADC, digitiser)
    # --- processing ---
    thickness_weight: float = 1.0  # share of the thickness roll-off kept (< 1: peripheral equalisation)
    tissue_weight: float = 1.0  # share of overlapping fibroglandular tissue seen (< 1: tomosynthesis slice)
    unsharp: tuple[tuple[float, float], ...] = ()  # (sigma mm, gain) per enhancement scale
    lut: str = "gamma"  # "gamma" (power law), "sigmoid" (DICOM VOI LUT SIGMOID) or "linear"
    gamma: float = 1.0
    background_level: float = 0.0  # gray level of air as a fraction of full scale (display convention)
    noise_stream: str | None = None  # draw noise as this other style does (the same acquisition, stored differently)
    params: dict[str, float] = field(default_factory=dict)  # mapping-specific numbers

    def __post_init__(self) -> None:
        if self.mapping not in MAPPINGS:
            raise InputError(None, f"style {self.name}: mapping {self.mapping!r} is not one of {', '.join(MAPPINGS)}")
        if self.photometric not in ("MONOCHROME1", "MONOCHROME2"):
            raise InputError(None, f"style {self.name}: photometric must be MONOCHROME1 or MONOCHROME2")
        if self.photometric == "MONOCHROME1" and not self.stored_inverted:
            raise InputError(None, f"style {self.name}: a MONOCHROME1 file stores air bright (stored_inverted=True)")
        if self.pixel_mm is not None and not 0.02 <= self.pixel_mm <= 0.5:
            raise InputError(None, f"style {self.name}: pixel pitch {self.pixel_mm} mm outside 0.02..0.5 mm")

    @property
    def max_value(self) -> int:
        return (1 << self.bits) - 1

    @property
    def inverted(self) -> bool:
        """Stored values have dense tissue dark (what a viewer shows before any photometric conversion)."""
        return self.stored_inverted

    @property
    def air_bright_when_read(self) -> bool:
        """After a DICOM reader's MONOCHROME1 conversion: only a wrongly tagged file still shows air bright."""
        return self.stored_inverted and self.photometric == "MONOCHROME2"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mtf_mm"] = list(self.mtf_mm)
        d["unsharp"] = [list(u) for u in self.unsharp]
        d["structure_noise"] = list(self.structure_noise)
        return d


DOMAINS: dict[str, DomainSpec] = {
    "ffdm": DomainSpec(
        name="ffdm", mapping="processed", bits=12,
        description="Indirect CsI/a-Si flat panel at 0.1 mm (MTF50 ~3.7 cy/mm), 'for presentation': log signal, "
                    "partial peripheral equalisation, unsharp mask (1.5 mm, gain 1), gamma-1.5 LUT, 12-bit. The source "
                    "(training) style.",
        mtf_mm=(0.05, 0.05), quantum_noise=0.010, electronic_noise=3e-4, output_noise=1.5,
        thickness_weight=0.55, unsharp=((1.5, 1.0),), lut="gamma", gamma=1.5,
    ),
    "ase": DomainSpec(
        name="ase", mapping="processed", bits=12, pixel_mm=0.07,
        description="Direct a-Se flat panel at 0.07 mm: MTF set by the pixel aperture (sharp, white quantum noise), "
                    "more electronic noise; strong peripheral equalisation, two-scale enhancement (0.35 mm x0.6 and "
                    "3 mm x0.5), sigmoid VOI LUT, 12-bit.",
        mtf_mm=(0.02, 0.02), quantum_noise=0.011, electronic_noise=8e-4, output_noise=1.0,
        thickness_weight=0.35, unsharp=((0.35, 0.6), (3.0, 0.5)), lut="sigmoid", params={"sigmoid_width": 0.55},
    ),
    "raw": DomainSpec(
        name="raw", mapping="raw", bits=14, pixel_mm=0.085, photometric="MONOCHROME1", stored_inverted=True,
        file_format="dicom",
        description="'For processing' image of a direct a-Se detector at 0.085 mm: linear in exposure (no log), no "
                    "equalisation, no enhancement, 14-bit, stored MONOCHROME1 (air bright); the reader converts it.",
        mtf_mm=(0.03, 0.03), quantum_noise=0.011, electronic_noise=6e-4, output_noise=2.0,
        params={"offset": 0.01},
    ),
    "mono1": DomainSpec(
        name="mono1", mapping="processed", bits=14, photometric="MONOCHROME1", stored_inverted=True,
        file_format="dicom",
        description="A vendor that stores MONOCHROME1 (air bright in the file) 'for presentation': indirect panel at "
                    "the scene pitch, milder equalisation, unsharp mask (3 mm, gain 0.5), gamma-0.8 LUT, 14-bit. A "
                    "correct reader converts it to dense-bright.",
        mtf_mm=(0.06, 0.06), quantum_noise=0.012, electronic_noise=4e-4, output_noise=4.0,
        thickness_weight=0.75, unsharp=((3.0, 0.5),), lut="gamma", gamma=0.8, background_level=0.01,
    ),
    "wrongtag": DomainSpec(
        name="wrongtag", mapping="processed", bits=14, photometric="MONOCHROME2", stored_inverted=True,
        file_format="dicom", noise_stream="mono1",
        description="The mono1 acquisition after a conversion tool rewrote the tag to MONOCHROME2 without inverting the "
                    "pixels: the whole image is inverted, air bright, and no reader can fix it.",
        mtf_mm=(0.06, 0.06), quantum_noise=0.012, electronic_noise=4e-4, output_noise=4.0,
        thickness_weight=0.75, unsharp=((3.0, 0.5),), lut="gamma", gamma=0.8, background_level=0.01,
    ),
    "dbt": DomainSpec(
        name="dbt", mapping="dbt", bits=10, modality="DBT",
        description="Reconstructed tomosynthesis slice (15 projections over 15 deg, 1 mm slices, 0.1 mm in-plane): "
                    "35 % of the fibroglandular tissue in the slice, the rest smeared along the tube sweep; "
                    "calcifications of other depths appear as ghosts along the sweep; filtered-back-projection "
                    "high-pass and undershoots; more noise; linear 10-bit. Only in-focus calcifications are annotated.",
        mtf_mm=(0.10, 0.05), quantum_noise=0.020, electronic_noise=1e-3, output_noise=3.0,
        thickness_weight=0.25, tissue_weight=0.35, lut="linear", background_level=0.08,
        params={"arc_deg": 15.0, "projections": 15, "highpass_mm": 8.0, "highpass": 0.5, "sweep_highpass_mm": 1.2,
                "sweep_highpass": 0.35},
    ),
    "s2d": DomainSpec(
        name="s2d", mapping="s2d", bits=12,
        description="Synthesised 2D image computed from the tomosynthesis stack: full tissue overlap at the "
                    "reconstruction's anisotropic resolution, calcifications taken from their in-focus slices and "
                    "enhanced (x1.4, sharpening halo), smooth correlated noise, gamma-1.2 LUT, 12-bit.",
        mtf_mm=(0.10, 0.06), quantum_noise=0.009, electronic_noise=5e-4, structure_noise=(0.004, 0.15),
        output_noise=1.0, thickness_weight=0.5, unsharp=((0.25, 0.8), (2.0, 0.6)), lut="gamma", gamma=1.2,
        params={"calc_gain": 1.4, "lowpass_mm": 12.0, "lowpass": 0.3},
    ),
    "cr": DomainSpec(
        name="cr", mapping="processed", bits=10, pixel_mm=0.05,
        description="Computed radiography plate read at 0.05 mm: laser-light scatter in the phosphor blurs "
                    "(MTF ~0.25 at 5 cy/mm), lower DQE (more quantum noise), plate structure noise and scan-line "
                    "gain jitter; log amplifier, gradation (sigmoid) LUT, frequency processing with a large kernel "
                    "(4 mm x0.6), dynamic-range compression, 10-bit.",
        mtf_mm=(0.065, 0.065), quantum_noise=0.016, electronic_noise=1e-3, structure_noise=(0.010, 0.25),
        output_noise=0.6, thickness_weight=0.5, unsharp=((4.0, 0.6),), lut="sigmoid",
        params={"sigmoid_width": 0.7, "line_jitter": 0.002},
    ),
    "film": DomainSpec(
        name="film", mapping="film", bits=16, pixel_mm=0.05,
        description="Digitised screen-film (CBIS-DDSM-like): screen blur and quantum mottle, H&D characteristic curve "
                    "(log exposure to optical density), film grain, digitiser at 0.05 mm linear in optical density "
                    "with its own noise and aperture blur, 16-bit, no processing. Calibrated against the eight "
                    "CBIS-DDSM films (mlnnet realism).",
        mtf_mm=(0.06, 0.06), quantum_noise=0.006, output_noise=80.0,
        params={"d_min": 0.18, "d_max": 3.6, "slope": 2.2, "center": 1.8, "grain": 0.035, "grain_mm": 0.03,
                "digitiser_mm": 0.03, "digitiser_noise": 0.004},
    ),
}


def get_domain(name: str | DomainSpec) -> DomainSpec:
    if isinstance(name, DomainSpec):
        return name
    try:
        return DOMAINS[name]
    except KeyError:
        raise InputError(None, f"unknown synthetic domain {name!r}; choose one of {', '.join(DOMAINS)}") from None
