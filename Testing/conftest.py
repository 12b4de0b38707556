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


def _really_read_only(folder) -> bool:
    probe = folder / ".write-probe"
    try:
        probe.write_text("x")
    except OSError:
        return True
    probe.unlink()
    return False


@pytest.fixture
def make_read_only():
    """``make_read_only(folder)`` makes an existing folder really read-only for this process and undoes it after
    the test: mode 0555 for an ordinary user; for root (which ignores modes) a read-only bind mount, else the
    immutable attribute. Skips the test only when the machine allows none of these."""
    import shutil
    import stat
    import subprocess

    undo = []

    def run(*cmd) -> bool:
        return shutil.which(cmd[0]) is not None and subprocess.run(cmd, capture_output=True).returncode == 0

    def make(folder):
        attempts = []
        if os.geteuid() != 0:
            mode = stat.S_IMODE(folder.stat().st_mode)
            attempts.append((lambda: (folder.chmod(0o555), True)[1], lambda: folder.chmod(mode)))
        attempts.append((lambda: run("mount", "--bind", str(folder), str(folder))
                         and (run("mount", "-o", "remount,ro,bind", str(folder)) or not run("umount", str(folder))),
                         lambda: run("umount", str(folder))))
        attempts.append((lambda: run("chattr", "+i", str(folder)), lambda: run("chattr", "-i", str(folder))))
        for do, undo_it in attempts:
            if do():
                if _really_read_only(folder):
                    undo.append(undo_it)
                    return folder
                undo_it()
        pytest.skip("this machine allows no read-only folder (not root-proof modes, bind mounts or chattr)")

    yield make
    for undo_it in reversed(undo):
        undo_it()
