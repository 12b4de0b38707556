"""Exceptions that tell the user which file is wrong and why."""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad user input: the message always names the file (when there is one) and the problem."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def __reduce__(self):  # rebuilt from (path, problem): it crosses process boundaries (the study's workers)
        return type(self), (self.path, self.problem)


class Cancelled(RuntimeError):
    """Raised from a long operation when the user asked to stop it."""
