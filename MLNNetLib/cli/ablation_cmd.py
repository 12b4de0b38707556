"""``mlnnet ablation``: the paper's Table 3 on synthetic source/target domains."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "The generalisation benchmark: the paper's ablation, the baselines and our selections on every synthetic style."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--profile", choices=["quick", "full"], help="quick: the 2-core CPU profile (about 25 minutes on 2 idle cores); "
                   "full: every style at full size with leave-one-style-out (a GPU). Default: full")
    p.add_argument("--quick", action="store_true", help="same as --profile quick")
    p.add_argument("--rows", choices=["quick", "all"], help="quick: the default, the paper's MLN-net and the baselines; "
                   "all: every ablation row (Basenet-S, every selection, Pro_UNeXt variants). Default: quick for "
                   "--profile quick, all for full; a second run into the same --out reuses data and models")
    p.add_argument("--source-domain", default="ffdm")
    p.add_argument("--targets", nargs="*", help="target domains (default: every other synthetic domain)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.experiments.ablation import run_ablation
    from MLNNetLib.outputs import OutputPlan

    from MLNNetLib.experiments.reports import dice_table

    profile = args.profile or ("quick" if args.quick else "full")
    plan = OutputPlan(overwrite=True)  # reruns reuse and refresh the folder's files
    plan.folder(args.out, option="--out")
    with plan:  # --out checked writable before the long run; removed again if a failed run left it empty
        result = run_ablation(Path(args.out), profile, args.source_domain, args.targets, args.seed, args.device, args.rows)
    print(dice_table(result))
    print(f"\nreport: {Path(args.out) / 'ablation.md'}")
    return 0
