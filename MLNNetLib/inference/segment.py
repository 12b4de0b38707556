"""Whole-image segmentation: normalise, match spacing, choose a branch once, tile, blend, threshold.

Order of work (DESIGN §4-§5): every plane is normalised on its breast tissue (the same preparation as
training), one plane at a time (a DBT series never sits in memory normalised as a whole), the ROI is cut,
the image is resampled to the training spacing if needed, planes smaller
than a tile are padded, the LayerNorm branch is chosen ONCE from a few tissue tiles of the whole image
(or DBT series), and only that branch runs over all tiles; on a BatchNorm backbone an image the OOD flag calls
unlike the source is predicted with statistics moved part way to its own (inference/norm_adapt.py). Every
decision is logged and returned.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from MLNNetLib import selection as selection_pkg
from MLNNetLib.augment.invert import invert
from MLNNetLib.errors import InputError
from MLNNetLib.image import Image
from MLNNetLib.inference.breast_check import evidence, no_breast_problem
from MLNNetLib.inference.norm_adapt import Statistics, adapted, has_batchnorm, image_statistics
from MLNNetLib.inference.options import InferenceOptions
from MLNNetLib.inference.paper_mode import paper_predict, paper_quarters
from MLNNetLib.inference.predictor import make_predictor
from MLNNetLib.inference.planes import PlanePreparer, TissueTiles
from MLNNetLib.inference.resample import decide_spacing, resampled_shape, resize_stack
from MLNNetLib.inference.result import SegmentationResult
from MLNNetLib.inference.sliding_window import plan_stack, sliding_window
from MLNNetLib.inference.tiling import TilePlan
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress
from MLNNetLib.selection.polarity import Polarity, series_polarity
from MLNNetLib.selection.polarity import polarity as polarity_of

log = get_logger(__name__)

SELECTION_METHODS = tuple(selection_pkg.METHODS)
Roi = tuple[int, int, int, int]  # (row0, col0, row1, col1), half open, input-image pixels


class _Decisions(list):
    """Decisions are both logged at INFO (or WARNING) and returned with the result."""

    def add(self, message: str, level: int = logging.INFO) -> None:
        self.append(message)
        log.log(level, message)


@dataclass
class _Plan:
    """Everything pass 1 decided about one image (or DBT series) before any prediction."""

    opts: InferenceOptions
    decisions: _Decisions
    model: torch.nn.Module
    device: torch.device
    num_domains: int
    size: int
    tile: int
    z_count: int
    rows: int
    cols: int
    box: Roi  # ROI in input pixels
    work_shape: tuple[int, int]  # ROI shape on the model's grid (after resampling)
    resampled: bool
    planes: PlanePreparer
    candidates: TissueTiles
    plans: list[TilePlan]
    batches: list[int]
    input_mean: float
    polarity: Polarity


def _plan(ckpt: Any, image: Image, opts: InferenceOptions, progress: Progress | None, roi: Roi | None) -> _Plan:
    """Pass 1: check sizes, decide spacing and padding, prepare each plane once for tile plans, selection
    tiles, the breast mean and the tissue polarity (one prepared plane in memory at a time; a 2-D image's
    one plane is kept for pass 2)."""
    decisions = _Decisions()
    path = image.path
    model = ckpt.model
    num_domains = int(getattr(model, "num_domains", 1))
    size = int(model.config.img_size)
    tile = int(opts.tile or size)
    device = _device(opts.device)
    model.to(device).eval()

    if opts.mode == "sliding" and tile != size:
        _check_tile_size(model, tile, size, device, getattr(ckpt, "path", None))
        decisions.add(f"tile {tile} px differs from the model's training size {size} px (--tile)", logging.WARNING)
    stack = _as_stack(image)
    z_count, rows, cols = stack.shape
    if image.is_volume:
        decisions.add(f"DBT: {z_count} slices segmented slice by slice; one branch selection for the series")
    row0, col0, row1, col1 = _check_roi(roi, rows, cols, path)
    if roi is not None:
        decisions.add(f"ROI rows {row0}:{row1}, cols {col0}:{col1} ({row1 - row0}x{col1 - col0} px); outside it probability is 0")
    h, w = row1 - row0, col1 - col0

    # spacing policy and padding are decided once from shapes and spacings, before any pixel work
    new_shape = None
    if opts.mode == "sliding":
        sd = decide_spacing(image.spacing[-2:], _train_spacing(ckpt), opts.spacing_policy, opts.spacing_tolerance, path)
        decisions.add(sd.message)
        if sd.resample:
            new_shape = resampled_shape((h, w), sd.factors)
    else:
        decisions.add(f"paper mode: 2x2 quarters resized to {size}x{size}; spacing policy not applied")
    if image.meta.get("spacing_source") == "default":
        decisions.add("spacing: the image file has no pixel spacing; a default was assumed", logging.WARNING)
    wh, ww = new_shape or (h, w)
    need = tile if opts.mode == "sliding" else 2
    if wh < need or ww < need:
        decisions.add(f"image {wh}x{ww} px is smaller than the {need}x{need} tile; padded with background to "
                      f"{max(wh, need)}x{max(ww, need)} px", logging.WARNING)
    planes = PlanePreparer(stack, (row0, col0, row1, col1), new_shape, need, tuple(image.spacing[-2:]))
    work_spacing = (float(image.spacing[-2]) * h / wh, float(image.spacing[-1]) * w / ww)

    candidates = TissueTiles(opts.selection_tiles)
    plans: list[TilePlan] = []
    breast_sum, breast_count = 0.0, 0
    quarter_counts: list[int] = []
    polarities: list[Polarity] = []
    seen: list = []  # breast evidence per plane (is there a breast at all?)
    for z in range(z_count):
        if progress is not None:
            progress.check()
        plane = planes.get(z, keep=z_count == 1)
        breast_sum, breast_count = breast_sum + plane.breast_sum, breast_count + plane.breast_count
        polarities.append(polarity_of(plane.work[0, :wh, :ww], plane.mask[0, :wh, :ww], work_spacing))
        seen.append(evidence(plane.work[0, :wh, :ww], plane.mask[0, :wh, :ww]))
        if opts.mode == "sliding":
            plans.append(plan_stack(plane.work, tile, opts.overlap, plane.mask)[0])
            candidates.offer(z, plane, plans[-1].tiles, tile)
        else:
            quarter_counts.append(0)
            for i, (_, _, q, n) in enumerate(paper_quarters(plane.work, plane.mask, size)):
                if n > 0:
                    quarter_counts[-1] += 1
                    candidates.offer_patch((-n, -float(q.var()), z, i), q)
    if opts.mode == "sliding":
        n_tiles, n_skip = sum(len(p.tiles) for p in plans), sum(len(p.skipped) for p in plans)
        decisions.add(f"tiles: {n_tiles + n_skip} of {tile}x{tile} px at overlap {opts.overlap:g}, {n_skip} without breast skipped, {opts.blend} blending")
        batches = [-(-len(p.tiles) // opts.batch_size) for p in plans]
    else:
        batches = [-(-n // opts.batch_size) for n in quarter_counts]
    _check_breast(seen, opts, image.is_volume, roi is not None, path, decisions)
    pol = series_polarity(polarities)  # cheap, so always measured and reported, whichever method selects
    decisions.add(pol.describe())
    tile_mean = candidates.breast_mean()  # the "+" mean as training records it (selection tiles' breast means)
    input_mean = tile_mean if tile_mean is not None else breast_sum / max(breast_count, 1)
    return _Plan(opts, decisions, model, device, num_domains, size, tile, z_count, rows, cols, (row0, col0, row1, col1),
                 (wh, ww), new_shape is not None, planes, candidates, plans, batches, input_mean, pol)


@dataclass
class BranchChoice:
    """The branch-selection outcome for one image or series, without the segmentation."""

    branch: int | None
    scores: list[float | None]
    ood: bool
    method: str
    polarity: float | None
    decisions: list[str]
    ood_score: float | None = None
    inverted: bool = False  # a single-branch model gets the image inverted back (see _inverts_input)
    seconds: float = 0.0  # what making this choice took (the selection forward passes)


class PlannedImage:
    """One image (or DBT series) after pass 1, from which any number of branch choices and predictions are
    made without preparing it again: ``segment_image`` makes one of each; the benchmark scores several
    selection rows of one model on an image (the plan, and the norm moments of its selection tiles, once).

    ``reuse=True`` keeps a 2-D image's prepared plane after a prediction, for the next one."""

    def __init__(self, ckpt: Any, image: Image, options: InferenceOptions | None = None,
                 progress: Progress | None = None, roi: Roi | None = None, reuse: bool = False) -> None:
        start = time.perf_counter()
        self.ckpt, self.image, self.reuse = ckpt, image, reuse
        self.opts = options or InferenceOptions()
        self.plan = _plan(ckpt, image, self.opts, progress, roi)
        self.plan_seconds = time.perf_counter() - start
        self._moments: dict[bool, dict] = {}  # input sense (inverted back or not) -> select_branch's moment cache
        self._norm_stats: dict[tuple[bool, int | None], Statistics] = {}  # (sense, branch) -> image BatchNorm statistics

    def choose(self, selection: str | int) -> BranchChoice:
        """The branch (or, K = 1, the input sense) ``selection`` picks for this image, logged as it decides."""
        start = time.perf_counter()
        plan = self.plan
        decisions = _Decisions(plan.decisions)
        flip = _inverts_input(selection, plan.num_domains, plan.polarity, decisions)
        tiles = plan.candidates.tiles(flip)
        branch, scores, ood, method, ood_score = _choose_branch(self.ckpt, plan.model, plan.num_domains, selection,
                                                                tiles, plan.input_mean, plan.device, decisions,
                                                                plan.polarity, self._moments.setdefault(flip, {}))
        return BranchChoice(branch, scores, ood, method, plan.polarity.score, list(decisions), ood_score, flip,
                            time.perf_counter() - start)

    def segment(self, choice: BranchChoice, progress: Progress | None = None,
                norm_adapt: float | None = None, tta: int | None = None) -> SegmentationResult:
        """Pass 2: predict with the chosen branch only, plane by plane, straight into the output (with the
        BatchNorm statistics adapted to the image when the options ask for it, and each tile averaged over the
        options' dihedral transforms; ``norm_adapt``, ``tta``: these instead, as the benchmark's rows without
        adaptation or test-time augmentation ask)."""
        start = time.perf_counter()
        opts = self.opts if tta is None else replace(self.opts, tta=int(tta))
        decisions = _Decisions(choice.decisions)
        weight = self.norm_adapt_weight(choice) if norm_adapt is None else float(norm_adapt)
        stats = self._image_statistics(choice) if weight > 0 else []
        with adapted(self.plan.model, stats, weight) as n_adapted:
            full, n_tiles, n_skip = self._predict(choice, progress, opts)
        if opts.tta > 1:
            decisions.add(f"test-time augmentation: every tile predicted in {opts.tta} of its rotations and mirrors "
                          "(as training sampled them) and the probabilities averaged")
        if n_adapted:
            why = "out-of-distribution" if opts.norm_adapt_scope == "ood" else "every image (--norm-adapt-scope always)"
            decisions.add(f"test-time BatchNorm adaptation: {n_adapted} BatchNorms use {1 - weight:g} x stored + {weight:g} x "
                          f"this image's statistics ({len(self.plan.candidates.tiles())} selection tiles; {why})")

        mask = (full > opts.threshold).astype(np.uint8)
        if not self.image.is_volume:
            full, mask = full[0], mask[0]
        seconds = self.plan_seconds + choice.seconds + time.perf_counter() - start
        decisions.add(f"done: {int(np.count_nonzero(mask))} foreground pixels (p > {opts.threshold:g}) in {seconds:.2f} s")
        return SegmentationResult(
            mask=mask, probability=full, branch=choice.branch, scores=choice.scores, ood=choice.ood, tiles=n_tiles,
            skipped_tiles=n_skip, seconds=seconds, decisions=list(decisions), selection=choice.method,
            options=opts.to_dict(), polarity=choice.polarity, ood_score=choice.ood_score, inverted=choice.inverted,
            norm_adapt=weight if n_adapted else 0.0,
        )

    def norm_adapt_weight(self, choice: BranchChoice) -> float:
        """The weight of the image's own BatchNorm statistics for this choice (0: stored statistics only)."""
        opts = self.opts
        if opts.norm_adapt <= 0 or not has_batchnorm(self.plan.model):
            return 0.0
        return float(opts.norm_adapt) if (choice.ood or opts.norm_adapt_scope == "always") else 0.0

    def _image_statistics(self, choice: BranchChoice) -> Statistics:
        """BatchNorm statistics of the selection tiles as the chosen branch sees them (once per sense and branch)."""
        key = (choice.inverted, choice.branch)
        if key not in self._norm_stats:
            plan = self.plan
            self._norm_stats[key] = image_statistics(plan.model, plan.candidates.tiles(choice.inverted), choice.branch,
                                                     plan.device)
        return self._norm_stats[key]

    def _predict(self, choice: BranchChoice, progress: Progress | None,
                 opts: InferenceOptions) -> tuple[np.ndarray, int, int]:
        """(probability on the input grid (planes, rows, cols), tiles predicted, tiles skipped)."""
        plan = self.plan
        predict = make_predictor(plan.model, choice.branch, plan.num_domains, plan.device, opts.tta)
        row0, col0, row1, col1 = plan.box
        h, w = row1 - row0, col1 - col0
        wh, ww = plan.work_shape
        full = np.zeros((plan.z_count, plan.rows, plan.cols), dtype=np.float32)
        series = _SeriesProgress(progress, sum(plan.batches)) if progress is not None else None
        n_tiles = n_skip = 0
        for z in range(plan.z_count):
            plane = plan.planes.get(z, keep=self.reuse)
            # the breast only: the air stays dark, as in training (a new array: a kept plane stays as prepared)
            work = invert(plane.work, plane.mask) if choice.inverted else plane.work
            if series is not None:
                series.begin_plane(plan.batches[z])
            if opts.mode == "sliding":
                res = sliding_window(predict, work, plan.tile, opts.overlap, plane.mask, opts.batch_size, opts.blend,
                                     series, plans=[plan.plans[z]])
            else:
                res = paper_predict(predict, work, plan.size, plane.mask, opts.batch_size, series)
            n_tiles, n_skip = n_tiles + res.tiles, n_skip + res.skipped
            prob = res.probability[:, :wh, :ww]
            if plan.resampled:
                prob = np.clip(resize_stack(prob, (h, w), order=1), 0.0, 1.0)
            full[z, row0:row1, col0:col1] = prob[0]
            del plane, work, res, prob
        if series is not None:
            series.finish()
        return full, n_tiles, n_skip


