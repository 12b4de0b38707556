"""Output plans: a run declares every file it will write before it does any work, then commits them together.

Why: a command that checks its outputs only when it writes them wastes the whole computation and leaves
half a result behind (a mask without its summary, an empty run folder, a table written over its own input).
An ``OutputPlan`` makes the rules hold for every command:

- declared up front: ``plan.file(path, kind)``, ``plan.image(path, dtype)``, ``plan.folder(path)``;
- validated before any work (``validate()``, also done by ``with plan:``): the folder is really writable
  (a probe file is created and removed, so read-only mounts, immutable folders and permissions all count),
  the extension can hold the data (no float image in a PNG, no CSV in ``.nrrd``), no output is an input or
  another output (even with ``--overwrite``), existing files are refused unless ``overwrite``;
- staged: while the plan is active (``with plan:``), ``MLNNetLib.atomic.atomic_path`` writes every declared
  file to a temp file beside it, so the existing writers (``write_image``, ``write_text``, ``write_table``,
  ``save_checkpoint``, figures...) join the plan without a new argument;
- committed together when the block ends without an error (files that existed are restored if a rename
  fails half way); on any error (or Ctrl-C) the temp files are removed and so is every folder the run
  created that is still empty.

Temp files are hidden and recognisable: ``.<name>.<host>-<pid>-<token>.mlnnet-tmp<suffixes>``. One left by
a killed run (``kill -9``) is removed by the next plan that validates in that folder, once its process is
gone (or after a day when it came from another host).
"""

from __future__ import annotations

import contextvars
import errno
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)

TEMP_MARK = ".mlnnet-tmp"
STALE_AGE_S = 24 * 3600  # temp files from another host are removed only after a day
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]
_TEMP_RE = re.compile(r"^\.(?P<target>.+)\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})"
                      + re.escape(TEMP_MARK) + r"(?P<suffix>(?:\.[^.]*)*)$")

# kind -> suffixes a file of that kind may have (None = any); images are checked by MLNNetLib.io.formats
KIND_SUFFIXES: dict[str, tuple[str, ...] | None] = {
    "table": (".csv", ".tsv", ".txt"),
    "json": (".json",),
    "figure": (".png", ".pdf", ".svg"),
    "checkpoint": (".safetensors",),
    "classifier": (".skops",),
    "markdown": (".md", ".txt"),
    "dicom": (".dcm",),  # e.g. a DICOM SEG
    "file": None,
}
KIND_WORDS = {"table": "a CSV table", "json": "JSON", "figure": "a figure", "checkpoint": "a checkpoint",
              "classifier": "a classifier", "markdown": "a Markdown report", "dicom": "a DICOM file"}


class OutputError(InputError):
    """An output that cannot be written as asked: names the file, the problem and what to do."""


# --------------------------------------------------------------------------------------------- temp files

def temp_path(path: str | os.PathLike) -> Path:
    """A fresh, recognisable temp name beside ``path`` that keeps its suffixes (writers choose formats by them)."""
    path = Path(path)
    suffix = "".join(path.suffixes)  # all of them: Slicer picks its writer by ".seg.nrrd", ITK by ".nii.gz"
    name = f".{path.name}.{_HOST}-{os.getpid()}-{secrets.token_hex(4)}{TEMP_MARK}{suffix}"
    return path.with_name(name)


def new_temp(path: str | os.PathLike) -> Path:
    """Create (exclusively, empty) and return a temp file for ``path``; its folder must exist."""
    while True:
        tmp = temp_path(path)
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def is_temp_name(name: str) -> bool:
    return _TEMP_RE.match(name) is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(path: Path) -> bool:
    """A temp file whose writer is gone (same host: its process has ended; other host: older than a day)."""
    m = _TEMP_RE.match(path.name)
    if m is None:
        return False
    pid = int(m["pid"])
    if m["host"] == _HOST:
        return pid != os.getpid() and not _pid_alive(pid)
    try:
        return time.time() - path.lstat().st_mtime > STALE_AGE_S
    except OSError:
        return False


