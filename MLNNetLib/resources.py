"""How much memory this process may still use, and the up-front refusal of work that cannot fit.

Why: an impossible size (a DICOM header claiming 65535x65535 pixels, ``synth --shape 100000 100000``) used to
run for seconds or minutes and end in a numpy ``_ArrayMemoryError`` traceback or a silent kernel kill
(exit 137). Estimating first costs nothing and lets the message say the number.

The limit is the smaller of the machine's available memory (/proc/meminfo MemAvailable, else sysconf) and
what the cgroup (container) still allows; None when neither can be read (then no check is made).
"""

from __future__ import annotations

import os
from pathlib import Path

from MLNNetLib.errors import InputError

_CGROUP_FILES = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),  # v1
)


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    for limit_file, usage_file in _CGROUP_FILES:
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:
            return max(limit - usage, 0)
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None when unknown."""
    values = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    return min(values) if values else None


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def check_memory(need: float, what: str, path: str | os.PathLike | None, advice: str,
                 available: int | None = None) -> None:
    """Raise InputError when ``need`` bytes for ``what`` exceed the memory available (when that is known)."""
    free = available_memory() if available is None else available
    if free is not None and need > free:
        raise InputError(path, f"{what} needs about {format_bytes(need)} of memory, but only {format_bytes(free)} "
                               f"is available; {advice}")
