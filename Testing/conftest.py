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


@pytest.fixture(scope="session")
def tiny_checkpoint_path(tmp_path_factory):
    """One tiny MLN-net trained a few steps on a synthetic mammogram (MLNNet/MLNNetModuleLib/testdata.py, the
    same helper the Slicer self-test uses), shared by the tests that need a real checkpoint file."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "MLNNet"))
    from MLNNetModuleLib import testdata

    return testdata.tiny_checkpoint(tmp_path_factory.mktemp("tiny_model"), steps=4)
