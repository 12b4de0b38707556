"""The synthetic generator's memory estimate (issue 13 item 18) stays above what the generator really uses."""

from __future__ import annotations

import tracemalloc

from MLNNetLib.synth import write_datasets
from MLNNetLib.synth.memory import synth_memory_bytes

DOMAINS, COUNT = ["ffdm", "mono1"], 3


def _peak(folder, shape) -> int:
    tracemalloc.start()
    try:
        write_datasets(DOMAINS, COUNT, 0, folder, shape, 0.1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_estimate_per_pixel_is_above_the_measured_growth(tmp_path):
    # measured here: 147 B/px (one domain, 2 cases) and 189 B/px (two domains, 3 cases); estimated 232 and 296
    write_datasets(DOMAINS, 1, 0, tmp_path / "warm", (256, 256), 0.1)  # imports and caches outside the measurement
    small, large = (256, 256), (512, 512)
    grown = _peak(tmp_path / "large", large) - _peak(tmp_path / "small", small)
    estimated = synth_memory_bytes(large, len(DOMAINS), COUNT) - synth_memory_bytes(small, len(DOMAINS), COUNT)
    assert grown > 0 and estimated >= grown, (grown, estimated)
    assert estimated <= 3 * grown  # and not so loose that reasonable sizes would be refused
