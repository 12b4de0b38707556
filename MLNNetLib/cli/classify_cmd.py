"""``mlnnet classify train|predict``: benign/malignant classifiers on image-level calcification features."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "Train or apply benign/malignant classifiers on calcification features."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    t = sub.add_parser("train", help="evaluate classifiers on held-out cases and save the first one")
    t.add_argument("--features", required=True, metavar="CSV", help="one row per case: features + label column")
    t.add_argument("--label-column", required=True, metavar="COL", help="column with the two classes")
    t.add_argument("--out", required=True, metavar="DIR", help="writes metrics.json, roc.png, feature_importance.png, model.skops")
    t.add_argument("--models", default="adaboost,dt,lr,svm,knn,rf,xgboost",
                   help="comma list from adaboost,dt,lr,svm,knn,rf,xgboost; the first is saved (xgboost only if installed)")
    group = t.add_mutually_exclusive_group()
    group.add_argument("--split", type=float, default=None, metavar="F", help="stratified held-out fraction (default 0.2, i.e. 4:1)")
    group.add_argument("--folds", type=int, default=None, metavar="K", help="stratified K-fold cross-validation instead")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--exclude", default="", metavar="COLS", help="comma list of numeric columns that are not features (ids)")
    t.add_argument("--positive", default=None, metavar="LABEL", help="label value of the positive (malignant) class")
    t.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for the AUC CI")
    t.add_argument("--overwrite", action="store_true")
    p = sub.add_parser("predict", help="apply a saved classifier to new rows")
    p.add_argument("--model", required=True, metavar="FILE", help="model.skops written by 'classify train'")
    p.add_argument("--features", required=True, metavar="CSV")
    p.add_argument("--out", default=None, metavar="CSV", help="write the rows with probability and prediction columns")
    p.add_argument("--overwrite", action="store_true")


def _plan(args: argparse.Namespace):
    """Outputs of the action, declared before any work: all written together at the end, or none."""
    from MLNNetLib.classify.training import OUTPUT_FILES
    from MLNNetLib.outputs import OutputPlan

    plan = OutputPlan(args.overwrite)
    plan.add_inputs(args.features, option="--features")
    if args.action == "train":
        plan.folder(args.out, option="--out")
        kinds = {".json": "json", ".png": "figure", ".skops": "classifier"}
        for name in OUTPUT_FILES:
            plan.file(Path(args.out) / name, kinds[Path(name).suffix], option="--out")
    else:
        plan.add_inputs(args.model, option="--model")
        if args.out:
            plan.file(args.out, "table", option="--out")
    return plan


def run(args: argparse.Namespace) -> int:
    with _plan(args):
        result = _run(args)
    print(json.dumps(result))  # only once every output is in place
    return 0


def _run(args: argparse.Namespace) -> dict:
    from MLNNetLib.classify import parse_model_list, predict_table, train_classifiers

    if args.action == "train":
        metrics = train_classifiers(
            args.features, args.label_column, args.out, parse_model_list(args.models),
            split=0.2 if args.split is None else args.split, folds=args.folds, seed=args.seed,
            exclude=[c.strip() for c in args.exclude.split(",") if c.strip()], positive=args.positive,
            n_boot=args.bootstrap, overwrite=args.overwrite,
        )
        return {"out": args.out, "models": metrics["models"], "saved_model": metrics["saved_model"]["name"]}
    results = predict_table(args.model, args.features, args.out, args.overwrite)
    return {"out": args.out, "rows": results} if args.out is None else {"out": args.out, "n": len(results)}
