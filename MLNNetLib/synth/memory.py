"""How much memory synthesising cases takes, so an impossible --shape is refused before anything is generated.

``synth --shape 100000 100000`` used to run for 43 s and be killed by the kernel (exit 137, no message,
empty folders left). The generator builds one scene at a time (anatomy layers, distractors, calcification
mask, renders; float64) and keeps up to ``SHEET_SAMPLES`` rendered cases per domain for the contact sheet.
Peaks measured with tracemalloc (``Testing/test_synth_memory.py`` keeps these figures above the measurement):
about 80-160 bytes per pixel for the scene and its renders, about 12 per kept case.
"""

from __future__ import annotations

import os

from MLNNetLib.resources import check_memory
from MLNNetLib.synth.dataset import SHEET_SAMPLES

SCENE_BYTES_PER_PIXEL = 200
KEPT_BYTES_PER_PIXEL = 16


def synth_memory_bytes(shape: tuple[int, int], domains: int, count: int) -> int:
    """Estimated peak bytes of ``write_datasets`` for ``count`` cases of ``shape`` in ``domains`` domains."""
    pixels = int(shape[0]) * int(shape[1])
    kept = max(1, int(domains)) * min(max(int(count), 1), SHEET_SAMPLES)
    return pixels * (SCENE_BYTES_PER_PIXEL + KEPT_BYTES_PER_PIXEL * kept)


def check_synth_memory(shape: tuple[int, int], domains: int, count: int, path: str | os.PathLike | None = None) -> None:
    """Refuse, with the number, a request whose cases cannot fit in the memory available."""
    need = synth_memory_bytes(shape, domains, count)
    check_memory(need, f"synthesising {shape[0]}x{shape[1]} px cases", path,
                 "use a smaller --shape (mammograms are about 3000x2400 px at 0.07-0.1 mm)")
