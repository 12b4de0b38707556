"""``mlnnet demo``: the README's main job on embedded synthetic data."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Synthesise data, train MLN-net and Basenet, segment unseen domains, write runs/demo/report.md."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    p.add_argument("--profile", default="quick", choices=["quick", "full"], help="quick: 2-core CPU; full: GPU")
    p.add_argument("--source-domain", default="ffdm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--arch", default="swin_unet", choices=["swin_unet", "pro_unext"],
                   help="network: swin_unet (MLN-net vs Basenet) or pro_unext (Pro_UNeXt-MLN vs Pro_UNeXt)")


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.experiments.demo import run_demo
    from MLNNetLib.outputs import OutputPlan

    plan = OutputPlan(overwrite=True)  # reruns reuse and refresh the folder's files
    plan.folder(args.out, option="--out")
    with plan:  # --out checked writable before the long run; removed again if a failed run left it empty
        result = run_demo(Path(args.out), args.profile, args.source_domain, args.seed, args.device, args.arch)
    print(result.table)
    print(f"\nreport: {Path(args.out) / 'report.md'}")
    return 0
