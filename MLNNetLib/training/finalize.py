"""After training: the exact per-domain LayerNorm statistics pass, OOD calibration, the final checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from MLNNetLib.log import get_logger
from MLNNetLib.training.batches import domain_versions
from MLNNetLib.training.config import TrainConfig
from MLNNetLib.training.data import Case

log = get_logger(__name__)

CALIBRATED_METHODS = ("cosine", "euclidean", "plus", "euclidean_plus", "standardized")


def _stats_batches(cases: list[Case], tile: int, cfg: TrainConfig, curves: list, batch: int = 8) -> Iterator[tuple]:
    """The selection tiles of every training image (the tissue-filled tiles inference compares, DESIGN §4:
    "the same per-channel statistics") in every domain version the model was trained on, with their mean
    breast intensity (for the "+" correctional mean)."""
    from MLNNetLib.inference.planes import tissue_tile_corners

    rng = np.random.default_rng([cfg.seed, 4242])
    per_image = max(1, cfg.stats_tiles // max(1, len(cases)))
    xs, ds, ms = [], [], []
    for case in cases:
        for r, c in tissue_tile_corners(case.image, case.breast, tile, per_image):
            img, breast = case.image[r : r + tile, c : c + tile], case.breast[r : r + tile, c : c + tile]
            versions = domain_versions(img, breast, curves, rng) if cfg.augment else [img]
            for label, v in enumerate(versions):
                xs.append(v)
                ds.append(label if cfg.num_domains > 1 else 0)
                ms.append(float(v[breast].mean()) if breast.any() else float("nan"))
            if len(xs) >= batch:
                yield torch.from_numpy(np.stack(xs)[:, None]), torch.tensor(ds), torch.tensor(ms, dtype=torch.float64)
                xs, ds, ms = [], [], []
    if xs:
        yield torch.from_numpy(np.stack(xs)[:, None]), torch.tensor(ds), torch.tensor(ms, dtype=torch.float64)


def _calibration_tiles(cases: list[Case], tile: int, n_tiles: int = 8, max_images: int = 16) -> tuple[list[torch.Tensor], list[float]]:
    """The tiles inference would use for selection, from source training images as they are."""
    from MLNNetLib.inference.planes import tissue_tiles

    tiles, means = [], []
    for case in cases[:max_images]:
        chosen = tissue_tiles(case.image, case.breast, tile, n_tiles)
        if chosen:
            tiles.append(torch.from_numpy(np.stack(chosen)[:, None].astype(np.float32)))
            means.append(float(case.image[case.breast].mean()))
    return tiles, means


def finalize(model: torch.nn.Module, header: dict, cases: list[Case], cfg: TrainConfig, curves: list, path: Path) -> Path:
    from MLNNetLib.checkpoint import save_checkpoint
    from MLNNetLib.selection import calibrate_ood, record_domain_statistics

    tile = model.config.img_size
    stats = record_domain_statistics(model, _stats_batches(cases, tile, cfg, curves))
    log.info("recorded LayerNorm input statistics of %d norms for %d domain(s) from %d tiles each",
             len(stats.layers), stats.num_domains, cfg.stats_tiles)
    if model.num_domains > 1:
        tiles, means = _calibration_tiles(cases, tile)
        for method in CALIBRATED_METHODS:
            calibrate_ood(model, stats, tiles, method, input_means=means)
    header = {**header, "selection": {"ood_thresholds": dict(stats.ood_thresholds), "calibration_images": min(len(cases), 16)}}
    save_checkpoint(path, model, header, stats, overwrite=True)
    log.info("final model with domain statistics: %s", path)
    return path
