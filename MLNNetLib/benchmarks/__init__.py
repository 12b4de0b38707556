"""Named benchmarks for ``mlnnet benchmark NAME``.

Each module listed in BENCHMARKS defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> dict``; the dict must hold ``ratio`` (a speed or quality ratio), ``target`` (what the
ratio should reach, in words) and ``meets_target`` (bool). Modules are imported only when they run.
"""

from __future__ import annotations

BENCHMARKS: dict[str, str] = {
    "metrics": "MLNNetLib.benchmarks.metrics_bench",
    "pro_unext-speed": "MLNNetLib.benchmarks.pro_unext_bench",
    "selection": "MLNNetLib.benchmarks.selection_bench",
    "train-step": "MLNNetLib.benchmarks.train_step_bench",
    "memory": "MLNNetLib.benchmarks.memory_bench",
    "train-data": "MLNNetLib.benchmarks.train_data_bench",
}

REQUIRED_KEYS = ("ratio", "target", "meets_target")
