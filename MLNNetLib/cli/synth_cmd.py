"""``mlnnet synth``: write a labelled synthetic dataset of one scanner style (or all of them), or the sheet of
every style on the same two cases (``--sheet``, the README's docs/images/synthetic_domains.png)."""

from __future__ import annotations

import argparse
import json
import time

from MLNNetLib.cli.args import positive_int

HELP = "Generate labelled synthetic mammograms of one scanner-like domain."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from MLNNetLib.synth import DEFAULT_SHAPE, DEFAULT_SPACING_MM, DOMAINS

    parser.add_argument("--domain", choices=[*DOMAINS, "all"],
                        help="scanner style; 'all' writes one sub-folder per style with the same cases")
    parser.add_argument("--count", type=positive_int, help="number of cases")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (same seed = same cases in every domain)")
    parser.add_argument("--out", help="output folder (images/, masks/, manifest.json, contact_sheet.png)")
    parser.add_argument("--sheet", metavar="PNG",
                        help="instead of a dataset, write one PNG with every style on the same two cases")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"), default=list(DEFAULT_SHAPE),
                        help=f"image rows and columns of the scene (default {DEFAULT_SHAPE[0]} {DEFAULT_SHAPE[1]})")
    parser.add_argument("--spacing", type=float, default=DEFAULT_SPACING_MM,
                        help="scene pixel spacing in mm (default 0.1); styles with their own detector pitch use it")
    parser.add_argument("--case-label", choices=["benign", "malignant", "mixed"], default="mixed",
                        help="calcification morphology mix; 'mixed' draws benign or malignant per case")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.errors import InputError
    from MLNNetLib.outputs import OutputPlan
    from MLNNetLib.progress import TqdmProgress
    from MLNNetLib.synth import DOMAINS, write_datasets
    from MLNNetLib.synth.memory import check_synth_memory

    start = time.perf_counter()
    if args.sheet:
        from MLNNetLib.synth.style_sheet import write_domain_sheet

        domains = None if args.domain in (None, "all") else [args.domain]
        sheet_plan = OutputPlan(args.overwrite)
        sheet_plan.file(args.sheet, "figure", option="--sheet")
        with sheet_plan:  # checked before the rendering, written atomically
            path = write_domain_sheet(args.sheet, args.seed, domains, tuple(args.shape), args.spacing, args.overwrite,
                                      TqdmProgress("sheet"))
        print(json.dumps({"sheet": str(path), "seed": args.seed, "seconds": round(time.perf_counter() - start, 2)}))
        return 0
    missing = [f"--{n}" for n in ("domain", "count", "out") if getattr(args, n) is None]
    if missing:
        raise InputError(None, f"synth needs {', '.join(missing)} (or --sheet PNG)")
    domains = list(DOMAINS) if args.domain == "all" else [args.domain]
    check_synth_memory(tuple(args.shape), len(domains), args.count)  # before any folder exists
    plan = OutputPlan(args.overwrite)
    plan.folder(args.out, option="--out")
    with plan:  # --out checked writable first; removed again if a failed run left it empty
        manifests = write_datasets(domains, args.count, args.seed, args.out, tuple(args.shape), args.spacing,
                                   None if args.case_label == "mixed" else args.case_label, args.overwrite,
                                   TqdmProgress("synth"), subfolders=args.domain == "all")
    result = {"out": str(args.out), "count": args.count, "seed": args.seed, "shape": list(args.shape),
              "spacing_mm": args.spacing, "case_label": args.case_label,
              "manifests": {k: str(v) for k, v in manifests.items()},
              "seconds": round(time.perf_counter() - start, 2)}
    print(json.dumps(result))
    return 0
