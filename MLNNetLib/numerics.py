"""Process-wide float settings for the processes MLNNet owns (the CLI, train.py, Slicer's QProcess jobs).

Why: on x86 CPUs an operation on a denormal float (|x| < 1.2e-38) is many times slower than on a normal one.
A Swin-Unet's backward produces them once training has run a while (gradients of ~1e-14 reach the deepest
attention layers, and a quarter of those underflow): measured on 2 cores, a 20-epoch Basenet run slowed from
8 to 20 s per epoch after epoch 10, and one training step of its final weights took 0.59 s against 0.20 s with
denormals flushed to zero (the penalty is the CPU's: 1.06x for the same training on an AMD EPYC). Flushing
changes values below 1.2e-38 only; the trained weights came out bit-identical on both machines.

The flag is per thread and a thread pool copies it when it starts its threads, so it must be set before
PyTorch runs its first parallel operation: :func:`flush_denormals` is called first thing by the CLI. It is
not set on import, so a host process (Slicer's own Python, a notebook) keeps its float environment.

Not every library tolerates it: scipy 1.17's ``cKDTree.query`` crashes (SIGSEGV) on some point sets when the
calling thread flushes denormals, so code outside PyTorch that must see IEEE floats runs inside
:func:`ieee_denormals`, which restores them in the calling thread only (PyTorch's pool keeps flushing).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

_state = threading.local()  # .flushing: whether this thread was told to flush (torch has no getter)


def flush_denormals() -> bool:
    """Flush denormal floats to zero in this thread and every thread PyTorch starts later; False if the CPU
    cannot (then nothing changes)."""
    import torch

    _state.flushing = bool(torch.set_flush_denormal(True))
    return _state.flushing


def flushing_denormals() -> bool:
    """Whether :func:`flush_denormals` is in force in the calling thread."""
    return bool(getattr(_state, "flushing", False))


@contextmanager
def ieee_denormals() -> Iterator[None]:
    """Keep denormals in the calling thread for the block (a library that misbehaves when they are flushed),
    then flush again if the thread did before."""
    if not flushing_denormals():
        yield
        return
    import torch

    torch.set_flush_denormal(False)
    _state.flushing = False
    try:
        yield
    finally:
        _state.flushing = bool(torch.set_flush_denormal(True))
