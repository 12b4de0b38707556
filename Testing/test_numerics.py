"""Denormal floats are flushed to zero in every PyTorch thread of the processes MLNNet owns (numerics.py)."""

from __future__ import annotations

import subprocess
import sys


# 2^20 products of 1e-30 and 1e-10 = 1e-40, a denormal: split over the intra-op threads, so every thread counts
PROBE = ("import torch; torch.set_num_threads(2); x = torch.full((1 << 20,), 1e-30) * 1e-10; "
         "print(int((x != 0).sum()))")


def _nonzero(prefix: str) -> int:
    out = subprocess.run([sys.executable, "-c", prefix + PROBE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().splitlines()[-1])


def test_without_the_flag_the_probe_keeps_its_denormals():
    assert _nonzero("") == 1 << 20  # the probe can fail: denormals survive by default


def test_flush_denormals_reaches_every_thread():
    assert _nonzero("from MLNNetLib.numerics import flush_denormals; assert flush_denormals(); ") == 0


def test_the_cli_flushes_before_its_command_runs():
    prefix = "from MLNNetLib.cli import main; assert main(['info', 'no-such-image.dcm']) == 2; "  # a refused input
    assert _nonzero(prefix) == 0


# the structured 3-D masks of test_metrics, on which scipy 1.17's cKDTree.query crashed with denormals flushed
SURFACES = """
import numpy as np
from MLNNetLib.metrics import surface_distances
yy, xx = np.mgrid[:40, :60]
ref = ((yy - 20) ** 2 / 81 + (xx - 30) ** 2 / 200 <= 1) | (xx < 3) | ((yy > 35) & (xx > 50))
pred = np.roll(ref, (2, -3), axis=(0, 1)) & ~((yy - 20) ** 2 + (xx - 30) ** 2 < 9)
pred[0, :] = True
zz = np.arange(6)[:, None, None]
d = surface_distances(np.broadcast_to(pred, (6, 40, 60)) & (zz < 4), np.broadcast_to(ref, (6, 40, 60)) & (zz > 0)
                      & (zz < 5), (1.0, 0.085, 0.07))
print(round(d.hd, 6), round(d.assd, 6))
"""


def test_surface_distances_survive_flushed_denormals():
    run = lambda prefix: subprocess.run([sys.executable, "-c", prefix + SURFACES], capture_output=True, text=True,
                                        timeout=300)
    plain = run("")
    flushed = run("from MLNNetLib.numerics import flush_denormals; assert flush_denormals(); ")
    assert plain.returncode == 0 and flushed.returncode == 0, flushed.stderr[-2000:]  # was -11 (SIGSEGV)
    assert flushed.stdout == plain.stdout


def test_ieee_denormals_restores_them_in_the_block_only():
    prefix = ("from MLNNetLib.numerics import flush_denormals, ieee_denormals, flushing_denormals; "
              "import torch; flush_denormals(); torch.set_num_threads(1)\n"
              "with ieee_denormals():\n"
              "    assert not flushing_denormals(); print(int((torch.full((8,), 1e-30) * 1e-10 != 0).sum()))\n"
              "assert flushing_denormals()\n")
    out = subprocess.run([sys.executable, "-c", prefix + PROBE.replace("set_num_threads(2)", "set_num_threads(1)")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["8", "0"]  # kept inside the block, flushed again after it
