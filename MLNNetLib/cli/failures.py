"""The command line's single error boundary: every failure becomes one named line, never a traceback.

``explain(exc)`` turns an exception into (exit code, message). Bad input and environment problems (files,
permissions, full disks, memory, weights that do not fit a model) exit with 2 and say which file, what is
wrong and what to do; a cancelled run exits 130; anything else is a bug in MLNNet and exits 1 with a
short note. ``mlnnet --debug ...`` (or ``-vv``, or MLNNET_DEBUG=1) prints the traceback as well.
"""

from __future__ import annotations

import errno
import os

from MLNNetLib.errors import Cancelled, InputError

EXIT_INPUT = 2
EXIT_BUG = 1
EXIT_CANCELLED = 130
DEBUG_HINT = "rerun with --debug to see the traceback"

_OS_ADVICE = {
    errno.EACCES: ("permission denied", "choose another location or fix the permissions"),
    errno.EPERM: ("operation not permitted", "choose another location or fix the permissions"),
    errno.EROFS: ("read-only file system", "choose a writable folder"),
    errno.ENOSPC: ("no space left on the device", "free some space or choose another folder"),
    getattr(errno, "EDQUOT", -1): ("disk quota exceeded", "free some space or choose another folder"),
    errno.ENOENT: ("no such file or folder", "check the path"),
    errno.EISDIR: ("is a folder", "give a file name"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.ENAMETOOLONG: ("file name too long", "choose a shorter path"),
    errno.EMFILE: ("too many open files", "raise the open-file limit (ulimit -n) or process fewer files at once"),
    errno.EIO: ("input/output error", "check the disk or network share"),
}


def _os_message(exc: OSError) -> str:
    if isinstance(exc, FileExistsError) and exc.filename is None:
        return str(exc)  # our own "already exists; pass --overwrite" messages
    name = exc.filename if exc.filename is not None else None
    if name is not None and exc.filename2 is not None:
        name = f"{exc.filename} -> {exc.filename2}"
    problem, advice = _OS_ADVICE.get(exc.errno, (exc.strerror or str(exc) or type(exc).__name__, None))
    text = f"{name}: {problem}" if name is not None else problem
    return f"{text}; {advice}" if advice else text


def _is_state_dict_mismatch(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("Error(s) in loading state_dict" in text or "size mismatch for" in text)


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return isinstance(exc, RuntimeError) and ("OutOfMemoryError" in name or "out of memory" in str(exc).lower())


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def explain(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message without the leading 'error: ')."""
    if isinstance(exc, (Cancelled, KeyboardInterrupt)):
        return EXIT_CANCELLED, "cancelled" if isinstance(exc, Cancelled) else "interrupted"
    if isinstance(exc, InputError):
        return EXIT_INPUT, str(exc)
    if isinstance(exc, OSError):
        return EXIT_INPUT, _os_message(exc)
    if _is_out_of_memory(exc):
        detail = _first_line(exc)
        return EXIT_INPUT, (f"not enough memory ({detail}); use a smaller image or --roi, a smaller --batch-size or "
                            "--tile, or a machine with more memory" if detail != type(exc).__name__ else
                            "not enough memory; use a smaller image or --roi, a smaller --batch-size or --tile, or a "
                            "machine with more memory")
    if _is_state_dict_mismatch(exc):
        return EXIT_INPUT, (f"the saved weights do not fit the requested model ({_first_line(exc, 200)}); use the "
                            "--config, --arch and --num-domains the checkpoint was trained with")
    if isinstance(exc, ValueError):
        return EXIT_INPUT, f"invalid value: {_first_line(exc)} ({DEBUG_HINT} if this does not say what to change)"
    return EXIT_BUG, (f"internal error ({type(exc).__name__}: {_first_line(exc, 200)}); this is a bug in MLNNet, "
                      f"please report it; {DEBUG_HINT}")


def debug_requested(args_debug: bool, verbosity: int) -> bool:
    return bool(args_debug) or verbosity >= 2 or os.environ.get("MLNNET_DEBUG", "") not in ("", "0")
