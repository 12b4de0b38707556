"""``mlnnet ablation``: the paper's Table 3 on synthetic source/target domains."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Reproduce the paper's ablation (Basenet ... MLN-net+) on synthetic domains."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--quick", action="store_true", help="the 2-core CPU profile (about 20 minutes)")
    p.add_argument("--source-domain", default="ffdm")
    p.add_argument("--targets", nargs="*", help="target domains (default: every other synthetic domain)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.experiments.ablation import run_ablation
    from MLNNetLib.outputs import OutputPlan

    plan = OutputPlan(overwrite=True)  # reruns reuse and refresh the folder's files
    plan.folder(args.out, option="--out")
    with plan:  # --out checked writable before the long run; removed again if a failed run left it empty
        result = run_ablation(Path(args.out), "quick" if args.quick else "full", args.source_domain, args.targets, args.seed, args.device)
    print(result.table)
    print(f"\nreport: {Path(args.out) / 'ablation.md'}")
    return 0
