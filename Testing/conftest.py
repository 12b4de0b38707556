"""Shared pytest fixtures: everything is made on the fly, nothing is downloaded."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def mrml():
    """A headless MRML scene with the Volumes, Segmentations, Tables and Markups logics (real slicer-core)."""
    from MLNNetLib.scene.headless import HeadlessScene

    h = HeadlessScene()
    yield h
    h.close()
