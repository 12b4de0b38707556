"""``mlnnet quantify --image IMG --mask MASK [--out CSV]``: per-calcification table + image-level features (JSON)."""

from __future__ import annotations

import argparse
import json
import math

HELP = "Measure calcifications and clusters in a mask; print image-level features as JSON."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", required=True, help="image the mask was drawn on (its intensities give the densities)")
    parser.add_argument("--mask", required=True, help="binary calcification mask on the image's grid")
    parser.add_argument("--out", default=None, metavar="CSV", help="write the per-calcification table here")
    parser.add_argument("--clusters-out", default=None, metavar="CSV", help="write the per-cluster table here")
    parser.add_argument("--slice", type=int, default=None, metavar="K", help="slice index of a 3-D (DBT) image/mask")
    parser.add_argument("--min-calcifications", type=int, default=6, metavar="N",
                        help="calcifications a dilated region needs to be a cluster (default 6: 'more than 5')")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def _json_safe(value: float) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.outputs import OutputPlan

    plan = OutputPlan(args.overwrite)
    plan.add_inputs(args.image, option="--image")
    plan.add_inputs(args.mask, option="--mask")
    if args.out:
        plan.file(args.out, "table", option="--out")
    if args.clusters_out:
        plan.file(args.clusters_out, "table", option="--clusters-out")
    with plan:  # checked before any work, both tables committed together
        features = _quantify(args)
    print(json.dumps({k: _json_safe(v) for k, v in features.items()}))
    return 0


def _quantify(args: argparse.Namespace) -> dict:
    from MLNNetLib.errors import InputError
    from MLNNetLib.io import read_image, read_mask
    from MLNNetLib.quantify import CLUSTER_COLUMNS, COLUMNS, quantify, write_table

    image = read_image(args.image)
    mask = read_mask(args.mask, like=image)
    img, msk, spacing = image.array, mask.array, image.spacing
    if img.ndim == 2 and args.slice is not None:
        raise InputError(args.image, f"--slice {args.slice} given, but the image is 2-D ({img.shape[0]}x{img.shape[1]} px); "
                                     "--slice picks a slice of a 3-D (DBT) image: leave it out")
    if img.ndim == 3:
        if args.slice is None:
            if img.shape[0] != 1:
                raise InputError(args.mask, f"3-D data ({img.shape[0]} slices): choose one with --slice K")
            k = 0
        else:
            k = args.slice
        if not 0 <= k < img.shape[0]:
            raise InputError(args.mask, f"--slice {k} outside 0..{img.shape[0] - 1}")
        img, msk, spacing = img[k], msk[k], spacing[1:]
    result = quantify(msk, img, spacing, path=args.mask, min_calcifications=args.min_calcifications)
    if args.out:
        write_table(args.out, result.calcifications, COLUMNS, overwrite=args.overwrite)
    if args.clusters_out:
        write_table(args.clusters_out, result.clusters, CLUSTER_COLUMNS, overwrite=args.overwrite)
    return result.features
