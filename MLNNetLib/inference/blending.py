"""Weighted blending of overlapping tile predictions.

Predictions near a tile's border see less context and are less reliable; weighting each tile by a window
that is high in the middle and low (but never zero) at the edges, then dividing by the summed weights,
removes the seams without biasing the result: blending a constant prediction gives the same constant.
"""

from __future__ import annotations

import numpy as np

BLEND_KINDS = ("gaussian", "cosine", "constant")


def blend_window(tile: int, kind: str = "gaussian", sigma_scale: float = 0.125, floor: float = 1e-3) -> np.ndarray:
    """(tile, tile) float32 weights, maximum 1, minimum ``floor`` (> 0 so every covered pixel gets weight)."""
    if kind not in BLEND_KINDS:
        raise ValueError(f"unknown blending {kind!r}; choose one of {BLEND_KINDS}")
    centre = (tile - 1) / 2.0
    x = np.arange(tile, dtype=np.float64) - centre
    if kind == "gaussian":
        sigma = max(tile * sigma_scale, 1e-6)
        w1 = np.exp(-0.5 * (x / sigma) ** 2)
    elif kind == "cosine":  # Hann window evaluated at pixel centres, so the end pixels are not exactly 0
        w1 = np.cos(np.pi * x / (tile + 1)) ** 2 if tile > 1 else np.ones(1)
    else:
        w1 = np.ones(tile)
    w = np.outer(w1, w1)
    w /= w.max()
    return np.maximum(w, floor).astype(np.float32)


class BlendAccumulator:
    """Running weighted sums for a stack of planes (Z, H, W), kept in float32 to bound memory."""

    def __init__(self, shape: tuple[int, int, int], window: np.ndarray):
        self.values = np.zeros(shape, dtype=np.float32)
        self.weights = np.zeros(shape, dtype=np.float32)
        self.window = window.astype(np.float32)
        self.tile = window.shape[0]

    def add(self, z: int, row: int, col: int, prediction: np.ndarray) -> None:
        t = self.tile
        self.values[z, row : row + t, col : col + t] += prediction * self.window
        self.weights[z, row : row + t, col : col + t] += self.window

    def result(self) -> np.ndarray:
        """Blended values; 0 where no tile contributed (skipped, outside the ROI). Reuses the buffers."""
        out = self.values
        covered = self.weights > 0
        np.divide(out, self.weights, out=out, where=covered)
        out[~covered] = 0.0
        self.weights = None  # type: ignore[assignment]  # free memory early
        return out
