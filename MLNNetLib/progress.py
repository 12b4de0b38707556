"""Progress reporting and cancellation shared by the command line (tqdm), parent processes and Slicer.

Long-running library functions take an optional ``Progress``; they call ``progress.step(...)`` which
reports and raises :class:`MLNNetLib.errors.Cancelled` once ``cancel()`` has been called (from any thread).

The command line reports through :class:`TqdmProgress`. A program that runs ``python -m MLNNetLib ...`` as a
child process (the Slicer module does, so that the GUI never waits on a computation) sets the environment
variable ``MLNNET_PROGRESS=json``: every step is then one JSON object per line on stderr, which
:func:`parse_progress_line` turns back into a :class:`ProgressEvent`. Log lines on the same stream are plain
text and never parse as events.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from MLNNetLib.errors import Cancelled

Callback = Callable[[int, int, str], None]

PROGRESS_ENV = "MLNNET_PROGRESS"  # "bar" (default: tqdm), "json" (JSON lines on stderr) or "none"
PROGRESS_MODES = ("bar", "json", "none")
EVENT_KEY = "mlnnet"  # every JSON progress line carries {"mlnnet": "progress", ...}
EVENT_KIND = "progress"


class Progress:
    def __init__(self, callback: Callback | None = None):
        self._callback = callback
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled by the user")

    def step(self, done: int, total: int, message: str = "") -> None:
        self.check()
        if self._callback is not None:
            self._callback(done, total, message)


@dataclass(frozen=True)
class ProgressEvent:
    """One step as a parent process sees it: ``done`` of ``total`` (total 0 = not known yet)."""

    task: str
    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float | None:
        return None if self.total <= 0 else min(max(self.done / self.total, 0.0), 1.0)

    def to_line(self) -> str:
        record = {EVENT_KEY: EVENT_KIND, "task": self.task, "done": self.done, "total": self.total, "message": self.message}
        return json.dumps(record, ensure_ascii=True)


def parse_progress_line(line: str) -> ProgressEvent | None:
    """The event a JSON progress line holds, or None for any other line (logs, tracebacks, partial output)."""
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get(EVENT_KEY) != EVENT_KIND:
        return None
    try:
        return ProgressEvent(str(record.get("task", "")), int(record["done"]), int(record["total"]), str(record.get("message", "")))
    except (KeyError, TypeError, ValueError):
        return None


def progress_mode(environ: dict[str, str] | None = None) -> str:
    """The reporting mode chosen by ``MLNNET_PROGRESS``; unknown values fall back to the bar (and say so once)."""
    value = (os.environ if environ is None else environ).get(PROGRESS_ENV, "bar").strip().lower() or "bar"
    if value not in PROGRESS_MODES:
        print(f"warning: {PROGRESS_ENV}={value!r} is not one of {', '.join(PROGRESS_MODES)}; using 'bar'", file=sys.stderr)
        return "bar"
    return value


class JsonLinesProgress(Progress):
    """Progress written as JSON lines (one flush per step), for a parent process to parse."""

    def __init__(self, task: str, stream: TextIO | None = None):
        super().__init__(self.emit)
        self._task = task
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, done: int, total: int, message: str = "") -> None:
        """Write one event line now (no cancel check: that belongs to ``step``)."""
        stream = self._stream if self._stream is not None else sys.stderr
        with self._lock:
            stream.write(ProgressEvent(self._task, int(done), int(total), message).to_line() + "\n")
            stream.flush()


class TqdmProgress(Progress):
    """Progress of a command-line run: a tqdm bar, or JSON lines when ``MLNNET_PROGRESS=json``."""

    def __init__(self, desc: str, disable: bool | None = None):
        super().__init__(self._update)
        self._desc = desc
        self._disable = disable
        self._bar = None
        mode = progress_mode()
        self._json = JsonLinesProgress(desc) if mode == "json" and disable is not True else None
        if mode == "none":
            self._disable = True

    def _update(self, done: int, total: int, message: str) -> None:
        if self._json is not None:
            self._json.emit(done, total, message)
            return
        from tqdm import tqdm

        if self._bar is None or self._bar.total != total:
            if self._bar is not None:
                self._bar.close()
            self._bar = tqdm(total=total, desc=self._desc, disable=self._disable, leave=False)
        self._bar.n = done
        if message:
            self._bar.set_postfix_str(message, refresh=False)
        self._bar.refresh()
        if done >= total:
            self._bar.close()
            self._bar = None


def ensure(progress: Progress | None) -> Progress:
    return progress if progress is not None else Progress()
