"""Surface-distance metrics: MLNNetLib.metrics (k-d tree on surface points) vs medpy (distance transforms).

Masks: a ``size`` x ``size`` reference with ``objects`` small discs and ellipses (calcification-like,
radius 1-6 px) and a prediction made from it by perturbing it the way a segmentation errs (shifted,
grown, shrunk, missed objects and false positives). medpy is timed as its users call it: hd, hd95,
asd, assd, one call each (``ratio``); ``ratio_vs_shared`` compares with medpy's two directed distance
sets computed once and shared, the best a careful medpy user could do; ``evaluate_masks_seconds`` is
one full evaluation (pixel, surface, lesion and cluster level) for scale. Both sides run in the same
process on the same masks; values must agree to 1e-6. The ratio is medpy seconds / ours (best of ``repeats``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

HELP = "HD/HD95/ASD/ASSD on large sparse masks: MLNNetLib.metrics vs medpy (target: >= 5x faster, equal values)."
TARGET_RATIO = 5.0
TOLERANCE = 1e-6
MIN_SIZE = 32  # objects are placed 10 px from the border and are up to 17 px wide


def add_arguments(p: argparse.ArgumentParser) -> None:
    from MLNNetLib.cli.args import int_at_least, positive_float, positive_int

    p.add_argument("--size", type=int_at_least(MIN_SIZE), default=2048,
                   help=f"side of the square masks in pixels, >= {MIN_SIZE} (default 2048)")
    p.add_argument("--objects", type=positive_int, default=200, help="number of reference objects (default 200)")
    p.add_argument("--spacing", type=positive_float, nargs=2, default=(0.07, 0.07), metavar=("ROW_MM", "COL_MM"),
                   help="pixel spacing in mm, array order (default 0.07 0.07)")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed repetitions, best kept (default 3)")
    p.add_argument("--seed", type=int, default=0)


def make_masks(size: int, objects: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference with ``objects`` small blobs and a perturbed prediction of it."""
    rng = np.random.default_rng(seed)
    ref = np.zeros((size, size), dtype=bool)
    pred = np.zeros_like(ref)
    yy, xx = np.mgrid[-8:9, -8:9]
    margin = 10
    for _ in range(objects):
        ry, rx = rng.uniform(1.0, 6.0, 2)
        blob = (yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0
        cy, cx = rng.integers(margin, size - margin, 2)
        sl = (slice(cy - 8, cy + 9), slice(cx - 8, cx + 9))
        ref[sl] |= blob
        fate = rng.random()
        if fate < 0.1:
            continue  # missed
        if fate < 0.4:
            blob = np.roll(blob, tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
        elif fate < 0.6:
            blob = ndimage.binary_dilation(blob)
        elif fate < 0.7:
            blob = ndimage.binary_erosion(blob) if ndimage.binary_erosion(blob).any() else blob
        pred[sl] |= blob
    for _ in range(max(1, objects // 10)):  # false positives
        cy, cx = rng.integers(margin, size - margin, 2)
        pred[cy - 1:cy + 2, cx - 1:cx + 2] = True
    return pred, ref


def _best(fn, repeats: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def run(args: argparse.Namespace) -> dict:
    from medpy.metric import binary as mb

    from MLNNetLib.metrics import evaluate_masks, surface_distances

    pred, ref = make_masks(args.size, args.objects, args.seed)
    spacing = tuple(args.spacing)

    def ours() -> dict:
        sd = surface_distances(pred, ref, spacing)
        return {"hd": sd.hd, "hd95": sd.hd95, "asd": sd.asd, "assd": sd.assd}

    def medpy() -> dict:
        return {"hd": float(mb.hd(pred, ref, spacing)), "hd95": float(mb.hd95(pred, ref, spacing)),
                "asd": float(mb.asd(pred, ref, spacing)), "assd": float(mb.assd(pred, ref, spacing))}

    surface = getattr(mb, "__surface_distances")  # medpy's own distance sets, computed once per direction

    def medpy_once() -> None:
        surface(pred, ref, spacing), surface(ref, pred, spacing)

    ours_s, ours_v = _best(ours, args.repeats)
    medpy_s, medpy_v = _best(medpy, args.repeats)
    once_s, _ = _best(medpy_once, args.repeats)
    all_s, _ = _best(lambda: evaluate_masks(pred, ref, spacing), 1)  # every metric incl. lesions and clusters
    max_diff = max(abs(ours_v[k] - medpy_v[k]) for k in ours_v)
    equal = bool(max_diff <= TOLERANCE)
    ratio = medpy_s / ours_s if ours_s > 0 else float("inf")
    return {
        "size": [args.size, args.size], "objects": args.objects, "spacing": list(spacing), "repeats": args.repeats,
        "pred_pixels": int(pred.sum()), "ref_pixels": int(ref.sum()),
        "ours_seconds": ours_s, "medpy_seconds": medpy_s,
        "medpy_shared_seconds": once_s, "ratio_vs_shared": once_s / ours_s if ours_s > 0 else float("inf"),
        "evaluate_masks_seconds": all_s,
        "ours": ours_v, "medpy": medpy_v, "max_abs_difference": max_diff, "values_equal": equal,
        "ratio": ratio,
        "target": f"medpy_seconds / ours_seconds >= {TARGET_RATIO:g} with values equal to {TOLERANCE:g}",
        "meets_target": bool(equal and ratio >= TARGET_RATIO),
    }
