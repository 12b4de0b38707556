"""Synthetic data and a tiny model trained on the fly, for the module's self-test (inside Slicer) and pytest.

Imports no qt and no slicer application code: the same helpers run in Slicer's self-test and headless.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

TILE = 64  # the "tiny" config's tile size


def synthetic_case(seed: int = 3, shape: tuple[int, int] = (384, 320), domain: str = "ffdm") -> tuple[np.ndarray, np.ndarray, float]:
    """(image float32, calcification mask uint8, spacing mm) of one synthetic mammogram."""
    from MLNNetLib.synth import generate_case

    spacing = 0.1
    image, mask, _ = generate_case(domain, seed, shape=shape, spacing_mm=spacing)
    return image.astype(np.float32), mask.astype(np.uint8), spacing


def _tiles(image01: np.ndarray, mask: np.ndarray, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` tiles, most centred on calcification pixels (they are rare)."""
    rows, cols = image01.shape
    fg = np.argwhere(mask > 0)
    xs, ys = [], []
    for i in range(n):
        if len(fg) and i % 4:
            r, c = fg[rng.integers(len(fg))]
        else:
            r, c = rng.integers(rows), rng.integers(cols)
        r0 = int(np.clip(r - TILE // 2, 0, rows - TILE))
        c0 = int(np.clip(c - TILE // 2, 0, cols - TILE))
        xs.append(image01[r0 : r0 + TILE, c0 : c0 + TILE])
        ys.append(mask[r0 : r0 + TILE, c0 : c0 + TILE])
    return np.stack(xs)[:, None].astype(np.float32), np.stack(ys)[:, None].astype(np.float32)


def tiny_checkpoint(out_dir: str | os.PathLike, steps: int = 20, seed: int = 3) -> Path:
    """Train build_model("tiny") for a few steps on one synthetic case (two domains: image and its inverse),
    record the domain statistics and save a checkpoint. Enough to exercise the whole pipeline, not to be good."""
    import torch

    from MLNNetLib.augment import breast_mask, invert, normalize
    from MLNNetLib.checkpoint import save_checkpoint
    from MLNNetLib.model import build_model
    from MLNNetLib.selection import record_domain_statistics

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    image, mask, spacing = synthetic_case(seed)
    img01 = normalize(image)
    breast = breast_mask(img01)
    domains = [img01, invert(img01, breast)]
    model = build_model("tiny", num_domains=2)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for step in range(steps):
        d = step % 2
        x, y = _tiles(domains[d], mask, rng, 4)
        logits = model(torch.from_numpy(x), torch.full((4,), d, dtype=torch.long))
        prob = torch.sigmoid(logits)
        yt = torch.from_numpy(y)
        dice = 1 - (2 * (prob * yt).sum() + 1) / (prob.sum() + yt.sum() + 1)
        loss = dice + torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, pos_weight=torch.tensor(20.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    batches = []
    for d in (0, 1):
        x, _ = _tiles(domains[d], mask, rng, 4)
        batches.append((torch.from_numpy(x), torch.full((4,), d, dtype=torch.long)))
    stats = record_domain_statistics(model, batches)
    header = {"spacing_mm": [spacing, spacing], "training": {"steps": steps, "data": "synthetic ffdm, 1 case", "purpose": "self-test"}}
    return save_checkpoint(Path(out_dir) / "tiny-selftest.safetensors", model, header, stats, overwrite=True)