def clean_stale_temps(folder: str | os.PathLike, depth: int = 0) -> list[Path]:
    """Remove temp files of killed runs in ``folder`` (and ``depth`` levels of sub-folders); returns them."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(".") and TEMP_MARK in entry.name and entry.is_file(follow_symlinks=False):
            path = Path(entry.path)
            if is_stale(path):
                try:
                    path.unlink()
                    removed.append(path)
                    log.info("removed %s, a temp file left by an earlier run that was killed", path)
                except OSError:
                    pass
        elif depth > 0 and entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            removed += clean_stale_temps(entry.path, depth - 1)
    return removed


# ------------------------------------------------------------------------------------------ folder checks

def nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest ancestor that exists."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def missing_folders(folder: Path) -> list[Path]:
    """The folders that ``mkdir(parents=True)`` would create for ``folder``, outermost first."""
    missing = []
    p = folder
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    return missing[::-1]


def probe_writable(folder: Path) -> str | None:
    """Why a file cannot be created in the existing ``folder`` (None when it can): creates and removes one."""
    if not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        tmp = new_temp(folder / "write-probe")
    except OSError as exc:
        return f"cannot create files in {folder} ({_reason(exc)})"
    try:
        tmp.unlink()
    except OSError:
        pass
    return None


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "no space left on the device"
    return exc.strerror or type(exc).__name__


def remove_empty_tree(top: Path) -> None:
    """Remove ``top`` and the folders under it, bottom-up, as far as they are empty (files are never removed)."""
    if not top.is_dir():
        return
    for root, _dirs, _files in os.walk(top, topdown=False):
        try:
            os.rmdir(root)
        except OSError:
            pass


def _real(path: Path) -> str:
    return os.path.realpath(os.path.abspath(path))


def _same_file(a: Path, b: Path) -> bool:
    if _real(a) == _real(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------- plan

@dataclass
class _Planned:
    path: Path
    kind: str
    option: str | None
    dtype: str | None = None
    ndim: int | None = None
    staged: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.option} {self.path}" if self.option else str(self.path)


_ACTIVE: contextvars.ContextVar["OutputPlan | None"] = contextvars.ContextVar("mlnnet_output_plan", default=None)


def active_plan() -> "OutputPlan | None":
    """The plan of the run in progress (set by ``with plan:``), or None."""
    return _ACTIVE.get()


class OutputPlan:
    """Every output of one run: declared, validated before the work, staged, committed together."""

    def __init__(self, overwrite: bool = False, inputs: Iterable[str | os.PathLike | None] = ()):
        self.overwrite = bool(overwrite)
        self._inputs: list[tuple[Path, str | None]] = []
        self._files: dict[str, _Planned] = {}
        self._folders: list[tuple[Path, str | None]] = []
        self._new_dirs: list[Path] = []
        self._validated = False
        self._token: contextvars.Token | None = None
        self.add_inputs(*inputs)

    # declaring ---------------------------------------------------------------------------------------
    def add_inputs(self, *paths: str | os.PathLike | None, option: str | None = None) -> None:
        """Files (or folders) the run reads: no output may be one of them."""
        self._inputs += [(Path(p), option) for p in paths if p is not None and str(p) != ""]

    def file(self, path: str | os.PathLike, kind: str = "file", option: str | None = None) -> Path:
        """Declare one output file of ``kind`` (a key of ``KIND_SUFFIXES``); returns its path."""
        if kind not in KIND_SUFFIXES:
            raise ValueError(f"unknown output kind {kind!r}")
        return self._add(_Planned(Path(path), kind, option))

    def image(self, path: str | os.PathLike, dtype: str, ndim: int | None = None, option: str | None = None) -> Path:
        """Declare an image output holding ``dtype`` pixels; a name without extension becomes ``.nrrd``
        (as ``write_image`` does), so the plan and the writer agree on the file."""
        from MLNNetLib.io.formats import image_output_path

        return self._add(_Planned(image_output_path(path), "image", option, str(dtype), ndim))

    def checkpoint(self, path: str | os.PathLike, option: str | None = None) -> Path:
        """A checkpoint is two files (weights + JSON header), committed together."""
        path = self.file(path, "checkpoint", option)
        self.file(path.with_suffix(".json"), "json", option)
        return path

    def folder(self, path: str | os.PathLike, option: str | None = None) -> Path:
        """A folder the run fills with files it does not declare one by one (datasets, run folders):
        checked writable up front, and removed again after a failure if the run created it and left it empty."""
        path = Path(path)
        self._folders.append((path, option))
        return path

    def _add(self, planned: _Planned) -> Path:
        if self._validated:
            raise RuntimeError("outputs must be declared before the plan is validated")
        key = _real(planned.path)
        if key in self._files:
            other = self._files[key]
            raise OutputError(planned.path, f"{planned.option or 'this output'} and {other.option or 'another output'} "
                                            "name the same file; give each output its own file name")
        self._files[key] = planned
        return planned.path

    def declares(self, path: str | os.PathLike) -> bool:
        return _real(Path(path)) in self._files

    @property
    def outputs(self) -> list[Path]:
        return [p.path for p in self._files.values()]

    # validating --------------------------------------------------------------------------------------
    def validate(self) -> "OutputPlan":
        """Check every declared output; raise before anything is created. Also removes stale temp files."""
        if self._validated:
            return self
        for planned in self._files.values():
            self._check_not_input(planned.path, planned.label)
            self._check_kind(planned)
            if planned.path.is_dir():
                raise OutputError(planned.path, f"{planned.label} is a folder; give a file name")
            if planned.path.exists() and not self.overwrite:
                raise FileExistsError(f"{planned.path}: already exists; not overwriting it (pass --overwrite to replace it)")
            self._check_folder(planned.path.parent, planned.path, planned.option)
        for folder, option in self._folders:
            label = f"{option} {folder}" if option else str(folder)
            self._check_not_input(folder, label)
            if folder.exists() and not folder.is_dir():
                raise OutputError(folder, f"{option + ' ' if option else ''}is a file; an output folder is needed")
            self._check_folder(folder, folder, option)
            clean_stale_temps(folder, depth=2)
        self._validated = True
        return self

    def check_image(self, path: str | os.PathLike, ndim: int) -> None:
        """Re-check a declared image once its dimension is known (e.g. after reading the input, before the
        model runs): a PNG cannot hold a DBT stack."""
        planned = self._files[_real(Path(path))]
        planned.ndim = int(ndim)
        self._check_kind(planned)

    def _check_kind(self, planned: _Planned) -> None:
        if planned.kind == "image":
            from MLNNetLib.io.formats import image_format_problem

            problem = image_format_problem(planned.path, planned.dtype, planned.ndim)
            if problem:
                raise OutputError(planned.path, f"{planned.option + ': ' if planned.option else ''}{problem}")
            return
        allowed = KIND_SUFFIXES[planned.kind]
        name = planned.path.name.lower()
        if allowed is not None and not name.endswith(allowed):
            raise OutputError(planned.path, f"{planned.option + ' ' if planned.option else ''}is {KIND_WORDS[planned.kind]}; "
                                            f"its file name must end in {' or '.join(allowed)}")

    def _check_not_input(self, path: Path, label: str) -> None:
        for source, option in self._inputs:
            if _same_file(path, source):
                given = f" ({option})" if option else ""
                raise OutputError(path, f"{label} is also an input{given}: writing it would destroy the input, "
                                        "even with --overwrite; choose another file name")

    def _check_folder(self, folder: Path, target: Path, option: str | None) -> None:
        given = f"{option}: " if option else ""
        existing = nearest_existing(folder)
        if not existing.is_dir():
            raise OutputError(target, f"{given}cannot create its folder: {existing} is a file")
        problem = probe_writable(existing)
        if problem:
            raise OutputError(target, f"{given}{problem}; choose a writable folder")
        new = missing_folders(folder)
        if new and new[0] not in self._new_dirs:
            self._new_dirs.append(new[0])
        if folder.is_dir():
            clean_stale_temps(folder)

    # staging and committing --------------------------------------------------------------------------
    def stage(self, path: str | os.PathLike) -> Path:
        """The temp file a writer should fill for the declared ``path`` (its folder is created now)."""
        planned = self._files[_real(Path(path))]
        self.discard(path)  # written twice: the later content wins
        planned.path.parent.mkdir(parents=True, exist_ok=True)
        planned.staged = new_temp(planned.path)
        return planned.staged

    def discard(self, path: str | os.PathLike) -> None:
        """Forget what was staged for ``path`` (its writer failed)."""
        planned = self._files[_real(Path(path))]
        if planned.staged is not None:
            planned.staged.unlink(missing_ok=True)
            planned.staged = None

    def commit(self) -> list[Path]:
        """Rename every staged file into place; on a failure, restore what was there and re-raise."""
        staged = [p for p in self._files.values() if p.staged is not None]
        if not self.overwrite:
            for p in staged:
                if p.path.exists():
                    raise FileExistsError(f"{p.path}: appeared while this run was working; not overwriting it")
        done: list[tuple[_Planned, Path | None]] = []
        pending: Path | None = None
        try:
            for p in staged:
                pending = None
                if p.path.exists():
                    pending = temp_path(p.path)
                    try:
                        os.link(p.path, pending)  # the old file stays in place until the atomic replace
                    except OSError:
                        pending = None  # no hard links here: the old file cannot be restored on a later failure
                os.chmod(p.staged, _file_mode())
                os.replace(p.staged, p.path)
                done.append((p, pending))
                pending = None
        except BaseException:
            for p, backup in reversed(done):
                try:
                    if backup is not None:
                        os.replace(backup, p.path)
                    else:
                        p.path.unlink()
                except OSError:
                    pass
            raise
        finally:
            for backup in [b for _, b in done] + [pending]:
                if backup is not None and backup.exists():
                    backup.unlink()
        for p in staged:
            p.staged = None
        log.debug("committed %d output file(s): %s", len(done), [str(p.path) for p, _ in done])
        return [p.path for p, _ in done]

    def abort(self) -> None:
        """Remove staged temp files and every folder this run created that is still empty."""
        for p in self._files.values():
            self.discard(p.path)
        for top in self._new_dirs:
            remove_empty_tree(top)

    def created_folder(self, folder: Path) -> None:
        """Record a folder some writer created during the run (``atomic_path`` does), so abort can remove it."""
        new = missing_folders(folder)
        if new and new[0] not in self._new_dirs:
            self._new_dirs.append(new[0])

    def __enter__(self) -> "OutputPlan":
        self.validate()
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self.commit()
                except BaseException:
                    self.abort()
                    raise
            else:
                self.abort()
        finally:
            if self._token is not None:
                _ACTIVE.reset(self._token)
                self._token = None


def _file_mode() -> int:
    from MLNNetLib.atomic import file_mode

    return file_mode()
