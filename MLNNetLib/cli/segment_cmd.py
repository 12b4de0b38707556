"""``mlnnet segment --model CKPT --input IMG``: segment calcifications, write the mask and a JSON summary.

The mask (uint8, the input's geometry) goes to ``--output`` (default ``<input stem>_calc.nrrd`` beside the
input), the summary (branch, scores, OOD flag, tiles, seconds, decisions, model path) beside it as
``<mask stem>.json`` and to stdout. Every output is declared in an ``OutputPlan``: checked before the (long)
computation starts (writable folder, a format that holds the data, not an input, not existing unless
``--overwrite``) and all of them renamed into place together at the end, so a failed run leaves nothing.
``--overlay`` adds a quick-look PNG, ``--format dicom-seg`` writes the mask as a DICOM SEG. A folder (``--input DIR
--output DIR``) or a manifest (``--manifest M --output DIR``) is handled by ``segment_folder`` (one model load,
one mask + JSON per case, summary.csv, finished cases skipped).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from MLNNetLib.atomic import write_text
from MLNNetLib.cli.args import positive_float
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.outputs import OutputPlan

HELP = "Segment microcalcifications in an image with a trained model."
log = get_logger(__name__)
SELECTIONS = ("cosine", "euclidean", "plus", "euclidean_plus", "standardized", "response", "polarity", "union")  # = selection.METHODS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint (.safetensors with its .json header beside it)")
    parser.add_argument("--input", help="mammogram or DBT stack (DICOM file/folder, NRRD, NIfTI, MHA, PNG, ...), or a folder "
                                        "of them (with --output DIR: every image and DICOM series, recursively)")
    parser.add_argument("--manifest", help="segment the images of a manifest into --output DIR, named by case id")
    parser.add_argument("--output", help="mask file (default: <input stem>_calc.nrrd beside the input); a folder in "
                                         "folder mode: <id>_calc.nrrd + <id>_calc.json per case and summary.csv")
    parser.add_argument("--probability", nargs="?", const="auto", help="also write the probability map (float32) to this "
                                                                       "file (.nrrd/.nii.gz/.mha); folder mode: <id>_prob.nrrd")
    parser.add_argument("--overlay", nargs="?", const="auto", metavar="PNG", help="also write a PNG of the image with the "
                        "predicted calcifications and clusters outlined (default <mask stem>_overlay.png)")
    parser.add_argument("--format", default="nrrd", choices=("nrrd", "dicom-seg"),
                        help="mask format: NRRD (default) or a DICOM Segmentation object referencing the DICOM input")
    parser.add_argument("--selection", default="polarity", choices=SELECTIONS,
                        help="branch selection (default polarity: the branch whose tissue polarity matches the image's; a "
                             "single-branch model gets an image that reads inverted inverted back; "
                             "cosine = the paper's MLN-net, euclidean = MLN-net-E, plus = MLN-net+, union = MLN-net-R)")
    parser.add_argument("--branch", type=int, help="use this branch and skip selection (overrides --selection)")
    parser.add_argument("--mode", default="sliding", choices=("sliding", "paper"),
                        help="sliding window at native resolution (default) or the paper's 2x2 split resized to the model size")
    parser.add_argument("--tile", type=int, help="tile size in px (default: the model's training size)")
    parser.add_argument("--overlap", type=float, default=0.25, help="tile overlap fraction in [0, 1) (default 0.25)")
    parser.add_argument("--threshold", type=float, default=0.5, help="foreground where probability > this (default 0.5)")
    parser.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass (default 4)")
    parser.add_argument("--norm-adapt", type=float, default=0.25, metavar="W",
                        help="test-time BatchNorm adaptation (BatchNorm models, e.g. the default Pro_UNeXt): normalise "
                             "with (1-W) x the stored + W x the image's own feature statistics; 0 = off (default 0.25)")
    parser.add_argument("--norm-adapt-scope", default="ood", choices=("ood", "always"),
                        help="adapt only images the OOD flag calls unlike the training data (default) or every image")
    parser.add_argument("--tta", type=int, default=4, choices=(1, 2, 4, 8),
                        help="test-time augmentation: predict every tile in this many of its rotations and mirrors "
                             "and average (1 = off, 2 = + mirrored, 4 = + both mirrors, 8 = + transposed; default 4)")
    parser.add_argument("--spacing-policy", default="resample", choices=("resample", "refuse"),
                        help="when the pixel spacing differs >10%% from training: resample (default) or refuse")
    parser.add_argument("--default-spacing", type=positive_float, metavar="MM",
                        help="pixel spacing to assume when the file has none (default: the library default, with a warning)")
    parser.add_argument("--roi", type=int, nargs=4, metavar=("ROW0", "COL0", "ROW1", "COL1"),
                        help="segment only this pixel box (half open); elsewhere the mask is 0")
    parser.add_argument("--allow-no-breast", action="store_true",
                        help="segment even when no breast is found (noise, a blank export, a non-mammogram)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def _stem(path: Path) -> str:
    from MLNNetLib.io.generic import suffix_of

    suffix = "" if path.is_dir() else suffix_of(path)
    return path.name[: len(path.name) - len(suffix)] if suffix else path.name


def output_plan(args: argparse.Namespace) -> tuple[OutputPlan, Path, Path, Path | None]:
    """The run's outputs (mask, summary JSON, probability or None, overlay), declared before any work."""
    from MLNNetLib.checkpoint import header_path

    source = Path(args.input)
    plan = OutputPlan(args.overwrite)
    plan.add_inputs(args.input, option="--input")
    plan.add_inputs(args.model, header_path(args.model), option="--model")
    if args.format == "dicom-seg":
        mask = plan.file(args.output or source.parent / f"{_stem(source)}_calc.seg.dcm", "dicom", option="--output")
    else:
        mask = plan.image(args.output or source.parent / f"{_stem(source)}_calc.nrrd", "uint8", option="--output")
    base = _stem(mask).removesuffix(".seg")
    summary = plan.file(mask.parent / f"{base}.json", "json", option="summary of --output")
    if args.probability == "auto":
        args.probability = str(mask.parent / f"{base}_prob.nrrd")
    if args.overlay == "auto":
        args.overlay = str(mask.parent / f"{base.removesuffix('_calc')}_overlay.png")
    if args.overlay:
        plan.file(args.overlay, "figure", option="--overlay")
    prob = plan.image(args.probability, "float32", option="--probability") if args.probability else None
    return plan, mask, summary, prob


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.inference import InferenceOptions

    options = InferenceOptions(
        tile=args.tile, overlap=args.overlap, mode=args.mode, threshold=args.threshold, batch_size=args.batch_size,
        device=args.device, spacing_policy=args.spacing_policy, require_breast=not args.allow_no_breast,
        norm_adapt=args.norm_adapt, norm_adapt_scope=args.norm_adapt_scope, tta=args.tta,
    )
    from MLNNetLib.cli.segment_folder import folder_mode, run_folder

    if not args.input and not args.manifest:
        raise InputError(None, "give --input (an image, series folder or folder of images) or --manifest")
    if folder_mode(args):
        return run_folder(args, options)
    plan, mask_path, summary_path, prob_path = output_plan(args)
    with plan:  # validated here, before the checkpoint is even read; committed together at the end
        summary = _segment(args, options, plan, mask_path, summary_path, prob_path)
    print(json.dumps(summary, allow_nan=False))
    return 0


