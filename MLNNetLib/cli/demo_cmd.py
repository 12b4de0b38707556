"""``mlnnet demo``: the README's main job on embedded synthetic data."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Synthesise data, train the default model, MLN-net and the baselines, score unseen styles, write runs/demo/report.md."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--profile", default="demo", choices=["demo", "quick", "full"],
                   help="demo: about half an hour on 2 CPU cores (default); quick: the benchmark's CPU profile; full: GPU")
    p.add_argument("--source-domain", default="ffdm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.experiments.demo import run_demo
    from MLNNetLib.outputs import OutputPlan

    from MLNNetLib.experiments.reports import dice_table

    plan = OutputPlan(overwrite=True)  # reruns reuse and refresh the folder's files
    plan.folder(args.out, option="--out")
    with plan:  # --out checked writable before the long run; removed again if a failed run left it empty
        result = run_demo(Path(args.out), args.profile, args.source_domain, args.seed, args.device)
    print(dice_table(result))
    print(f"\nreport: {Path(args.out) / 'report.md'}")
    return 0
