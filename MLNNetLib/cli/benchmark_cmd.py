"""``mlnnet benchmark NAME [options]``: run one registered benchmark, print one JSON line.

The benchmark's own options are parsed by the benchmark module (``mlnnet benchmark NAME --help``), so
only the chosen benchmark is imported.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math

from MLNNetLib.benchmarks import BENCHMARKS, REQUIRED_KEYS
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

HELP = "Run a named benchmark and print one JSON line with its figures and ratio."
log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="benchmark to run")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of that benchmark (NAME --help lists them)")


def _jsonable(value):
    """Floats that JSON cannot hold (inf, nan) become strings; everything else passes through."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(BENCHMARKS[args.name])
    sub = argparse.ArgumentParser(prog=f"mlnnet benchmark {args.name}", description=module.HELP)
    module.add_arguments(sub)
    bench_args = sub.parse_args(args.options)
    log.info("running benchmark %s with %s", args.name, vars(bench_args))
    result = module.run(bench_args)
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise InputError(None, f"benchmark {args.name} did not report {', '.join(missing)}")
    print(json.dumps(_jsonable({"benchmark": args.name, **result}), allow_nan=False))
    return 0
