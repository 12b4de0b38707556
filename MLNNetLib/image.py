"""The in-memory image every part of MLNNetLib passes around.

Arrays are numpy-ordered: (rows, cols) for a mammogram, (slices, rows, cols) for a DBT stack.
``Geometry`` keeps SimpleITK's physical (x, y, z) order so files round-trip exactly; use
``Geometry.spacing`` (array-axis order, mm) for anything computed on the array.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Geometry:
    spacing_xyz: tuple[float, ...]
    origin_xyz: tuple[float, ...]
    direction: tuple[float, ...]  # row-major, SimpleITK order

    @property
    def ndim(self) -> int:
        return len(self.spacing_xyz)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Spacing in mm per array axis (numpy order)."""
        return tuple(reversed(self.spacing_xyz))

    @classmethod
    def identity(cls, spacing: tuple[float, ...]) -> "Geometry":
        """Geometry from array-order spacing, origin 0, identity direction."""
        n = len(spacing)
        return cls(tuple(float(s) for s in reversed(spacing)), (0.0,) * n, tuple(np.eye(n).ravel().tolist()))

    def with_spacing(self, spacing: tuple[float, ...]) -> "Geometry":
        return Geometry(tuple(float(s) for s in reversed(spacing)), self.origin_xyz, self.direction)

    def to_dict(self) -> dict[str, Any]:
        return {"spacing_xyz": list(self.spacing_xyz), "origin_xyz": list(self.origin_xyz), "direction": list(self.direction)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Geometry":
        return cls(tuple(d["spacing_xyz"]), tuple(d["origin_xyz"]), tuple(d["direction"]))


@dataclass
class Image:
    array: np.ndarray  # float32
    geometry: Geometry
    path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # photometric, spacing_source, warnings, modality, ...

    @property
    def spacing(self) -> tuple[float, ...]:
        return self.geometry.spacing

    @property
    def is_volume(self) -> bool:
        return self.array.ndim == 3

    @property
    def warnings(self) -> list[str]:
        return self.meta.setdefault("warnings", [])
