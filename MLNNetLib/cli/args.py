"""argparse value types that refuse impossible numbers while parsing (exit 2, usage, no traceback).

``--default-spacing 0`` or ``--size 0`` used to reach numpy/scipy and end in a ValueError traceback; a typed
option names itself and the rule instead: ``argument --size: must be >= 32, got 0``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{'an integer' if kind is int else 'a number'} is needed, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"a finite number is needed, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A float > 0 (spacings in mm, sizes)."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return float(value)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An integer >= ``minimum``."""

    def parse(text: str) -> int:
        value = _number(text, int)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return int(value)

    parse.__name__ = f"integer >= {minimum}"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def fraction(low_inclusive: float = 0.0, high_exclusive: float = 1.0) -> Callable[[str], float]:
    """A float in [low, high)."""

    def parse(text: str) -> float:
        value = _number(text, float)
        if not low_inclusive <= value < high_exclusive:
            raise argparse.ArgumentTypeError(f"must be in [{low_inclusive:g}, {high_exclusive:g}), got {text}")
        return float(value)

    parse.__name__ = f"number in [{low_inclusive:g}, {high_exclusive:g})"
    return parse