def choose_branches_for_image(ckpt: Any, image: Image, selections: list[str | int],
                              options: InferenceOptions | None = None, roi: Roi | None = None) -> dict[Any, BranchChoice]:
    """Pass 1 once and every requested branch selection exactly as ``segment_image`` makes it, without
    predicting: what the selection tests (polarity x brightness) and the benchmark's OOD evaluation measure."""
    planned = PlannedImage(ckpt, image, options, roi=roi)
    return {selection: planned.choose(selection) for selection in selections}


def choose_branch_for_image(ckpt: Any, image: Image, selection: str | int = "cosine",
                            options: InferenceOptions | None = None, roi: Roi | None = None) -> BranchChoice:
    """The branch ``segment_image`` would use for ``image``, without segmenting it."""
    return choose_branches_for_image(ckpt, image, [selection], options, roi)[selection]


def segment_image(
    ckpt: Any,
    image: Image,
    selection: str | int = selection_pkg.DEFAULT_METHOD,
    options: InferenceOptions | None = None,
    progress: Progress | None = None,
    roi: Roi | None = None,
) -> SegmentationResult:
    """Segment calcifications in a 2-D mammogram or a 3-D DBT stack (slices, rows, cols).

    ``ckpt`` is a loaded checkpoint (``.model``, ``.header``, ``.stats``, ``.path``). ``selection`` is a
    method name or a fixed branch index. ``roi`` = (row0, col0, row1, col1) restricts the work (pixels
    outside it get probability 0). Raises InputError for bad input, Cancelled when ``progress`` is cancelled.
    """
    planned = PlannedImage(ckpt, image, options, progress, roi)
    # branch selection (or, for a single-branch model, the polarity correction), once for the image or series
    return planned.segment(planned.choose(selection), progress)


