"""Folder mode of ``mlnnet segment`` (``--input DIR --output DIR``, or ``--manifest M --output DIR``): the CLI
glue around ``MLNNetLib.inference.batch``; ``segment_cmd`` dispatches here and keeps the single-image path."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)


def _looks_like_file(path: str) -> bool:
    from MLNNetLib.io.generic import HEADER_SUFFIXES, RASTER_SUFFIXES, suffix_of

    return suffix_of(path) in HEADER_SUFFIXES + RASTER_SUFFIXES + (".dcm", ".json")


def folder_mode(args: argparse.Namespace) -> bool:
    """A manifest, or an input folder with an output that is a folder (not an image file name)."""
    if getattr(args, "manifest", None):
        return True
    return Path(args.input).is_dir() and bool(args.output) and not _looks_like_file(args.output)


def run_folder(args: argparse.Namespace, options) -> int:
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.inference.batch import BatchOptions, manifest_cases, segment_cases
    from MLNNetLib.inference.discover import discover
    from MLNNetLib.progress import TqdmProgress

    if not args.output:
        raise InputError(None, "--manifest needs --output DIR (one mask and JSON per case, summary.csv)")
    if args.probability not in (None, "auto") or (args.overlay not in (None, "auto")):
        raise InputError(None, "in folder mode --probability and --overlay take no file name (one file per case is written)")
    if getattr(args, "roi", None):
        raise InputError(None, "--roi is a single-image option")
    out = Path(args.output)
    from MLNNetLib.outputs import OutputPlan

    check = OutputPlan(args.overwrite, inputs=[args.model, args.manifest])
    check.folder(out, option="--output")
    check.validate()  # writable, not an input (inside the input folder is fine: it is left out of the cases)
    if args.manifest:
        cases, problems = manifest_cases(args.manifest), []
    else:
        cases, problems = discover(Path(args.input), exclude=out)
    if not cases and not problems:
        raise InputError(args.manifest or args.input, "no readable image or DICOM series found")
    ckpt = lambda: load_checkpoint(args.model)  # noqa: E731  (loaded once, when the first case needs it)
    opts = BatchOptions(selection=args.branch if args.branch is not None else args.selection, inference=options,
                        fmt=args.format, overlay=args.overlay is not None, probability=args.probability is not None,
                        overwrite=args.overwrite, default_spacing=args.default_spacing)
    progress = TqdmProgress("segment folder", disable=True if args.no_progress else None)
    rows = segment_cases(ckpt, cases, out, opts, problems, progress)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("done", "skipped (done)", "failed")}
    print(json.dumps({"output": str(out), "summary_csv": str(out / "summary.csv"), "cases": len(rows),
                      "done": counts["done"], "skipped": counts["skipped (done)"], "failed": counts["failed"]}))
    if counts["failed"]:
        for r in rows:
            if r["status"] == "failed":
                log.error("%s: %s", r["case_id"], r["error"])
        return 2
    return 0
