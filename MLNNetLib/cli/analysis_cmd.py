"""``mlnnet analysis --model CKPT --out DIR``: synth -> segment -> quantify -> classify on synthetic cases.

Needs a trained checkpoint (``make demo`` writes runs/demo/model.safetensors). Prints one JSON object
(folder, case count, mean Dice, AUC per classifier for predicted- and reference-mask features) on stdout.
"""

from __future__ import annotations

import argparse
import json

from MLNNetLib.errors import InputError

HELP = "End to end on synthetic benign/malignant cases: segment, quantify, classify; writes report.md."
NO_MODEL = ("a trained model is needed: pass --model CKPT (a .safetensors checkpoint with its .json header), "
            "e.g. runs/demo/model.safetensors written by `make demo` (or `python -m MLNNetLib demo`)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from MLNNetLib.experiments.malignancy import DEFAULT_MODELS, DEFAULT_SHAPE

    p.add_argument("--model", default=None, metavar="CKPT", help="trained checkpoint, e.g. runs/demo/model.safetensors")
    p.add_argument("--out", default="runs/analysis", metavar="DIR", help="output folder (default runs/analysis)")
    p.add_argument("--domains", nargs="+", default=["ffdm"], metavar="DOMAIN",
                   help="synthetic domains to make cases in (default ffdm; e.g. ffdm film dbt mono1)")
    p.add_argument("--cases", type=int, default=10, metavar="N", help="benign and malignant cases per domain (N each; default 10)")
    p.add_argument("--seed", type=int, default=0, help="analysis seed 0..9999 (case seeds never meet training seeds)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--folds", type=int, default=5, metavar="K", help="stratified K-fold cross-validation (default 5)")
    group.add_argument("--split", action="store_true", help="the seed's stratified 4:1 split instead of k-fold")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma list from adaboost,dt,lr,svm,knn,rf,xgboost")
    p.add_argument("--shape", type=int, nargs=2, default=list(DEFAULT_SHAPE), metavar=("ROWS", "COLS"),
                   help=f"synthetic image size (default {DEFAULT_SHAPE[0]} {DEFAULT_SHAPE[1]})")
    p.add_argument("--spacing", type=float, default=None, metavar="MM", help="pixel spacing (default: the model's training spacing)")
    p.add_argument("--selection", default="cosine", help="branch selection (default cosine = MLN-net)")
    p.add_argument("--threshold", type=float, default=0.5, help="foreground where probability > this (default 0.5)")
    p.add_argument("--overlays", type=int, default=4, metavar="N", help="overlay PNGs to write (first case of each domain/label)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for the AUC CI")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.checkpoint import header_path
    from MLNNetLib.experiments.malignancy import AnalysisConfig, run_analysis
    from MLNNetLib.outputs import OutputPlan
    from MLNNetLib.progress import TqdmProgress
    from MLNNetLib.synth.memory import check_synth_memory

    if not args.model:
        raise InputError(None, NO_MODEL)
    check_synth_memory(tuple(args.shape), 1, args.cases)
    plan = OutputPlan(args.overwrite, inputs=[args.model, header_path(args.model)])
    plan.folder(args.out, option="--out")
    cfg = AnalysisConfig(
        model=args.model, out=args.out, domains=list(args.domains), cases=args.cases, seed=args.seed,
        folds=None if args.split else args.folds, models=[m for m in args.models.split(",") if m.strip()],
        shape=tuple(args.shape), spacing_mm=args.spacing, selection=args.selection, threshold=args.threshold, device=args.device,
        overlays=args.overlays, n_boot=args.bootstrap, overwrite=args.overwrite,
    )
    with plan:  # --out checked writable first; removed again if a failed run left it empty
        summary = run_analysis(cfg, TqdmProgress("analysis", disable=True if args.no_progress else None))
    seg = summary["segmentation"]["all"]
    print(json.dumps({
        "out": args.out, "report": f"{args.out}/report.md", "cases": seg["cases"], "mean_dice": seg["mean_dice"],
        "auc": {w: {name: m["auc"] for name, m in models.items()} for w, models in summary["classifiers"].items()},
        "notes": summary["classifier_notes"],
    }))
    return 0