def _inverts_input(selection: str | int, num_domains: int, polarity: Polarity, decisions: _Decisions) -> bool:
    """Polarity selection on a single-branch model: invert the breast back when the image reads inverted.

    Why: a K = 1 network trained on source images alone (no inversion branch) fails on an inverted image
    (a wrong MONOCHROME1/2 tag: 0 % DSC on the benchmark's ``wrongtag`` style), and the polarity cue says
    which images those are. With K = 2 the same reading picks the inverted branch instead, so nothing is
    inverted there. Without a decisive reading the image is used as stored, and the log says so."""
    if num_domains != 1 or not isinstance(selection, str) or selection_pkg.canonical_method(selection) != "polarity":
        return False
    if polarity.branch == 1:
        decisions.add("image reads inverted: its breast is inverted back before the single-branch model "
                      "(the air is left as it is)", logging.WARNING)
        return True
    if polarity.branch is None:
        decisions.add("no decisive polarity reading: the image is used as stored")
    return False


def _check_breast(seen: list, opts: InferenceOptions, volume: bool, has_roi: bool, path: str | None, decisions: _Decisions) -> None:
    """Refuse (or, with ``require_breast=False``, warn about) an image in which no plane shows a breast."""
    problem = no_breast_problem(seen, "series" if volume else "ROI" if has_roi else "image")
    if problem is None:
        return
    if opts.require_breast:
        raise InputError(path, f"{problem}; nothing was segmented (--allow-no-breast segments it anyway)")
    decisions.add(f"{problem}; segmenting anyway as asked (require_breast=False)", logging.WARNING)


