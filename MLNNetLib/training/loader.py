"""Training batches through ``torch.utils.data.DataLoader`` workers.

Item ``i`` of epoch ``e`` draws its tile and its domain versions with ``numpy.random.default_rng([seed, rank, e,
i])``, so a batch is the same whatever the number of workers, a resumed run sees the tiles it would have seen,
and ranks draw different tiles. One loader spans all epochs (its workers keep prefetching while the main
process validates). The batch layout is ``make_batch``'s: samples grouped by domain (all branch-0 versions,
then all branch-1 versions), so the fused DomainLayerNorm runs once per domain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from MLNNetLib.training.batches import domain_versions


class TileDataset(Dataset):
    """Tile ``index`` of the whole run: (versions (V, T, T) float32, mask (T, T) uint8)."""

    def __init__(self, sampler: Any, items_per_epoch: int, epochs: int, augment: bool, curves: list, seed: int, rank: int):
        self.sampler, self.per_epoch, self.epochs = sampler, int(items_per_epoch), int(epochs)
        self.augment, self.curves, self.seed, self.rank = augment, curves, int(seed), int(rank)

    def __len__(self) -> int:
        return self.per_epoch * self.epochs

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, i = divmod(int(index), self.per_epoch)
        rng = np.random.default_rng([self.seed, self.rank, epoch, i])
        img, mask, breast = self.sampler.sample(rng)
        versions = domain_versions(img, breast, self.curves, rng) if self.augment else [img.astype(np.float32)]
        return torch.from_numpy(np.stack(versions)), torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8))


class GroupedCollate:
    """(x (V*B, 1, T, T), y, domain): versions grouped by domain; K=1 routes every version to branch 0."""

    def __init__(self, num_domains: int):
        self.num_domains = int(num_domains)

    def __call__(self, batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        versions = torch.stack([b[0] for b in batch])  # (B, V, T, T)
        masks = torch.stack([b[1] for b in batch]).float()  # (B, T, T)
        b, v = versions.shape[:2]
        x = versions.transpose(0, 1).reshape(v * b, 1, *versions.shape[2:])
        y = masks[None].expand(v, *masks.shape).reshape(v * b, 1, *masks.shape[1:]).contiguous()
        d = torch.tensor([k if self.num_domains > 1 else 0 for k in range(v) for _ in range(b)], dtype=torch.long)
        return x.contiguous(), y, d


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # workers only crop and remap tiles; the main process owns the cores for the model


def make_loader(sampler: Any, batch_size: int, steps_per_epoch: int, epochs: int, start_epoch: int, num_domains: int,
                augment: bool, curves: list, seed: int, rank: int, workers: int = 0) -> DataLoader:
    """A loader over epochs ``start_epoch..epochs-1``: ``steps_per_epoch`` batches each. Basenet (no augmentation)
    gets twice as many plain tiles per batch, so every variant sees 2 x batch_size samples per step."""
    per_batch = batch_size if augment else 2 * batch_size
    per_epoch = per_batch * steps_per_epoch
    dataset = TileDataset(sampler, per_epoch, epochs, augment, curves, seed, rank)
    order = range(start_epoch * per_epoch, epochs * per_epoch)
    return DataLoader(dataset, batch_size=per_batch, sampler=order, num_workers=int(workers),
                      collate_fn=GroupedCollate(num_domains), worker_init_fn=_worker_init if workers else None,
                      persistent_workers=bool(workers), prefetch_factor=4 if workers else None, drop_last=False)
