"""``python -m MLNNetLib`` / ``mlnnet``: one sub-command per module in this package.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs, so ``mlnnet info`` does not pay for torch.
``main`` is the single error boundary (``failures.explain``): bad input exits 2 with one named line,
never a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from MLNNetLib import __version__, log
from MLNNetLib.cli.failures import EXIT_CANCELLED, debug_requested, explain

COMMANDS: dict[str, str] = {
    "info": "Print a JSON summary of an image file (shape, spacing and where it came from, warnings).",
    "synth": "Generate labelled synthetic mammograms of one scanner-like domain.",
    "prepare": "Describe a dataset (CBIS-DDSM, INbreast, folder of pairs) as a validated manifest; training cache; --check.",
    "evaluate": "Compare a predicted mask with a reference mask (TPR, precision, DSC, HD, HD95, ASD, directed ASD, lesion and cluster detection).",
    "realism": "Compare a synthetic style with real films (spectrum slope, histogram, speck CNR); writes a figure and tables.",
    "train": "Train an MLN-net (or Basenet) model on one source domain.",
    "segment": "Segment microcalcifications in an image with a trained model.",
    "ablation": "Reproduce the paper's ablation (Basenet ... MLN-net+) on synthetic domains.",
    "demo": "Synthesise data, train MLN-net and Basenet, segment unseen domains, write a report.",
    "benchmark": "Run a named benchmark and print one JSON line with its figures and ratio.",
    "quantify": "Measure calcifications and clusters in a mask; print image-level features as JSON.",
    "classify": "Train or apply benign/malignant classifiers on calcification features.",
    "analysis": "End to end on synthetic benign/malignant cases: segment, quantify, classify; writes report.md.",
}


def _module_name(command: str) -> str:
    return f"MLNNetLib.cli.{command}_cmd"


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlnnet", description="MLN-net microcalcification segmentation for FFDM and DBT.")
    parser.add_argument("--version", action="version", version=f"MLNNetLib {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--debug", action="store_true", help="show the full traceback when a command fails")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if name == chosen:  # import only the command that runs
            importlib.import_module(_module_name(name)).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (0 ok, 1 bug, 2 bad input or environment, 130 cancelled)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or debug_requested(False, 0)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        debug = debug_requested(getattr(args, "debug", False), args.verbose)
        log.configure(-1 if args.quiet else args.verbose)
        from MLNNetLib.numerics import flush_denormals

        flush_denormals()  # before PyTorch starts its threads (numerics.py: denormals made training 2.5x slower)
        module = importlib.import_module(_module_name(args.command))
        return int(module.run(args) or 0)
    except (Exception, KeyboardInterrupt) as exc:  # SystemExit (argparse, --help) passes through
        return _report(exc, debug)


def _report(exc: BaseException, debug: bool) -> int:
    code, message = explain(exc)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(message if code == EXIT_CANCELLED else f"error: {message}", file=sys.stderr)
    return code
