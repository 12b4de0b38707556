"""``mlnnet evaluate --pred P --ref R [--spacing ...]``: all metrics of one mask pair as one JSON object.

Spacing comes from the reference file's header (array order, mm) unless ``--spacing`` overrides it;
the prediction must have the reference's shape (and geometry, checked by the reader).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from MLNNetLib.cli.args import positive_float
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

HELP = "Compare a predicted mask with a reference mask (TPR, precision, DSC, HD, HD95, ASD, directed ASD, lesion and cluster detection)."
log = get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, help="predicted mask file (non-zero = calcification), or a folder of "
                                                      "<id>_calc.* predictions (from `segment --output DIR`)")
    parser.add_argument("--ref", help="reference (ground-truth) mask file, or a folder of <id>[_mask].* references")
    parser.add_argument("--manifest", help="folder mode: the references are this manifest's labels, paired by case id "
                                           "(groups by domain, pathology, label kind)")
    parser.add_argument("--out", help="folder mode: where evaluation_cases.csv and evaluation_summary.json go "
                                      "(default: the prediction folder)")
    parser.add_argument("--overwrite", action="store_true", help="folder mode: replace existing evaluation files")
    parser.add_argument("--spacing", type=positive_float, nargs="+", metavar="MM",
                        help="pixel spacing in mm, array order (rows cols [or slices rows cols]); "
                             "one value = isotropic; default: the reference file's spacing")
    parser.add_argument("--no-clusters", action="store_true", help="skip cluster-level detection")
    parser.add_argument("--min-calcifications", type=int, default=6,
                        help="calcifications a dilated region needs to be a cluster (default 6, i.e. more than 5)")


def _read_masks(pred_path: str, ref_path: str) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Reference first, then the prediction checked against its geometry."""
    from MLNNetLib.io import read_mask

    ref = read_mask(ref_path)
    pred = read_mask(pred_path, like=ref)
    return pred.array, ref.array, tuple(ref.spacing)


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.metrics import evaluate_masks

    if args.manifest or Path(args.pred).is_dir():
        from MLNNetLib.cli.evaluate_folder import run_folder

        return run_folder(args)
    if not args.ref:
        raise InputError(None, "--ref is required (a reference mask file, or a folder with a prediction folder)")

    pred, ref, spacing = _read_masks(args.pred, args.ref)
    if pred.shape != ref.shape:
        raise InputError(args.pred, f"shape {pred.shape} differs from the reference's {ref.shape} ({args.ref})")
    if args.spacing is not None:
        if len(args.spacing) not in (1, ref.ndim):
            raise InputError(None, f"--spacing needs 1 or {ref.ndim} values for a {ref.ndim}-D mask, "
                                   f"got {len(args.spacing)}")
        spacing = tuple(args.spacing) * (ref.ndim if len(args.spacing) == 1 else 1)
        log.info("spacing %s mm from --spacing", spacing)
    else:
        log.info("spacing %s mm from %s", spacing, args.ref)
    result = evaluate_masks(pred, ref, spacing, clusters=not args.no_clusters,
                            cluster_options={"min_calcifications": args.min_calcifications})
    result = {"pred": str(args.pred), "ref": str(args.ref), **result}
    print(json.dumps(result))
    return 0
