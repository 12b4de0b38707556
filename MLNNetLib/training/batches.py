"""Turns sampled tiles into one training batch whose samples carry their domain label (per-sample routing)."""

from __future__ import annotations

import numpy as np
import torch

from MLNNetLib.augment import bezier_remap, invert
from MLNNetLib.training.data import TileSampler


def domain_versions(img: np.ndarray, breast: np.ndarray, curves: list, rng: np.random.Generator) -> list[np.ndarray]:
    """[source-similar, source-dissimilar] of one tile: one random curve (identity included), then its inversion."""
    choice = int(rng.integers(len(curves) + 1))
    similar = img if choice == len(curves) else bezier_remap(img, *curves[choice])
    return [similar.astype(np.float32), invert(similar, breast).astype(np.float32)]


def make_batch(
    sampler: TileSampler,
    batch_size: int,
    num_domains: int,
    augment: bool,
    curves: list,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every variant sees 2 x batch_size samples per step, so comparisons between variants are at equal compute:
    K=2: each tile's similar version goes to branch 0 and its inverted version to branch 1;
    K=1 with augmentation (Basenet-S): both versions to the single branch;
    K=1 without augmentation (Basenet): twice as many plain tiles.
    """
    images, masks, domains = [], [], []
    if not augment:
        for _ in range(2 * batch_size):
            img, mask, _ = sampler.sample(rng)
            images.append(img)
            masks.append(mask)
            domains.append(0)
    else:
        versions: list[list[tuple[np.ndarray, np.ndarray]]] = [[], []]
        for _ in range(batch_size):
            img, mask, breast = sampler.sample(rng)
            for label, version in enumerate(domain_versions(img, breast, curves, rng)):
                versions[label].append((version, mask))
        for label, group in enumerate(versions):  # grouped by domain: fused LayerNorm per run (DomainContext)
            for version, mask in group:
                images.append(version)
                masks.append(mask)
                domains.append(label if num_domains > 1 else 0)
    x = torch.from_numpy(np.stack(images)[:, None])
    y = torch.from_numpy(np.stack(masks)[:, None].astype(np.float32))
    d = torch.tensor(domains, dtype=torch.long)
    return x, y, d
