"""Folder mode of ``mlnnet evaluate`` (``--pred DIR --ref DIR`` or ``--pred DIR --manifest M``): the CLI glue
around ``MLNNetLib.metrics.folder``; ``evaluate_cmd`` dispatches here and keeps the single-pair path."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)


def run_folder(args: argparse.Namespace) -> int:
    from MLNNetLib.metrics.folder import evaluate_folder, output_targets, write_outputs
    from MLNNetLib.outputs import OutputPlan
    from MLNNetLib.progress import TqdmProgress

    if args.spacing is not None:
        raise InputError(None, "--spacing is a single-pair option; folder mode takes spacing from the files or manifest")
    if args.ref and args.manifest:
        raise InputError(None, "give --ref DIR or --manifest, not both")
    out = Path(args.out or args.pred)
    plan = OutputPlan(args.overwrite, inputs=[args.manifest])
    cases_target, summary_target = output_targets(out)
    plan.file(cases_target, "table", option="per-case table")
    plan.file(summary_target, "json", option="summary")
    plan.validate()  # before any work
    rows, summary = evaluate_folder(args.pred, args.ref, args.manifest, clusters=not args.no_clusters,
                                    progress=TqdmProgress("evaluate"))
    with plan:  # both files committed together
        cases_csv, summary_json = write_outputs(rows, summary, out, args.overwrite)
    for status in ("missing_pred", "missing_ref", "failed"):
        if summary[status]:
            log.warning("%d case(s) %s: %s", len(summary[status]), status.replace("_", " "), ", ".join(summary[status][:10]))
    print(json.dumps({"cases_csv": str(cases_csv), "summary": str(summary_json), "cases": summary["cases"],
                      "evaluated": summary["evaluated"], "missing_pred": len(summary["missing_pred"]),
                      "missing_ref": len(summary["missing_ref"]), "failed": len(summary["failed"]),
                      "dice": summary["metrics"]["dice"], "lesion_sensitivity": summary["metrics"]["lesion_sensitivity"]},
                     allow_nan=False))
    return 2 if summary["failed"] else 0
