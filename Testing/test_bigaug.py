"""The BigAug baseline's stacked transforms keep the air dark and the values in [0, 1], and the stack does
move calcifications (rotation, scaling) as the published baseline does."""

from __future__ import annotations

import numpy as np
import pytest

from MLNNetLib.training.bigaug import BigAugOptions, stacked_transform


@pytest.fixture
def tile() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = np.random.default_rng(1)
    breast = np.zeros((96, 96), bool)
    breast[:, 20:] = True
    img = np.where(breast, 0.3 + 0.4 * r.random((96, 96)), 0.0).astype(np.float32)
    mask = np.zeros((96, 96), np.uint8)
    mask[40:44, 50:54] = 1
    return img, mask, breast


def test_air_stays_dark_and_values_in_range(tile) -> None:
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(40):
        img, mask, breast = stacked_transform(*tile, rng, BigAugOptions())
        assert img.dtype == np.float32 and 0.0 <= img.min() and img.max() <= 1.0
        assert not img[~breast].any()
        changed += not np.array_equal(img, tile[0])
    assert changed >= 35  # nine transforms at p = 0.5: almost every draw changes the tile


def test_the_stack_rotates_and_scales(tile) -> None:
    rng = np.random.default_rng(0)
    moved = sum(not np.array_equal(stacked_transform(*tile, rng, BigAugOptions())[1], tile[1]) for _ in range(40))
    assert moved >= 10
