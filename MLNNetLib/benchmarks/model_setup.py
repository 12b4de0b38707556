"""Shared set-up of the model benchmarks: a synthetic mammogram, an in-memory checkpoint with real domain
statistics, weight copying between networks of different K, and robust timing helpers.

Benchmarks compare two variants measured in the same process, so the set-up must make the two differ only
in what is being measured (same weights, same image, same options).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from MLNNetLib.image import Geometry, Image

FULL_SHAPE = (3000, 4600)  # rows, cols: a whole FFDM mammogram
DEFAULT_SPACING_MM = 0.07


def synthetic_image(shape: tuple[int, int] = FULL_SHAPE, seed: int = 0, domain: str = "ffdm",
                    spacing_mm: float = DEFAULT_SPACING_MM) -> Image:
    """A synthetic mammogram (MLNNetLib.synth) in the domain's raw gray levels, wrapped as an Image."""
    from MLNNetLib.synth import generate_case

    array, _, _ = generate_case(domain, seed, shape=tuple(shape), spacing_mm=spacing_mm)
    geometry = Geometry.identity((float(spacing_mm), float(spacing_mm)))
    meta = {"spacing_source": "header", "photometric": "MONOCHROME2", "warnings": [], "modality": "MG"}
    return Image(np.ascontiguousarray(array, dtype=np.float32), geometry, None, meta)


def tile_positions(breast: np.ndarray, size: int, count: int, seed: int = 0) -> list[tuple[int, int]]:
    """Top-left corners of ``count`` random ``size``-square tiles whose centre lies in the breast."""
    rows, cols = breast.shape
    if rows < size or cols < size:
        raise ValueError(f"image {rows}x{cols} is smaller than a {size}x{size} tile")
    inner = breast[size // 2: rows - size + size // 2 + 1, size // 2: cols - size + size // 2 + 1]
    ys, xs = np.nonzero(inner)
    if len(ys) == 0:  # no tissue where a whole tile fits: fall back to anywhere
        ys, xs = np.nonzero(np.ones_like(inner))
    pick = np.random.default_rng(seed).choice(len(ys), size=count, replace=len(ys) < count)
    return [(int(ys[i]), int(xs[i])) for i in pick]


def cut_tiles(array: np.ndarray, positions: list[tuple[int, int]], size: int) -> np.ndarray:
    """Stack of the ``size``-square crops of ``array`` at ``positions``, shape (N, size, size)."""
    return np.stack([array[y:y + size, x:x + size] for y, x in positions])


def domain_batches(tiles: np.ndarray, breast_tiles: np.ndarray, num_domains: int) -> list[tuple]:
    """(x, domain, input_mean) batches: domain 0 = the tiles as they are, odd domains = inverted tissue.

    This mirrors the paper's source-similar / source-dissimilar split closely enough for statistics to be
    recorded for every branch; the weights are untrained, so only the mechanics matter here.
    """
    batches = []
    for d in range(num_domains):
        x = np.where(breast_tiles, 1.0 - tiles, tiles) if d % 2 else tiles
        means = [float(t[m].mean()) if m.any() else float("nan") for t, m in zip(x, breast_tiles)]
        batches.append((torch.from_numpy(np.ascontiguousarray(x[:, None], dtype=np.float32)),
                        torch.full((len(x),), d, dtype=torch.long), torch.tensor(means, dtype=torch.float64)))
    return batches


def make_checkpoint(config: Any, num_domains: int, image: Image, seed: int = 0, stat_tiles: int = 4,
                    source: nn.Module | None = None, branch: int = 0) -> Any:
    """An in-memory Checkpoint (model in eval mode, header with the image's spacing, recorded statistics).

    With ``source`` the new network takes its weights (norm branch ``branch`` for a K=1 network), so a K=1
    and a K=2 model compute the same function on that branch.
    """
    from MLNNetLib.checkpoint import Checkpoint
    from MLNNetLib.model import build_model
    from MLNNetLib.preprocess import prepare_image
    from MLNNetLib.selection import record_domain_statistics

    torch.manual_seed(seed)
    model = build_model(config, num_domains=num_domains).eval()
    if source is not None:
        copy_weights(source, model, branch)
    stats = None
    if num_domains > 1:
        img01, breast = prepare_image(np.asarray(image.array))
        size = model.config.img_size
        positions = tile_positions(breast, size, stat_tiles, seed)
        tiles, masks = cut_tiles(img01, positions, size).astype(np.float32), cut_tiles(breast, positions, size)
        stats = record_domain_statistics(model, domain_batches(tiles, masks, num_domains))
    header = {"spacing_mm": [float(s) for s in image.spacing[-2:]], "selection": {}}
    return Checkpoint(model=model, header=header, stats=stats, path=None)


def copy_weights(source: nn.Module, target: nn.Module, branch: int = 0) -> None:
    """Copy every tensor of ``source`` into ``target``; norm tensors of a K=1 target take branch ``branch``."""
    src = source.state_dict()
    out = {}
    for key, ref in target.state_dict().items():
        value = src[key]
        if value.shape != ref.shape and value.ndim == 2 and ref.ndim == 2 and ref.shape[0] == 1:
            value = value[branch:branch + 1]
        out[key] = value
    target.load_state_dict(out, strict=True)


def timed(fn: Callable[[], Any], device: torch.device | str = "cpu") -> tuple[float, Any]:
    """Wall seconds of one call (synchronising CUDA so queued kernels are counted) and its result."""
    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    value = fn()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0, value


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def machine() -> dict[str, Any]:
    """What the numbers were measured on: the load average matters on a shared 2-core CPU."""
    return {"load_average": [round(v, 2) for v in os.getloadavg()], "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def package_root() -> Path:
    """Directory that holds the MLNNetLib package (so a child ``python -m`` finds it)."""
    return Path(__file__).resolve().parents[2]