class _SeriesProgress:
    """One progress bar over all planes: per-plane batch counts are offset into a series-wide count."""

    def __init__(self, parent: Progress, total: int):
        self.parent, self.total = parent, max(total, 1)
        self.offset = self.current = 0
        self.started = False

    def begin_plane(self, batches: int) -> None:
        self.offset += self.current
        self.current = batches

    def check(self) -> None:
        self.parent.check()

    def step(self, done: int, total: int, message: str = "") -> None:
        if done == 0 and self.started:
            self.parent.check()
            return
        self.started = True
        self.parent.step(self.offset + min(done, self.current), self.total, message)

    def finish(self) -> None:
        if self.offset + self.current == 0:  # nothing was predicted: still close the bar
            self.parent.step(1, 1, "no tiles")


def _as_stack(image: Image) -> np.ndarray:
    array = np.asarray(image.array)
    if array.ndim not in (2, 3) or min(array.shape) < 1:
        raise InputError(image.path, f"expected a 2-D image or a 3-D stack, got an array of shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise InputError(image.path, "image holds non-numeric, NaN or infinite values")
    return array[None] if array.ndim == 2 else array


def _check_roi(roi: Roi | None, rows: int, cols: int, path: str | None) -> Roi:
    if roi is None:
        return 0, 0, rows, cols
    try:
        r0, c0, r1, c1 = (int(v) for v in roi)
    except (TypeError, ValueError):
        raise InputError(path, f"ROI must be (row0, col0, row1, col1), got {roi!r}") from None
    if not (0 <= r0 < r1 <= rows and 0 <= c0 < c1 <= cols):
        raise InputError(path, f"ROI {roi!r} is empty or outside the image ({rows}x{cols} px)")
    return r0, c0, r1, c1


def _device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(None, f"device {name!r} requested but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise InputError(None, f"unknown device {name!r}: {exc}") from None


def _check_tile_size(model: torch.nn.Module, tile: int, size: int, device: torch.device, path: Any) -> None:
    """Fail before any work if the network cannot take ``tile``-sized input (Swin windows fix the size)."""
    try:
        with torch.inference_mode():
            model(torch.zeros(1, 1, tile, tile, device=device), torch.zeros(1, dtype=torch.long, device=device))
    except (RuntimeError, AssertionError, ValueError) as exc:
        raise InputError(path, f"the model cannot take {tile}x{tile} tiles (trained at {size}x{size}): {str(exc)[:200]}") from None


def _train_spacing(ckpt: Any) -> tuple[float, float] | None:
    spacing = (getattr(ckpt, "header", None) or {}).get("spacing_mm")
    if spacing is None:
        return None
    values = [float(s) for s in spacing]
    if len(values) < 2:
        raise InputError(getattr(ckpt, "path", None), f"header spacing_mm {spacing!r} needs two in-plane values")
    return values[-2], values[-1]


def _choose_branch(
    ckpt: Any,
    model: torch.nn.Module,
    num_domains: int,
    selection: str | int,
    candidates: list[np.ndarray],
    input_mean: float,
    device: torch.device,
    decisions: _Decisions,
    polarity: Polarity | None = None,
    moment_cache: dict | None = None,
) -> tuple[int | None, list[float], bool, str, float | None]:
    """Return (branch, scores, ood, method, ood score); one call per image or series. ``moment_cache``: where
    the candidates' norm-input moments are kept between selections (``PlannedImage``)."""
    path = getattr(ckpt, "path", None)
    if isinstance(selection, (int, np.integer)) and not isinstance(selection, bool):
        if not 0 <= int(selection) < num_domains:
            raise InputError(path, f"branch {selection} does not exist; the model has {num_domains} branch(es)")
        decisions.add(f"branch {int(selection)} fixed by the caller; no selection")
        return int(selection), [], False, "fixed", None
    if not isinstance(selection, str):
        raise InputError(None, f"selection must be a method name or a branch index, got {selection!r}")
    method = selection_pkg.canonical_method(selection)
    if num_domains == 1:
        return _single_branch(ckpt, model, method, candidates, device, decisions, moment_cache)
    stats = getattr(ckpt, "stats", None)
    if stats is None and method != "union":
        raise InputError(path, f"checkpoint has no domain statistics, so selection {selection!r} is impossible; use 'union' or a fixed branch")
    if stats is None or not candidates:
        if method == "union":
            decisions.add(f"union of all {num_domains} branches (MLN-net-R): foreground if any branch says so; no statistics, no OOD check")
            return None, [], False, method, None
        decisions.add("no breast tissue in the image/ROI: nothing to select from; branch 0 used", logging.WARNING)
        return 0, [], False, method, None
    tiles = torch.from_numpy(np.stack(candidates)[:, None].astype(np.float32)).to(device)
    sel = selection_pkg.select_branch(model, tiles, stats, method=method, input_mean=input_mean, polarity=polarity,
                                      moment_cache=moment_cache)
    scores = [None if s is None else float(s) for s in sel.scores]
    shown = [None if s is None else round(s, 4) for s in scores]
    if method == "union":
        decisions.add(f"union of all {num_domains} branches (MLN-net-R): foreground if any branch says so; cosine scores {shown}")
    else:
        evidence = f" ({sel.note})" if getattr(sel, "note", "") else ""
        decisions.add(f"branch {sel.branch} chosen by {method} selection from {len(candidates)} tissue tiles; "
                      f"scores {shown}{evidence}")
    if sel.ood:
        _warn_ood(decisions)
    return (None if method == "union" else sel.branch), scores, bool(sel.ood), method, getattr(sel, "ood_score", None)


def _single_branch(ckpt: Any, model: torch.nn.Module, method: str, candidates: list[np.ndarray], device: torch.device,
                   decisions: _Decisions, moment_cache: dict | None = None) -> tuple[int, list[float], bool, str, float | None]:
    """K = 1: no branch to choose, but the OOD flag still compares the image's norm statistics with the ones
    recorded in training (cosine, as for the K = 2 methods without statistics of their own)."""
    shown = "polarity" if method == "polarity" else "single"  # polarity decided whether the image was inverted
    stats = getattr(ckpt, "stats", None)
    if stats is None or not candidates:
        decisions.add("model has a single branch; no selection" + ("" if stats is None else "; no tissue tiles, no OOD check"))
        return 0, [], False, shown, None
    tiles = torch.from_numpy(np.stack(candidates)[:, None].astype(np.float32)).to(device)
    sel = selection_pkg.select_branch(model, tiles, stats, method="cosine", moment_cache=moment_cache)
    calibrated = sel.threshold is not None
    decisions.add(f"model has a single branch; no selection; OOD score {sel.ood_score:.4f} from {len(candidates)} tissue "
                  f"tiles" + ("" if calibrated else " (no calibrated threshold in this checkpoint: no flag)"))
    if sel.ood:
        _warn_ood(decisions)
    return 0, [], bool(sel.ood), shown, sel.ood_score


def _warn_ood(decisions: _Decisions) -> None:
    decisions.add("out-of-distribution warning: the image is far from every training domain; treat the result with care",
                  logging.WARNING)
