"""Atomic writes never lose a user's file and never leave half a file behind."""

from __future__ import annotations

import os
import stat

import pytest

from MLNNetLib.atomic import atomic_path, write_text


def test_refuses_to_overwrite_and_keeps_the_original(tmp_path):
    target = tmp_path / "mask.nrrd"
    target.write_text("user data")
    with pytest.raises(FileExistsError, match="mask.nrrd.*--overwrite"):
        write_text(target, "new")
    assert target.read_text() == "user data"
    write_text(target, "new", overwrite=True)
    assert target.read_text() == "new"


def test_failure_inside_the_block_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("crash while writing")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_temporary_name_keeps_the_suffix_and_final_mode_follows_umask(tmp_path):
    target = tmp_path / "image.seg.nrrd"
    with atomic_path(target) as tmp:
        assert tmp.name.endswith(".seg.nrrd") and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
