"""Segment every image of a labelled folder with one checkpoint and score it against its reference mask."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress

log = get_logger(__name__)

TABLE_METRICS = ("tpr", "precision", "dice", "hd", "asd")


@dataclass
class ImageScore:
    id: str
    domain: str
    metrics: dict
    summary: dict
    mask: np.ndarray | None = field(default=None, repr=False)


def evaluate_checkpoint(
    ckpt, items: list[dict], selection: str, keep_masks: bool = False, progress: Progress | None = None,
    options=None,
) -> list[ImageScore]:
    """One ImageScore per manifest item: full-image inference (sliding window), then metrics at the image spacing."""
    from MLNNetLib.inference import segment_image
    from MLNNetLib.io import read_image, read_mask
    from MLNNetLib.metrics import evaluate_masks

    scores = []
    for n, item in enumerate(items):
        if progress is not None:
            progress.step(n, len(items), item["id"])
        image = read_image(item["image"])
        ref = read_mask(item["mask"], like=image)
        result = segment_image(ckpt, image, selection=selection, options=options)
        metrics = evaluate_masks(result.mask > 0, ref.array > 0, image.spacing)
        summary = result.summary()
        scores.append(ImageScore(item["id"], item["domain"], metrics, summary, result.mask if keep_masks else None))
        log.info("%s [%s] %s: dice %.3f, branch %s", item["id"], item["domain"], selection, metrics["dice"], summary.get("branch"))
    return scores


def mean_std(values: list[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std())


def summarize(scores: list[ImageScore], keys=TABLE_METRICS) -> dict[str, tuple[float, float]]:
    return {k: mean_std([s.metrics[k] for s in scores]) for k in keys}


def branch_counts(scores: list[ImageScore]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in scores:
        key = str(s.summary.get("branch"))
        counts[key] = counts.get(key, 0) + 1
    return counts


def format_cell(mean: float, std: float, percent: bool) -> str:
    if math.isnan(mean):
        return "–"
    if percent:
        return f"{100 * mean:.1f} ± {100 * std:.1f}"
    return f"{mean:.2f} ± {std:.2f}"


def markdown_table(rows: list[tuple[str, str, dict]], keys=TABLE_METRICS) -> str:
    """rows: (method, target domain, summarize(...)) -> a markdown table (TPR, Pr, DSC in %; HD, ASD in mm)."""
    names = {"tpr": "TPR (%)", "precision": "Pr (%)", "dice": "DSC (%)", "hd": "HD (mm)", "hd95": "HD95 (mm)", "asd": "ASD (mm)"}
    head = "| method | target | " + " | ".join(names.get(k, k) for k in keys) + " |"
    sep = "|---|---|" + "---|" * len(keys)
    lines = [head, sep]
    for method, target, summary in rows:
        cells = [format_cell(*summary[k], percent=k in ("tpr", "precision", "dice")) for k in keys]
        lines.append(f"| {method} | {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_overlay(path: Path, image: np.ndarray, pred: np.ndarray, ref: np.ndarray, title: str) -> None:
    from MLNNetLib.experiments.overlays import save_overlay

    save_overlay(path, image, pred, ref, title)
