"""Score a study's rows of one model on labelled test images, and where that runs.

Per image, each prediction some row needs is made once (a K = 2 model's branches, a K = 1 model's input
sense, each test-time setting), then every row is scored from them. On a CPU the images go to worker
processes with one PyTorch thread each. Why: a 2-core CPU running one process with two intra-op threads sits
partly idle in the Python-side preparation, the selection and the metrics, and the Swin-Unet's small attention
matrices scale poorly across threads. Whole quick-profile runs (2026-12-03, AMD EPYC, 2 cores), minutes to score
each model's 180 test images, one process / workers / workers with WORKER_MALLOC: Basenet 3.1 / 2.3 / 1.85,
MLN-net 3.45 / 3.4 / 2.25, the default (four transforms per tile, and its no-TTA row) 5.6 / 5.5 / 4.4.
One thread per worker also makes the scores independent of the core count: with torch's default (one thread
per core) the sums inside a convolution run in another order on another machine (probabilities differ by up
to 4e-5 between one and two threads).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.experiments.evaluation import ImageScore
from MLNNetLib.log import get_logger

if TYPE_CHECKING:
    from MLNNetLib.experiments.study import Row
    from MLNNetLib.progress import Progress

log = get_logger(__name__)

MAX_WORKERS = 8  # each holds one model and one image; more cores than this stay free
# glibc malloc in the workers: keep freed memory instead of returning every large block to the kernel. A
# one-thread worker otherwise maps and faults in fresh pages for each batch's activations (tens of MB, above
# glibc's mmap threshold): measured on 6 images of the default model, 4.5 s of 24.6 s were system time, 0.85
# s of 21.1 s with these settings (1.17x); the arithmetic is the same. A variable the user set is kept.
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "2000000000", "MALLOC_TRIM_THRESHOLD_": "4000000000"}


def score(item: dict, image, ref, mask: np.ndarray, summary: dict, keep: bool) -> ImageScore:
    """One image's metrics against its reference at the image's spacing (the mask kept for overlays)."""
    from MLNNetLib.metrics import evaluate_masks

    metrics = evaluate_masks(mask > 0, ref.array > 0, image.spacing)
    return ImageScore(item["id"], item["domain"], metrics, summary, mask if keep else None)


def selection_key(row: Row, k: int) -> str:
    """What a row's selection does to a model with ``k`` branches: with K = 1 only "polarity" changes anything
    (the image is inverted back when it reads inverted); every other name is the plain single-branch run."""
    from MLNNetLib.selection import canonical_method

    if k > 1:
        return row.selection
    return "polarity" if canonical_method(row.selection) == "polarity" else "cosine"


def run_key(row: Row, k: int, adapts: bool) -> str:
    """What a row's scores depend on besides the model and the images (the score cache's key): the selection,
    and for a BatchNorm model that adapts, the test-time adaptation setting of the inference options."""
    from MLNNetLib.inference.options import InferenceOptions

    key = selection_key(row, k)
    opts = InferenceOptions()
    if adapts and row.adapt and opts.norm_adapt > 0:
        key = f"{key}|bn-adapt {opts.norm_adapt:g} {opts.norm_adapt_scope}"
    return f"{key}|tta {opts.tta}" if row_tta(row) > 1 else key


def row_tta(row: Row) -> int:
    """Dihedral transforms per tile for a row: the inference options' for a row that asks for them, else 1."""
    from MLNNetLib.inference.options import InferenceOptions

    return InferenceOptions().tta if row.tta else 1


def score_images(ckpt, rows: list[Row], items: list[dict], keep: set[str], options=None) -> dict[str, list[ImageScore]]:
    """Every row of one model on these images, in this process, predicting each needed branch (K = 2) or
    input sense (K = 1: as stored or inverted back) once per image."""
    from MLNNetLib.inference.segment import PlannedImage
    from MLNNetLib.io import read_image, read_mask

    out: dict[str, list[ImageScore]] = {r.label: [] for r in rows}
    k = int(getattr(ckpt.model, "num_domains", 1))
    selections = list(dict.fromkeys(selection_key(r, k) for r in rows))
    for item in items:
        image = read_image(item["image"])
        ref = read_mask(item["mask"], like=image)
        planned = PlannedImage(ckpt, image, options, reuse=True)  # prepared once for every row and run
        choices = {sel: planned.choose(sel) for sel in selections}
        # one run per (branch, or K = 1 input sense; test-time BatchNorm weight)
        runs: dict[tuple, tuple] = {}
        for row in rows:
            c = choices[selection_key(row, k)]
            w, t = (planned.norm_adapt_weight(c) if row.adapt else 0.0), row_tta(row)
            if k > 1 and c.branch is None:  # the union: every branch, adapted as the union's own run would be
                for b in range(k):
                    runs.setdefault((b, w, t), (replace(planned.choose(b), ood=c.ood), w, t))
            else:
                runs.setdefault((c.branch if k > 1 else c.inverted, w, t), (c, w, t))
        results = {key: planned.segment(c, norm_adapt=w, tta=t) for key, (c, w, t) in runs.items()}
        threshold = next(iter(results.values())).options.get("threshold", 0.5)
        for row in rows:
            choice = choices[selection_key(row, k)]
            b = choice.branch
            w, t = (planned.norm_adapt_weight(choice) if row.adapt else 0.0), row_tta(row)
            keys = [(i, w, t) for i in range(k)] if (k > 1 and b is None) else [(b if k > 1 else choice.inverted, w, t)]
            prob = np.maximum.reduce([results[key].probability for key in keys])
            summary = {"branch": b, "scores": choice.scores, "ood": choice.ood, "ood_score": choice.ood_score,
                       "polarity": choice.polarity, "selection": choice.method, "inverted": choice.inverted,
                       "norm_adapt": results[keys[0]].norm_adapt, "tta": t, "seconds": results[keys[0]].seconds}
            out[row.label].append(score(item, image, ref, (prob > threshold).astype(np.uint8), summary, row.label in keep))
            log.info("%s [%s] %s: dice %.3f, branch %s%s", item["id"], item["domain"], row.label,
                     out[row.label][-1].metrics["dice"], b, ", inverted back" if choice.inverted else "")
    return out


