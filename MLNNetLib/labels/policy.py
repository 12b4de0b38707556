"""What training does with each label kind: an explicit, recorded choice, never a silent one.

- ``calcification``: the mask as it is.
- ``points`` (calcification centres, e.g. INbreast): ``trace`` (default) fills the library's level-tracing outline
  around each point (``MLNNetLib.labels.level_tracing``, half maximum in a 2 mm window, the Slicer module's
  code); ``skip`` leaves those cases out.
- ``region`` (a loose outline around a group, e.g. CBIS-DDSM calcification ROIs): no default. ``detect`` finds
  calcification masks inside the region with the library's classical detector (``regions``), flagged
  approximate; ``skip`` leaves those cases out (evaluation still scores them at region level). Training on the
  filled outline itself is not offered: the network would learn to paint blobs around clusters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from MLNNetLib.errors import InputError

REGION_POLICIES = ("refuse", "detect", "skip")
POINTS_POLICIES = ("trace", "skip")


@dataclass(frozen=True)
class LabelPolicy:
    region: str = "refuse"
    points: str = "trace"
    level_fraction: float = 0.5
    window_mm: float = 2.0

    def __post_init__(self) -> None:
        if self.region not in REGION_POLICIES:
            raise InputError(None, f"region label policy must be one of {REGION_POLICIES}, got {self.region!r}")
        if self.points not in POINTS_POLICIES:
            raise InputError(None, f"points label policy must be one of {POINTS_POLICIES}, got {self.points!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def skips(self, kind: str) -> bool:
        return kind == "none" or (kind == "region" and self.region == "skip") or (kind == "points" and self.points == "skip")

    def check_kinds(self, items: list[dict], where: Any) -> None:
        """Refuse region labels unless a policy was chosen, before any image is read."""
        regions = [i["id"] for i in items if i.get("label_kind") == "region"]
        if regions and self.region == "refuse":
            raise InputError(where, f"{len(regions)} case(s) (e.g. {regions[0]}) have label kind 'region' (a loose outline "
                                    "around a group of calcifications), which cannot train a calcification segmenter as it "
                                    "is; choose --region-labels detect (calcifications found inside the region by the "
                                    "library's classical detector, flagged approximate) or --region-labels skip")


def calcification_target(item: dict, image: Any, img01: np.ndarray, breast: np.ndarray, policy: LabelPolicy
                         ) -> tuple[np.ndarray, dict[str, Any]]:
    """The calcification mask (uint8, image grid) training uses for one case, and how it was made.

    ``image`` is the ``Image`` as read (points are traced on it, as the Slicer effect traces on the volume);
    label images are read on its grid (size and geometry checked); ``img01``/``breast`` are its normalised
    version and breast mask (the region detector works on them).
    """
    from MLNNetLib.io import read_mask

    spacing_rc = tuple(image.spacing[-2:])
    kind = item.get("label_kind", "calcification")
    if kind == "calcification":
        label = read_mask(item["label"], like=image).array
        return (label > 0).astype(np.uint8), {"label_kind": kind, "approximate": False, "method": "mask"}
    if kind == "points":
        from MLNNetLib.labels.points import points_mask_file, points_to_mask, read_points

        points = read_points(item["label"])
        mask, results = points_to_mask(image.array, points, spacing_rc, policy.level_fraction, policy.window_mm)
        outlines = points_mask_file(item["label"])
        if outlines is not None:
            mask |= read_mask(outlines, like=image).array.astype(np.uint8)
        failed = [r.to_dict() for r in results if r.pixels == 0]
        return mask, {"label_kind": kind, "approximate": False, "method": "level tracing",
                      "level_fraction": policy.level_fraction, "window_mm": policy.window_mm,
                      "points": len(results), "points_not_labelled": failed}
    if kind == "region":
        if policy.region != "detect":
            raise InputError(item.get("label"), f"region label with policy {policy.region!r}: nothing to train on")
        from MLNNetLib.labels.regions import detect_in_regions

        region = read_mask(item["label"], like=image).array > 0
        mask, info = detect_in_regions(img01, breast, region, spacing_rc)
        return mask, {"label_kind": kind, **info}
    raise InputError(item.get("label"), f"label kind {kind!r} has no calcification target")
