"""Output plans (MLNNetLib.outputs): declared, validated before work, committed together, nothing left on failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import MLNNetLib
import numpy as np
import pytest

from MLNNetLib.atomic import atomic_path, write_text
from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry
from MLNNetLib.io import write_image
from MLNNetLib.outputs import OutputError, OutputPlan, clean_stale_temps, is_temp_name

ROOT = Path(MLNNetLib.__file__).resolve().parents[1]  # subprocesses run the code under test


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_read_only_folder_is_refused_before_any_work(tmp_path, make_read_only):
    ro = make_read_only((tmp_path / "ro").mkdir() or tmp_path / "ro")
    plan = OutputPlan()
    plan.file(ro / "sub" / "table.csv", "table", option="--out")
    with pytest.raises(OutputError, match=r"table\.csv: --out: cannot create files in .*ro \(read-only file system\); choose a writable"):
        plan.validate()
    assert tree(ro) == []


def test_format_input_duplicate_and_existing_outputs_are_refused_up_front(tmp_path):
    (tmp_path / "in.nrrd").write_bytes(b"user data")
    with pytest.raises(OutputError, match="holds integer pixels only.*not float32"):
        plan = OutputPlan()
        plan.image(tmp_path / "new" / "p.png", "float32", option="--probability")
        plan.validate()
    with pytest.raises(OutputError, match=r"lossy JPEG"):
        plan = OutputPlan()
        plan.image(tmp_path / "m.jpg", "uint8")
        plan.validate()
    with pytest.raises(OutputError, match=r"--out is a CSV table; its file name must end in \.csv"):
        plan = OutputPlan()
        plan.file(tmp_path / "t.nrrd", "table", option="--out")
        plan.validate()
    with pytest.raises(OutputError, match=r"is also an input \(--mask\).*even with --overwrite"):
        plan = OutputPlan(overwrite=True)
        plan.add_inputs(tmp_path / "in.nrrd", option="--mask")
        plan.file(tmp_path / "sub" / ".." / "in.nrrd", "file", option="--out")
        plan.validate()
    with pytest.raises(OutputError, match="--clusters-out and --out name the same file"):
        plan = OutputPlan()
        plan.file(tmp_path / "same.csv", "table", option="--out")
        plan.file(tmp_path / "same.csv", "table", option="--clusters-out")
    with pytest.raises(FileExistsError, match="already exists.*--overwrite"):
        plan = OutputPlan()
        plan.file(tmp_path / "in.nrrd")
        plan.validate()
    assert tree(tmp_path) == ["in.nrrd"] and (tmp_path / "in.nrrd").read_bytes() == b"user data"


def test_outputs_appear_together_only_when_the_run_succeeds(tmp_path):
    plan = OutputPlan()
    mask = plan.image(tmp_path / "out" / "mask", "uint8")
    summary = plan.file(tmp_path / "out" / "mask.json", "json")
    assert mask.name == "mask.nrrd"  # as write_image names it
    with plan:
        write_image(np.eye(4, dtype=np.uint8), Geometry.identity((0.1, 0.1)), mask)
        assert not mask.exists()  # staged, not yet in place
        write_text(summary, "{}")
        assert not summary.exists() and len(list((tmp_path / "out").iterdir())) == 2
    assert tree(tmp_path) == ["out", "out/mask.json", "out/mask.nrrd"]


def test_a_failed_run_leaves_no_file_no_temp_and_no_new_folder(tmp_path):
    (tmp_path / "kept").mkdir()
    plan = OutputPlan()
    a = plan.file(tmp_path / "kept" / "a" / "b" / "x.csv", "table")
    b = plan.file(tmp_path / "new" / "deep" / "y.json", "json")
    plan.folder(tmp_path / "run")
    with pytest.raises(RuntimeError, match="boom"):
        with plan:
            write_text(a, "1")
            write_text(b, "2")
            (tmp_path / "run" / "epoch1").mkdir(parents=True)  # a library that makes its own folders
            raise RuntimeError("boom")
    assert tree(tmp_path) == ["kept"]


def test_a_failed_rename_restores_what_was_overwritten(tmp_path, monkeypatch):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("old a")
    second.write_text("old b")
    plan = OutputPlan(overwrite=True)
    plan.file(first)
    plan.file(second)
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if Path(dst) == second:
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    with pytest.raises(OSError, match="No space"):
        with plan:
            write_text(first, "new a", overwrite=True)
            write_text(second, "new b", overwrite=True)
            monkeypatch.setattr(os, "replace", failing_replace)
    monkeypatch.undo()
    assert first.read_text() == "old a" and second.read_text() == "old b"
    assert tree(tmp_path) == ["a.txt", "b.txt"]


def test_temp_files_of_a_killed_run_are_cleaned_and_live_ones_kept(tmp_path):
    code = (
        "import os, signal, sys\n"
        "from MLNNetLib.outputs import OutputPlan\n"
        "from MLNNetLib.atomic import atomic_path\n"
        "plan = OutputPlan()\n"
        f"plan.file({str(tmp_path / 'mask.nrrd')!r})\n"
        "with plan:\n"
        f"    with atomic_path({str(tmp_path / 'mask.nrrd')!r}) as tmp:\n"
        "        tmp.write_bytes(b'half a mask')\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and is_temp_name(left[0]) and left[0].startswith(".mask.nrrd.")  # never the final name
    with atomic_path(tmp_path / "live.txt") as mine:  # a temp of a running process (this one) is not stale
        assert clean_stale_temps(tmp_path) == [tmp_path / left[0]]
        assert mine.exists()
    plan = OutputPlan()
    plan.file(tmp_path / "mask.nrrd")
    plan.validate()  # would also have removed it
    assert tree(tmp_path) == ["live.txt"]


def test_atomic_path_outside_a_plan_still_writes_at_once_and_refuses_to_clobber(tmp_path):
    with atomic_path(tmp_path / "f.txt") as tmp:
        assert is_temp_name(tmp.name) and tmp.name.endswith(".txt")
        tmp.write_text("x")
    assert (tmp_path / "f.txt").read_text() == "x"
    with pytest.raises(FileExistsError):
        write_text(tmp_path / "f.txt", "y")
    with pytest.raises(InputError, match="is a folder"):
        write_text(tmp_path, "y")


def test_a_writer_that_fails_half_way_is_not_committed_even_if_the_caller_carries_on(tmp_path):
    plan = OutputPlan()
    target = plan.file(tmp_path / "t.csv", "table")
    with plan:
        try:
            with atomic_path(target) as tmp:
                tmp.write_text("half a tab")
                raise ValueError("writer failed")
        except ValueError:
            pass  # e.g. a pipeline that reports one failed step and goes on
    assert tree(tmp_path) == []
