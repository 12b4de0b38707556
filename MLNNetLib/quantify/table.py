"""CSV tables written atomically (one header row, fixed column order) and read back as floats."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from MLNNetLib.atomic import write_text


def format_value(value: object) -> str:
    if isinstance(value, float):
        return repr(value) if value == value else "nan"
    return str(value)


def write_table(path: str | os.PathLike, rows: Sequence[dict], columns: Sequence[str], overwrite: bool = False) -> Path:
    """Write rows (dicts) as CSV with exactly ``columns``; never replaces a file unless ``overwrite``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(row[c]) for c in columns])
    return write_text(path, buf.getvalue(), overwrite=overwrite)
