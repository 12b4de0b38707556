"""PGM (netpbm gray map, P2 ASCII / P5 binary, 8 or 16 bit): SimpleITK has no reader for it."""

from __future__ import annotations

import os
import re

import numpy as np

from MLNNetLib.errors import InputError

_TOKEN = re.compile(rb"\s*(?:#[^\n]*\n\s*)*(\S+)")


def read_pgm(path: str | os.PathLike) -> np.ndarray:
    """Pixels of a PGM file as uint8/uint16 (rows, cols); 16-bit samples are big-endian per the spec."""
    data = open(path, "rb").read()
    pos, fields = 0, []
    for _ in range(4):  # magic, width, height, maxval
        m = _TOKEN.match(data, pos)
        if not m:
            raise InputError(path, "truncated PGM header")
        fields.append(m.group(1))
        pos = m.end()
    magic = fields[0]
    if magic not in (b"P2", b"P5"):
        raise InputError(path, f"not a grayscale PGM file (magic {magic[:2]!r}; P2 or P5 expected)")
    try:
        width, height, maxval = (int(f) for f in fields[1:])
    except ValueError as exc:
        raise InputError(path, "malformed PGM header") from exc
    if not (0 < maxval < 65536) or width < 0 or height < 0:
        raise InputError(path, f"malformed PGM header (width {width}, height {height}, maxval {maxval})")
    dtype = np.uint8 if maxval < 256 else np.dtype(">u2")
    count = width * height
    if magic == b"P5":
        raw = data[pos + 1 : pos + 1 + count * np.dtype(dtype).itemsize]  # one whitespace byte ends the header
        if len(raw) < count * np.dtype(dtype).itemsize:
            raise InputError(path, "PGM pixel data is shorter than width x height")
        values = np.frombuffer(raw, dtype=dtype)
    else:
        try:
            values = np.array(data[pos:].split()[:count], dtype=np.int64)
        except ValueError as exc:
            raise InputError(path, "PGM (P2) pixel data holds non-numbers") from exc
        if values.size < count:
            raise InputError(path, "PGM pixel data is shorter than width x height")
    out_dtype = np.uint8 if maxval < 256 else np.uint16
    return values.astype(out_dtype).reshape(height, width)
