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
HELD_OUT_MARGIN = 1.25  # held-out source images: a little slack over their 95th-percentile shortfall (few images)
TRAINING_MARGIN = 3.0  # only training images at hand: they match the statistics they made unusually well


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


def _calibration_tiles(cases: list[Case], tile: int, n_tiles: int = 16, max_images: int = 32) -> tuple[list[torch.Tensor], list[float]]:
    """The tiles inference would use for selection (same count: InferenceOptions.selection_tiles) and their "+"
    mean (per-tile breast mean, averaged: the quantity inference compares), from source images as they are."""
    from MLNNetLib.inference.planes import tissue_tile_corners

    tiles, means = [], []
    for case in cases[:max_images]:
        corners = tissue_tile_corners(case.image, case.breast, tile, n_tiles)
        if not corners:
            continue
        chosen = [case.image[r : r + tile, c : c + tile] for r, c in corners]
        inside = [case.breast[r : r + tile, c : c + tile] for r, c in corners]
        tiles.append(torch.from_numpy(np.stack(chosen)[:, None].astype(np.float32)))
        tile_means = [float(t[m].mean()) for t, m in zip(chosen, inside) if m.any()]
        means.append(float(np.mean(tile_means)) if tile_means else float("nan"))
    return tiles, means


def finalize(model: torch.nn.Module, header: dict, cases: list[Case], cfg: TrainConfig, curves: list, path: Path,
             val_cases: list[Case] | None = None) -> Path:
    """Record the statistics on the training images; calibrate the OOD thresholds on held-out source images
    (``val_cases``; the training images match the statistics they made unusually well), with the same number
    of selection tiles as inference."""
    from MLNNetLib.checkpoint import save_checkpoint
    from MLNNetLib.selection import calibrate_ood, record_domain_statistics

    tile = model.config.img_size
    stats = record_domain_statistics(model, _stats_batches(cases, tile, cfg, curves))
    log.info("recorded LayerNorm input statistics of %d norms for %d domain(s) from %d tiles each",
             len(stats.layers), stats.num_domains, cfg.stats_tiles)
    calibration: dict = {}
    if stats.layers:  # K = 1 too: the OOD flag is the only domain check a single-branch model has
        from MLNNetLib.inference.options import InferenceOptions

        held_out = bool(val_cases)
        tiles, means = _calibration_tiles(val_cases if held_out else cases, tile, InferenceOptions().selection_tiles)
        margin = HELD_OUT_MARGIN if held_out else TRAINING_MARGIN
        for method in CALIBRATED_METHODS:
            calibrate_ood(model, stats, tiles, method, input_means=means, margin=margin)
        calibration = {"images": len(tiles), "held_out": held_out, "tiles_per_image": InferenceOptions().selection_tiles,
                       "margin": margin}
    header = {**header, "selection": {"ood_thresholds": dict(stats.ood_thresholds), "calibration": calibration}}
    save_checkpoint(path, model, header, stats, overwrite=True)
    log.info("final model with domain statistics: %s", path)
    return path
