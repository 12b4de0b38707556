"""Sliding-window prediction over a stack of planes with weighted blending.

Tiles are cut on the fly and predicted ``batch_size`` at a time, so peak memory is the image, two
float32 accumulators and one batch, whatever the image size. A 2-D image is a stack of one plane.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from MLNNetLib.inference.blending import BlendAccumulator, blend_window
from MLNNetLib.inference.tiling import TilePlan, plan_tiles
from MLNNetLib.progress import Progress

# batch (B, 1, t, t) float32 in [0, 1] -> probabilities (B, t, t) float32
Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class WindowResult:
    probability: np.ndarray  # (Z, H, W) float32
    tiles: int  # tiles predicted
    skipped: int  # tiles skipped because they hold no breast pixel


def plan_stack(stack: np.ndarray, tile: int, overlap: float, masks: np.ndarray | None) -> list[TilePlan]:
    """One tile plan per plane of a (Z, H, W) stack."""
    return [plan_tiles(stack.shape[1:], tile, overlap, None if masks is None else masks[z]) for z in range(stack.shape[0])]


def _batches(plans: list[TilePlan], batch_size: int) -> Iterator[list[tuple[int, int, int]]]:
    batch: list[tuple[int, int, int]] = []
    for z, plan in enumerate(plans):
        for r, c in plan.tiles:
            batch.append((z, r, c))
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def sliding_window(
    predict: Predictor,
    stack: np.ndarray,
    tile: int,
    overlap: float = 0.25,
    masks: np.ndarray | None = None,
    batch_size: int = 4,
    blend: str = "gaussian",
    progress: Progress | None = None,
    plans: list[TilePlan] | None = None,
) -> WindowResult:
    """Blend ``predict`` over every tile of ``stack`` (Z, H, W) that touches ``masks`` (all tiles if None).

    ``progress.step`` is called once per batch, so a cancel request stops the work within one batch.
    """
    if stack.ndim != 3:
        raise ValueError(f"expected a (Z, H, W) stack, got shape {stack.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    plans = plan_stack(stack, tile, overlap, masks) if plans is None else plans
    n_tiles = sum(len(p.tiles) for p in plans)
    n_skipped = sum(len(p.skipped) for p in plans)
    n_batches = -(-n_tiles // batch_size)
    acc = BlendAccumulator(stack.shape, blend_window(tile, blend))
    buffer = np.empty((batch_size, 1, tile, tile), dtype=np.float32)
    if progress is not None:
        progress.step(0, max(n_batches, 1), f"{n_tiles} tiles")
    for i, batch in enumerate(_batches(plans, batch_size)):
        if progress is not None:
            progress.check()  # a cancel from the previous step's callback stops before more work
        for j, (z, r, c) in enumerate(batch):
            buffer[j, 0] = stack[z, r : r + tile, c : c + tile]
        probs = np.asarray(predict(buffer[: len(batch)]), dtype=np.float32).reshape(len(batch), tile, tile)
        for j, (z, r, c) in enumerate(batch):
            acc.add(z, r, c, probs[j])
        if progress is not None:
            progress.step(i + 1, n_batches, f"tile batch {i + 1}/{n_batches}")
    if progress is not None and n_batches == 0:
        progress.step(1, 1, "no tiles")
    return WindowResult(acc.result(), n_tiles, n_skipped)
