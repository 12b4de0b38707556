"""Atomic, non-clobbering file writes: a crash never leaves half a file, a user's file is never lost.

Every writer in MLNNetLib goes through ``atomic_path``. When an ``MLNNetLib.outputs.OutputPlan`` is active
and declares the path, the file is staged there and renamed with the plan's other outputs at the end of the
run; otherwise it is renamed into place as soon as the block succeeds. Temp files carry the recognisable
name of ``MLNNetLib.outputs.temp_path`` so that a killed run's leftovers can be cleaned later.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from MLNNetLib import outputs


def _umask_mode() -> int:
    """The mode a normal ``open(..., "w")`` would give (our temp files are created 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_MODE = _umask_mode()


def file_mode() -> int:
    return _MODE


def check_writable(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to replace an existing file unless the caller asked for it. Creates nothing (folders are made
    when the file is written, so a refused or failed run leaves no empty folder behind)."""
    path = Path(path)
    plan = outputs.active_plan()
    if plan is not None and plan.declares(path):
        return path  # the plan validated it (and its own --overwrite) before the run started
    if path.is_dir():
        raise outputs.OutputError(path, "is a folder; a file name is needed")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; not overwriting it (pass --overwrite to replace it)")
    return path


def make_folder(folder: str | os.PathLike) -> Path:
    """``mkdir -p`` that tells the active plan which folders it created (removed again if the run fails)."""
    folder = Path(folder)
    plan = outputs.active_plan()
    if plan is not None:
        plan.created_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds.

    The temporary name keeps the real suffix so that writers choosing a format by extension
    (SimpleITK, matplotlib) still pick the right one.
    """
    plan = outputs.active_plan()
    if plan is not None and plan.declares(path):
        staged = plan.stage(path)  # renamed with the plan's other outputs when the run succeeds
        try:
            yield staged
        except BaseException:
            plan.discard(path)  # a writer that failed half way must not be committed later
            raise
        return
    path = check_writable(path, overwrite)
    make_folder(path.parent)
    tmp_path = outputs.new_temp(path)
    try:
        yield tmp_path
        if not overwrite and path.exists():
            raise FileExistsError(f"{path}: appeared while writing; not overwriting it")
        os.chmod(tmp_path, _MODE)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str, overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)
