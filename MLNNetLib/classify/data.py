"""Reading a features CSV (one row per case, numeric features + a label column) into X, y."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)

POSITIVE_NAMES = ("malignant", "m", "1", "1.0", "true", "yes", "positive")


@dataclass
class FeatureTable:
    header: list[str]
    rows: list[list[str]]
    path: str

    def column(self, name: str) -> list[str]:
        if name not in self.header:
            raise InputError(self.path, f"no column {name!r}; columns are {self.header}")
        i = self.header.index(name)
        return [r[i] for r in self.rows]

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """Float matrix of the named columns; a missing or non-numeric cell is an error naming row and column."""
        out = np.empty((len(self.rows), len(names)), dtype=np.float64)
        for j, name in enumerate(names):
            for i, cell in enumerate(self.column(name)):
                try:
                    value = float(cell)
                except ValueError:
                    raise InputError(self.path, f"row {i + 2}, column {name!r}: {cell!r} is not a number") from None
                if not math.isfinite(value):
                    raise InputError(self.path, f"row {i + 2}, column {name!r}: missing or infinite value")
                out[i, j] = value
        return out


def read_table(path: str | os.PathLike) -> FeatureTable:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "features CSV not found")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if len(rows) < 2:
        raise InputError(path, "features CSV needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    body = [[c.strip() for c in r] for r in rows[1:]]
    bad = next((i for i, r in enumerate(body) if len(r) != len(header)), None)
    if bad is not None:
        raise InputError(path, f"row {bad + 2} has {len(body[bad])} cells, header has {len(header)}")
    return FeatureTable(header, body, path)


def _parses(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def numeric_columns(table: FeatureTable, exclude: Sequence[str] = ()) -> list[str]:
    """Feature columns: those with at least one numeric cell, minus ``exclude`` (the label, ids).

    A feature column with a blank or text cell is refused, naming the column and the cells: dropping the
    whole column for one bad cell changed the model without a word (AUC 0.688 -> 0.562 on one table).
    Columns without any number (ids, names) are not features; they are logged.
    """
    names, skipped = [], []
    for name in table.header:
        if name in exclude:
            continue
        cells = table.column(name)
        bad = [(i + 2, c) for i, c in enumerate(cells) if not _parses(c)]
        if len(bad) == len(cells):
            skipped.append(name)
            continue
        if bad:
            shown = ", ".join(f"row {r} {'is blank' if not c else f'is {c!r}'}" for r, c in bad[:3])
            more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
            raise InputError(table.path, f"column {name!r} is numeric but {shown}{more}: not a number; fill in the "
                                         f"value(s) or leave the column out with --exclude {name}")
        names.append(name)
    if skipped:
        log.info("%s: column(s) without numbers not used as features: %s", table.path, skipped)
    return names


def encode_labels(values: Sequence[str], path: str, positive: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Binary labels: returns y (1 = positive) and [negative, positive] class names.

    The positive class is ``positive`` when given, else the value that reads as malignant/1/true, else the
    second of the two sorted values.
    """
    classes = sorted(set(values))
    if len(classes) != 2:
        raise InputError(path, f"label column needs exactly 2 classes, found {len(classes)}: {classes[:5]}")
    if positive is None:
        named = [c for c in classes if c.lower() in POSITIVE_NAMES]
        positive = named[0] if len(named) == 1 else classes[1]
    if positive not in classes:
        raise InputError(path, f"positive class {positive!r} is not one of {classes}")
    negative = classes[0] if classes[1] == positive else classes[1]
    y = np.array([1 if v == positive else 0 for v in values], dtype=np.int64)
    return y, [negative, positive]
