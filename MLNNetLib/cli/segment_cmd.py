"""``mlnnet segment --model CKPT --input IMG``: segment calcifications, write the mask and a JSON summary.

The mask (uint8, the input's geometry) goes to ``--output`` (default ``<input stem>_calc.nrrd`` beside the
input), the summary (branch, scores, OOD flag, tiles, seconds, decisions, model path) beside it as
``<mask stem>.json`` and to stdout. Nothing is written over an existing file without ``--overwrite``;
every output path is checked before the (long) computation starts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from MLNNetLib.atomic import check_writable, write_text
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

HELP = "Segment microcalcifications in an image with a trained model."
log = get_logger(__name__)
SELECTIONS = ("cosine", "euclidean", "plus", "euclidean_plus", "standardized", "response", "union")  # = selection.METHODS


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
    parser.add_argument("--selection", default="cosine", choices=SELECTIONS,
                        help="branch selection (default cosine = MLN-net; union = MLN-net-R, any branch)")
    parser.add_argument("--branch", type=int, help="use this branch and skip selection (overrides --selection)")
    parser.add_argument("--mode", default="sliding", choices=("sliding", "paper"),
                        help="sliding window at native resolution (default) or the paper's 2x2 split resized to the model size")
    parser.add_argument("--tile", type=int, help="tile size in px (default: the model's training size)")
    parser.add_argument("--overlap", type=float, default=0.25, help="tile overlap fraction in [0, 1) (default 0.25)")
    parser.add_argument("--threshold", type=float, default=0.5, help="foreground where probability > this (default 0.5)")
    parser.add_argument("--batch-size", type=int, default=4, help="tiles per forward pass (default 4)")
    parser.add_argument("--spacing-policy", default="resample", choices=("resample", "refuse"),
                        help="when the pixel spacing differs >10%% from training: resample (default) or refuse")
    parser.add_argument("--default-spacing", type=float, metavar="MM",
                        help="pixel spacing to assume when the file has none (default: the library default, with a warning)")
    parser.add_argument("--roi", type=int, nargs=4, metavar=("ROW0", "COL0", "ROW1", "COL1"),
                        help="segment only this pixel box (half open); elsewhere the mask is 0")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def _stem(path: Path) -> str:
    from MLNNetLib.io.generic import suffix_of

    suffix = "" if path.is_dir() else suffix_of(path)
    return path.name[: len(path.name) - len(suffix)] if suffix else path.name


def output_paths(args: argparse.Namespace) -> tuple[Path, Path, Path | None]:
    """(mask, summary JSON, probability or None), all checked writable before any work."""
    source = Path(args.input)
    default_suffix = "_calc.seg.dcm" if getattr(args, "format", "nrrd") == "dicom-seg" else "_calc.nrrd"
    mask = Path(args.output) if args.output else source.parent / f"{_stem(source)}{default_suffix}"
    summary = mask.parent / f"{_stem(mask).removesuffix('.seg')}.json"
    if args.probability == "auto":
        args.probability = str(mask.parent / f"{_stem(mask).removesuffix('.seg')}_prob.nrrd")
    if getattr(args, "overlay", None) == "auto":
        args.overlay = str(mask.parent / f"{_stem(mask).removesuffix('.seg').removesuffix('_calc')}_overlay.png")
    prob = Path(args.probability) if args.probability else None
    outputs = [mask, summary] + ([prob] if prob else []) + ([Path(args.overlay)] if getattr(args, "overlay", None) else [])
    if len({p.resolve() for p in outputs + [source]}) != len(outputs) + 1:
        raise FileExistsError(f"{mask}: output paths must differ from each other and from the input")
    for p in outputs:
        check_writable(p, args.overwrite)
    return mask, summary, prob


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.inference import InferenceOptions, segment_image
    from MLNNetLib.io import read_image, write_image
    from MLNNetLib.progress import TqdmProgress

    options = InferenceOptions(
        tile=args.tile, overlap=args.overlap, mode=args.mode, threshold=args.threshold, batch_size=args.batch_size,
        device=args.device, spacing_policy=args.spacing_policy,
    )
    from MLNNetLib.cli.segment_folder import folder_mode, run_folder

    if not args.input and not args.manifest:
        raise InputError(None, "give --input (an image, series folder or folder of images) or --manifest")
    if folder_mode(args):
        return run_folder(args, options)
    mask_path, summary_path, prob_path = output_paths(args)
    ckpt = load_checkpoint(args.model)
    image = read_image(args.input, default_spacing=args.default_spacing)
    if args.format == "dicom-seg" and image.meta.get("format") != "DICOM":
        raise InputError(args.input, "--format dicom-seg needs a DICOM input (a SEG references its source images)")
    for warning in image.warnings:
        log.warning("%s: %s", args.input, warning)
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
    print(json.dumps(summary, allow_nan=False))
    return 0
