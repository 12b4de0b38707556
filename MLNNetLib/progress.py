"""Progress reporting and cancellation shared by the command line (tqdm) and Slicer (progress bar + Cancel).

Long-running library functions take an optional ``Progress``; they call ``progress.step(...)`` which
reports and raises :class:`MLNNetLib.errors.Cancelled` once ``cancel()`` has been called (from any thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from MLNNetLib.errors import Cancelled

Callback = Callable[[int, int, str], None]


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


class TqdmProgress(Progress):
    """Progress shown as a tqdm bar on the command line."""

    def __init__(self, desc: str, disable: bool | None = None):
        super().__init__(self._update)
        self._desc = desc
        self._disable = disable
        self._bar = None

    def _update(self, done: int, total: int, message: str) -> None:
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
