"""``mlnnet info IMAGE``: one JSON object describing an image file, for humans and scripts alike."""

from __future__ import annotations

import argparse
import json

HELP = "Print a JSON summary of an image file (shape, spacing and where it came from, warnings)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="image file (DICOM, NRRD, NIfTI, MHA, PNG, BMP, TIFF, PGM) or a DICOM series folder")
    parser.add_argument("--default-spacing", type=float, default=None, metavar="MM",
                        help="pixel spacing in mm to assume when the file has none (default 0.05, with a warning)")


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.io import image_info

    if args.default_spacing is not None and not args.default_spacing > 0:
        from MLNNetLib.errors import InputError

        raise InputError(None, f"--default-spacing must be positive, got {args.default_spacing}")
    print(json.dumps(image_info(args.image, args.default_spacing)))
    return 0