def scoring_workers(device: str) -> int:
    """Worker processes for a study on ``device``: 0 (score in this process) on a GPU, a 1-core machine or
    inside Slicer's application (whose executable is the application, not a Python to spawn), else one per
    core, at most MAX_WORKERS."""
    import sys

    from MLNNetLib.training.distributed import resolve_device

    if resolve_device(device).type != "cpu" or hasattr(sys.modules.get("slicer"), "app"):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, MAX_WORKERS) if cores > 1 else 0


class Scorer:
    """Scores (model, rows, images by style) in this process (``workers=0``) or in that many worker
    processes, started on first use and kept for every model of the study. Results come back in the
    images' order whatever order the workers finish in."""

    def __init__(self, workers: int, device: str = "cpu") -> None:
        self.workers, self.device = int(workers), device
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def score(self, ckpt, path: Path, rows: list[Row], items: dict[str, list[dict]], keep: set[str],
              progress: Progress | None = None) -> dict[str, dict[str, list[ImageScore]]]:
        """style -> row label -> one ImageScore per image of that style. ``ckpt`` (loaded from ``path``)
        scores in this process; the workers load ``path`` themselves."""
        from MLNNetLib.inference.options import InferenceOptions

        if self.workers <= 0:
            options = InferenceOptions(device=self.device)
            out = {}
            for style, its in items.items():
                if progress is not None:
                    progress.check()
                out[style] = score_images(ckpt, rows, its, keep, options)
            return out
        pool = self._start()
        futures: dict[str, list[Future]] = {
            style: [pool.submit(_score_in_worker, str(path), rows, it, keep) for it in its] for style, its in items.items()}
        try:
            out = {}
            for style, fs in futures.items():
                parts = []
                for f, it in zip(fs, items[style]):
                    if progress is not None:
                        progress.check()
                    try:
                        parts.append(f.result())
                    except InputError:  # names the file and the problem already, as in this process
                        raise
                    except Exception as exc:  # a worker that died, or a bug: say which image it was on
                        raise RuntimeError(f"{it['image']}: scoring with {path} failed: {exc}") from exc
                out[style] = {r.label: [s for p in parts for s in p[r.label]] for r in rows}
            return out
        except BaseException:  # a failure or a cancel: drop the images not started yet
            for fs in futures.values():
                for f in fs:
                    f.cancel()
            raise

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            from MLNNetLib.numerics import flushing_denormals

            level = get_logger().getEffectiveLevel()  # the package logger's, as the CLI configured it
            with _environment(WORKER_MALLOC):  # read by glibc when each worker starts, so all start now
                self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"),
                                                 initializer=_init_worker, initargs=(flushing_denormals(), level))
                list(self._pool.map(_ready, range(self.workers)))
            log.info("scoring in %d worker processes, one PyTorch thread each", self.workers)
        return self._pool


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """These environment variables (those the user has not set) for processes started in the block."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _ready(_: int) -> bool:
    return True


_loaded: dict[tuple, Any] = {}  # in a worker: the checkpoint it scores now, by (path, size, mtime)


def _init_worker(flush: bool, level: int) -> None:
    """One PyTorch thread, the parent's denormal setting (before torch runs anything) and log level."""
    import torch

    torch.set_num_threads(1)
    if flush:
        from MLNNetLib.numerics import flush_denormals

        flush_denormals()
    from MLNNetLib import log as mlog

    mlog.configure(-1 if level >= 30 else 0 if level >= 20 else 1)


def _score_in_worker(path: str, rows: list[Row], item: dict, keep: set[str]) -> dict[str, list[ImageScore]]:
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.inference.options import InferenceOptions

    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = load_checkpoint(path)
    return score_images(_loaded[key], rows, [item], keep, InferenceOptions(device="cpu"))
