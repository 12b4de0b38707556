"""The paper's whole-image recipe: split into 2x2 quarters, resize each to the model size, predict, resize back.

Kept as an option for reproducing the paper; it changes the effective pixel spacing by the resize factor,
so the default is native-resolution sliding-window inference.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from MLNNetLib.inference.resample import resize_plane
from MLNNetLib.inference.sliding_window import Predictor, WindowResult
from MLNNetLib.progress import Progress

Box = tuple[int, int, int, int]  # row0, row1, col0, col1 (half open)


def quarter_boxes(rows: int, cols: int) -> list[Box]:
    """The four quarters of a plane (the bottom/right ones take the odd pixel)."""
    r, c = rows // 2, cols // 2
    rs = [(0, r), (r, rows)] if r > 0 else [(0, rows)]
    cs = [(0, c), (c, cols)] if c > 0 else [(0, cols)]
    return [(r0, r1, c0, c1) for r0, r1 in rs for c0, c1 in cs]


def paper_quarters(stack: np.ndarray, masks: np.ndarray | None, size: int) -> Iterator[tuple[int, Box, np.ndarray, int]]:
    """Yield (plane, box, quarter resized to size x size, breast pixels in the quarter) for every quarter."""
    for z in range(stack.shape[0]):
        for box in quarter_boxes(*stack.shape[1:]):
            r0, r1, c0, c1 = box
            n = int(masks[z, r0:r1, c0:c1].sum()) if masks is not None else (r1 - r0) * (c1 - c0)
            yield z, box, resize_plane(stack[z, r0:r1, c0:c1], (size, size), order=1), n


def paper_predict(
    predict: Predictor,
    stack: np.ndarray,
    size: int,
    masks: np.ndarray | None = None,
    batch_size: int = 4,
    progress: Progress | None = None,
) -> WindowResult:
    """Predict each breast-holding quarter at ``size`` x ``size`` and paste the probability back."""
    out = np.zeros(stack.shape, dtype=np.float32)
    work = [(z, box, q) for z, box, q, n in paper_quarters(stack, masks, size) if n > 0]
    total_quarters = stack.shape[0] * len(quarter_boxes(*stack.shape[1:]))
    n_batches = -(-len(work) // batch_size)
    if progress is not None:
        progress.step(0, max(n_batches, 1), f"{len(work)} quarters")
    for i in range(n_batches):
        if progress is not None:
            progress.check()
        chunk = work[i * batch_size : (i + 1) * batch_size]
        probs = np.asarray(predict(np.stack([q for _, _, q in chunk])[:, None].astype(np.float32)), dtype=np.float32)
        probs = probs.reshape(len(chunk), size, size)
        for (z, (r0, r1, c0, c1), _), p in zip(chunk, probs):
            out[z, r0:r1, c0:c1] = resize_plane(p, (r1 - r0, c1 - c0), order=1)
        if progress is not None:
            progress.step(i + 1, n_batches, f"quarter batch {i + 1}/{n_batches}")
    if progress is not None and n_batches == 0:
        progress.step(1, 1, "no quarters")
    return WindowResult(out, len(work), total_quarters - len(work))
