"""Spacing used when a file does not say, and the warning that must go with it.

DEFAULT_SPACING_MM = 0.05: CBIS-DDSM film scans (the most common mammograms without spacing tags) were
digitised at about 42-50 um, and FFDM detectors are 50-100 um. A 1 mm default (what SimpleITK returns)
would be off by 10-20x and silently wreck every size in mm; 0.05 mm keeps sizes plausible, and the warning
tells the user to pass the true value.
"""

from __future__ import annotations

DEFAULT_SPACING_MM = 0.05
DEFAULT_SLICE_SPACING_MM = 1.0  # typical DBT reconstruction slice interval


def default_spacing_warning(given: float | None, reason: str) -> tuple[float, str]:
    """The spacing to use and the warning text, for a file lacking physical spacing."""
    if given is not None:
        value = float(given)
        if not value > 0:
            raise ValueError(f"default spacing must be positive, got {given!r}")
        return value, f"{reason}; using the given default spacing {value:g} mm"
    return DEFAULT_SPACING_MM, (f"{reason}; using the default {DEFAULT_SPACING_MM:g} mm pixel spacing "
                                "(CBIS-DDSM-like film scan); pass the true spacing if you know it")
