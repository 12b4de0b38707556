"""All-or-nothing output for ``prepare``: labels are written into a hidden staging folder inside the output
folder and moved into place with the manifest only when the whole collection was read without error, so a
failed run leaves nothing behind (and never replaces a file without --overwrite)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def refuse_existing(paths: Iterable[Path], overwrite: bool) -> None:
    """FileExistsError for the first existing path (unless ``overwrite``); creates nothing."""
    if overwrite:
        return
    for p in paths:
        if p.exists():
            raise FileExistsError(f"{p}: already exists; not overwriting it (pass --overwrite to replace it)")


@contextlib.contextmanager
def staging_folder(out: Path) -> Iterator[Path]:
    """A fresh hidden folder inside ``out``; removed afterwards (with ``out`` itself if it was created here
    and stayed empty)."""
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".prepare-", dir=out))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and out.exists() and not any(out.iterdir()):
            out.rmdir()


def publish(stage: Path, out: Path, items: list[dict], overwrite: bool) -> None:
    """Move every staged file to the same relative place under ``out``; rewrite the items' label paths."""
    staged = sorted(p for p in stage.rglob("*") if p.is_file())
    refuse_existing((out / p.relative_to(stage) for p in staged), overwrite)
    for p in staged:
        target = out / p.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(p, target)
    prefix = str(stage)
    for item in items:
        if item.get("label") and str(item["label"]).startswith(prefix):
            item["label"] = str(out / Path(item["label"]).relative_to(stage))