def _segment(args: argparse.Namespace, options, plan: OutputPlan, mask_path: Path, summary_path: Path,
             prob_path: Path | None) -> dict:
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.inference import segment_image
    from MLNNetLib.io import read_image, write_image
    from MLNNetLib.progress import TqdmProgress

    ckpt = load_checkpoint(args.model)
    image = read_image(args.input, default_spacing=args.default_spacing)
    if args.format == "dicom-seg" and image.meta.get("format") != "DICOM":
        raise InputError(args.input, "--format dicom-seg needs a DICOM input (a SEG references its source images)")
    for warning in image.warnings:
        log.warning("%s: %s", args.input, warning)
    for path in (None if args.format == "dicom-seg" else mask_path, prob_path):
        if path is not None:
            plan.check_image(path, image.array.ndim)  # a 2-D format cannot hold a DBT stack
    selection = args.branch if args.branch is not None else args.selection
    progress = TqdmProgress("segment", disable=True if args.no_progress else None)
    result = segment_image(ckpt, image, selection=selection, options=options, progress=progress,
                           roi=tuple(args.roi) if args.roi else None)
    if args.format == "dicom-seg":
        from MLNNetLib.io.dicom_seg import write_dicom_seg

        write_dicom_seg(result.mask, image.meta.get("files") or [image.path], mask_path, overwrite=args.overwrite)
    else:
        write_image(result.mask, image.geometry, mask_path, overwrite=args.overwrite)
    if args.overlay:
        from MLNNetLib.inference.overlay import write_overlay

        write_overlay(args.overlay, image.array, result.mask, image.spacing[-2:], Path(args.input).name, args.overwrite)
    if prob_path is not None:
        write_image(result.probability, image.geometry, prob_path, overwrite=args.overwrite)
    summary = {
        "input": str(args.input),
        "model": str(ckpt.path),
        "mask": str(mask_path),
        "probability": None if prob_path is None else str(prob_path),
        "overlay": args.overlay,
        "spacing_mm": list(image.spacing),
        "image_warnings": list(image.warnings),
        **result.summary(),
    }
    text = json.dumps(summary, indent=2, allow_nan=False)
    write_text(summary_path, text + "\n", overwrite=args.overwrite)
    return summary
