"""The physical scene sampled on one detector grid: anatomy fields resampled, calcifications stamped anew.

Pixel k of a grid with pitch p covers [k p, (k+1) p) mm from the image corner, on every grid, so a style with
another pitch images the same field of view (minus less than one pixel at the far edge). Anatomy and
distractors are smooth on the scene grid (texture, ducts >= 0.15 mm, vessels) and are interpolated linearly;
calcifications are drawn from their physical description on the new grid (``calcifications.stamp``), and
detector spikes land on the nearest pixel of the new grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from MLNNetLib.synth.anatomy import MU_FAT_THICK
from MLNNetLib.synth.calcifications import CalcLayer, draw_layer

if TYPE_CHECKING:
    from MLNNetLib.synth.generate import Scene


def grid_shape(shape: tuple[int, int], spacing_mm: float, pitch_mm: float) -> tuple[int, int]:
    return tuple(max(1, int(np.floor(int(n) * spacing_mm / pitch_mm + 1e-6))) for n in shape)  # type: ignore[return-value]


def _axis_weights(n_in: int, n_out: int, ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear-interpolation indices and weights of output pixel centres: src = (o + 0.5) * ratio - 0.5."""
    src = np.clip((np.arange(n_out) + 0.5) * ratio - 0.5, 0.0, n_in - 1.0)
    i0 = np.minimum(np.floor(src).astype(np.intp), max(n_in - 2, 0))
    f = (src - i0).astype(np.float32)
    return i0, np.minimum(i0 + 1, n_in - 1), f


def resample(field: np.ndarray, spacing_mm: float, pitch_mm: float) -> np.ndarray:
    """Linear interpolation of scene-grid field(s) (..., rows, cols) at the pixel centres of the ``pitch_mm`` grid;
    separable, so five full fields at 0.05 mm cost a few tenths of a second."""
    if abs(pitch_mm - spacing_mm) < 1e-9:
        return field
    src = np.asarray(field, dtype=np.float32)
    if src.ndim > 2:  # one field at a time: a gather along the last axis of a stack is several times slower
        return np.stack([resample(f, spacing_mm, pitch_mm) for f in src])
    r = pitch_mm / spacing_mm
    if r > 1.0:  # coarser: average first, as a detector pixel integrates
        src = ndimage.gaussian_filter(src, 0.5 * np.sqrt(r * r - 1.0), mode="nearest")
    out_shape = grid_shape(src.shape[-2:], spacing_mm, pitch_mm)
    a0, a1, fa = _axis_weights(src.shape[0], out_shape[0], r)
    b0, b1, fb = _axis_weights(src.shape[1], out_shape[1], r)
    rows = src[a0] * (1.0 - fa)[:, None] + src[a1] * fa[:, None]
    return (np.take(rows, b0, axis=1) * (1.0 - fb) + np.take(rows, b1, axis=1) * fb).astype(np.float32)


@dataclass
class Layers:
    """Everything a style's physics needs, on its own grid (attenuation in nats)."""
    pitch_mm: float
    breast: np.ndarray  # bool
    thickness: np.ndarray  # 0..1 relative compressed thickness
    fat: np.ndarray  # attenuation of the fatty breast (thickness roll-off included)
    tissue: np.ndarray  # fibroglandular tissue + ducts/ligaments (what tomosynthesis separates by depth)
    pectoral: np.ndarray
    other: np.ndarray  # skin, vessels, vessel rims, skin markers
    calcs: CalcLayer
    spikes: np.ndarray  # (N, 2) pixel positions
    spike_amplitudes: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.breast.shape

    def projection(self, tissue_weight: float = 1.0, calc_gain: float = 1.0) -> np.ndarray:
        """Line integral through the whole breast (a 2-D projection)."""
        return (self.fat + tissue_weight * self.tissue + max(tissue_weight, 0.6) * self.pectoral + self.other
                + calc_gain * self.calcs.attenuation).astype(np.float32)


def make_layers(scene: "Scene", pitch_mm: float) -> Layers:
    a, s = scene.anatomy, scene.spacing_mm
    same = abs(pitch_mm - s) < 1e-9
    shape = a.breast.shape if same else grid_shape(a.breast.shape, s, pitch_mm)
    stack = resample(np.stack([a.thickness, a.breast.astype(np.float32), a.gland + a.structures, a.pectoral,
                               a.skin + scene.distractors.attenuation]), s, pitch_mm)
    thickness, breast_f, tissue, pectoral, other = stack
    breast = a.breast if same else breast_f > 0.5
    thickness = np.where(breast, thickness, 0.0).astype(np.float32)
    layer = draw_layer(scene.calcs, shape, pitch_mm)
    spikes = np.clip(np.floor(scene.spikes_mm / pitch_mm).astype(int), 0, np.array(shape) - 1) if len(scene.spikes_mm) \
        else np.zeros((0, 2), dtype=int)
    return Layers(pitch_mm=float(pitch_mm), breast=breast, thickness=thickness,
                  fat=(MU_FAT_THICK * thickness).astype(np.float32), tissue=tissue, pectoral=pectoral, other=other,
                  calcs=layer, spikes=spikes, spike_amplitudes=scene.spike_amplitudes)
