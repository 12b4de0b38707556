"""One logger configuration for the CLI, train.py and Slicer: decisions are logged at INFO."""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "MLNNet"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (a test's capture, Slicer's console), not the stream that
    was current when logging was first configured: a stale stream turns each log call into a traceback."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def get_logger(name: str | None = None) -> logging.Logger:
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")


def configure(verbosity: int = 0) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    root = logging.getLogger(LOGGER_NAME)
    if not root.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
