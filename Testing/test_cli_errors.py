"""The CLI's single error boundary: every failure reaching the user is one named line, exit 2, no traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import MLNNetLib
import numpy as np
import pytest

import MLNNetLib.cli.info_cmd as info_cmd
from MLNNetLib.cli import main

ROOT = Path(MLNNetLib.__file__).resolve().parents[1]  # subprocesses run the code under test


def _real_memory_error() -> BaseException:
    try:
        np.empty(2**50, dtype=np.uint8)  # 1 PiB: numpy's own _ArrayMemoryError
    except MemoryError as exc:
        return exc
    raise AssertionError("a 1 PiB allocation succeeded")


def _real_state_dict_mismatch() -> BaseException:
    from MLNNetLib.model import build_model

    try:
        build_model("tiny", num_domains=1).load_state_dict(build_model("tiny", num_domains=2).state_dict())
    except RuntimeError as exc:
        return exc
    raise AssertionError("weights of K=2 loaded into K=1")


CASES = {
    "permission": (lambda: PermissionError(errno.EACCES, "Permission denied", "/data/out.csv"), 2,
                   "/data/out.csv: permission denied; choose another location"),
    "read-only": (lambda: OSError(errno.EROFS, "Read-only file system", "/mnt/ro/m.nrrd"), 2,
                  "/mnt/ro/m.nrrd: read-only file system; choose a writable folder"),
    "disk-full": (lambda: OSError(errno.ENOSPC, "No space left on device", "/tmp/p.nrrd"), 2,
                  "/tmp/p.nrrd: no space left on the device; free some space"),
    "memory": (_real_memory_error, 2, "not enough memory (Unable to allocate 1.00 PiB"),
    "state-dict": (_real_state_dict_mismatch, 2, "the saved weights do not fit the requested model"),
    "value": (lambda: ValueError("window size 7 does not divide 16"), 2, "invalid value: window size 7 does not divide 16"),
    "bug": (lambda: TypeError("unsupported operand"), 1, "internal error (TypeError: unsupported operand); this is a bug"),
    "interrupt": (lambda: KeyboardInterrupt(), 130, "interrupted"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_failure_is_one_named_line_and_debug_shows_the_traceback(name, monkeypatch, capfd):
    make, code, message = CASES[name]
    exc = make()

    def run(args):
        raise exc

    monkeypatch.setattr(info_cmd, "run", run)
    assert main(["info", "x.nrrd"]) == code
    err = capfd.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().count("\n") == 0  # one line
    assert main(["--debug", "info", "x.nrrd"]) == code
    err = capfd.readouterr().err
    assert "Traceback" in err and message in err


def test_the_real_entry_point_hides_the_traceback_unless_asked(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    (tmp_path / "text.nrrd").write_text("not an image")
    cmd = [sys.executable, "-m", "MLNNetLib", "info", str(tmp_path / "text.nrrd")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "text.nrrd: not a readable image file" in proc.stderr
    proc = subprocess.run(cmd[:3] + ["--debug"] + cmd[3:], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" in proc.stderr
