"""Test-time branch selection (DESIGN §4): compare an image's per-branch norm statistics with training's.

For each branch k the image's tissue tiles run with d = k (all K branches in one batched forward of K copies);
the per-channel μ/σ of every norm input are compared with the ones recorded for domain k in training.
``cosine`` (MLN-net) takes the argmax of summed cosine similarities (the paper's argmin is a slip),
``euclidean`` (MLN-net-E) the argmin of summed L2 distances, ``standardized`` the argmin of channel-standardised Gaussian distances (ours), ``plus``/``euclidean_plus`` add the correctional
mean (mean breast intensity), ``union`` (MLN-net-R) selects nothing. A best score beyond the threshold
calibrated on training images flags the image as out of distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.selection.polarity import Polarity
from MLNNetLib.selection.statistics import DomainStatistics, LayerMoments, MomentRecorder, cosine

log = get_logger(__name__)

# method -> (uses the correctional mean, higher score is better)
METHODS: dict[str, tuple[bool, bool]] = {
    "cosine": (False, True),
    "euclidean": (False, False),
    "plus": (True, True),
    "euclidean_plus": (True, False),
    "union": (False, True),  # no selection; cosine scores are still reported (and drive the OOD flag)
    "standardized": (False, False),
    "response": (False, True),  # ours: the branch that responds most strongly (see branch_responses)
    "polarity": (False, True),  # ours: ordinal tissue polarity of the whole image (selection/polarity.py)
}
# The default of `mlnnet segment`, the Slicer module and segment_image: it won the polarity x brightness test and
# the generalisation benchmark (docs/decisions.md); the paper's methods stay one option away.
DEFAULT_METHOD = "polarity"
# Methods that select without feature statistics of their own: the OOD flag uses the cosine scores.
OOD_BY_COSINE = ("union", "response", "polarity")
RESPONSE_TIE = 0.02  # responses closer than this: no evidence either way -> the source-similar branch 0
ALIASES = {"cosine_plus": "plus", "mln-net": "cosine", "mln-net-e": "euclidean", "mln-net+": "plus",
           "mln-net-e+": "euclidean_plus", "mln-net-r": "union"}
# Weight of the correctional-mean term: it counts as one more "layer". For cosine a layer contributes two
# similarities in [-1, 1], so the mean term is 2 * (1 - |Δm|) (intensities are in [0, 1]); for euclidean it is
# the plain distance |Δm| of the one-element vector appended to Q.
PLUS_COSINE_WEIGHT = 2.0


@dataclass
class Selection:
    """Which branch segments an image, and why (scores per branch; None = domain never recorded)."""

    branch: int | None
    scores: list[float | None]
    ood: bool
    method: str
    threshold: float | None = None
    higher_is_better: bool = True
    input_mean: float | None = None
    tiles: int = 0
    note: str = ""  # evidence behind the choice (e.g. the polarity reading, a fallback)
    ood_score: float | None = None  # shortfall from a perfect statistics match (larger = further from training)
    ood_method: str = ""  # whose statistics the OOD score uses

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scores"] = [None if s is None or not math.isfinite(s) else float(s) for s in self.scores]
        return d


def canonical_method(method: str) -> str:
    m = ALIASES.get(method.lower(), method.lower())
    if m not in METHODS:
        raise InputError(None, f"unknown selection method {method!r}; choose one of {sorted(METHODS)}")
    return m


def fallback_input_mean(tiles: torch.Tensor) -> float:
    """Mean of the tile pixels above the minimum value (the paper's "excluding the background" mean)."""
    t = tiles.detach().float()
    fg = t[t > t.min()]
    return float(fg.mean()) if fg.numel() else float(t.mean())


@torch.no_grad()
def branch_moments(model: nn.Module, tiles: torch.Tensor, max_batch: int = 16) -> dict[str, LayerMoments]:
    """Norm-input moments of ``tiles`` (N,C,S,S) run through every branch: row k = tiles with d = k."""
    tiles = torch.as_tensor(tiles)
    if tiles.ndim != 4 or tiles.shape[0] == 0:
        raise InputError(None, f"need a non-empty (N, C, S, S) batch of tissue tiles, got {tuple(tiles.shape)}")
    k, n = model.num_domains, tiles.shape[0]
    param = next(model.parameters())
    x = tiles.to(device=param.device, dtype=param.dtype).repeat(k, 1, 1, 1)
    device = param.device
    d = torch.arange(k, device=device).repeat_interleave(n)
    was_training = model.training
    model.eval()
    try:
        with MomentRecorder(model) as rec:
            for start in range(0, x.shape[0], max(1, max_batch)):
                model(x[start:start + max_batch], d[start:start + max_batch])
    finally:
        model.train(was_training)
    return rec.moments


@torch.no_grad()
def branch_responses(model: nn.Module, tiles: torch.Tensor, max_batch: int = 16) -> list[float]:
    """Per branch: the mean over the image's tissue tiles of the tile's highest calcification probability.

    Why: on our synthetic domains the paper's feature statistics tracked global brightness, not polarity —
    a MONOCHROME1-style image whose mean brightness lay between the training domains' was matched to the
    non-inverted branch (all 4 demo images), and a soft digitised-film image to the inverted one (2 of 4).
    The branch whose domain matches the image is the one that sees calcification-like spots in its tissue
    (on the demo model it picked the better branch on all 8 test images scored both ways, and branch 1 for all
    4 MONOCHROME1-style ones); the other branch sees none.
    """
    tiles = torch.as_tensor(tiles)
    k, n = model.num_domains, tiles.shape[0]
    param = next(model.parameters())
    x = tiles.to(device=param.device, dtype=param.dtype)
    was_training = model.training
    model.eval()
    try:
        out = []
        for branch in range(k):
            peaks = [torch.sigmoid(model(x[a:a + max_batch], branch).float()).amax(dim=(1, 2, 3))
                     for a in range(0, n, max(1, max_batch))]
            out.append(float(torch.cat(peaks).mean()))
    finally:
        model.train(was_training)
    return out


def standardized_distance(mu_t: torch.Tensor, sd_t: torch.Tensor, mu_d: torch.Tensor, sd_d: torch.Tensor) -> float:
    """Mean over channels of the squared 2-Wasserstein distance between the test and the domain's per-channel
    Gaussians, in units of the domain's own spread: ((mu_t - mu_d)^2 + (sd_t - sd_d)^2) / sd_d^2.

    Cosine similarity of whole mean vectors barely moves when every channel shifts together (it ignores
    magnitude), and raw L2 is dominated by the widest channels; scaling each channel by how much it varies
    in training makes a polarity or contrast change visible in every layer.
    """
    scale = sd_d.clamp_min(1e-6) ** 2
    return float((((mu_t - mu_d) ** 2 + (sd_t - sd_d) ** 2) / scale).mean())


def score_branches(test: dict[str, LayerMoments], stats: DomainStatistics, method: str,
                   input_mean: float | None = None) -> list[float | None]:
    """One score per branch (None where training never saw that domain)."""
    method = canonical_method(method)
    plus, higher = METHODS[method]
    counts = stats.domain_counts()
    train_means = stats.input_means()
    if plus and input_mean is None:
        raise InputError(None, f"selection method {method!r} needs the image's mean breast intensity")
    scores: list[float | None] = []
    for k in range(stats.num_domains):
        if counts[k] == 0 or (plus and train_means[k] is None):
            scores.append(None)
            continue
        total = 0.0
        for name, moments in test.items():
            mu_t, sd_t = moments.mean()[k], moments.std()[k]
            mu_d, sd_d = stats.layers[name].mean()[k], stats.layers[name].std()[k]
            if method == "standardized":
                total += standardized_distance(mu_t, sd_t, mu_d, sd_d)
            elif higher:
                total += cosine(mu_t, mu_d) + cosine(sd_t, sd_d)
            else:
                total += float((mu_t - mu_d).norm()) + float((sd_t - sd_d).norm())
        if plus:
            gap = abs(float(input_mean) - train_means[k])
            total += PLUS_COSINE_WEIGHT * (1.0 - gap) if higher else gap
        scores.append(total)
    return scores


def _best(scores: Sequence[float | None], higher: bool) -> tuple[int, float]:
    valid = [(s, k) for k, s in enumerate(scores) if s is not None and math.isfinite(s)]
    if not valid:
        raise InputError(None, "no branch has recorded domain statistics to compare with")
    s, k = max(valid) if higher else min(valid)
    return k, s


def _response_choice(model: nn.Module, tiles: torch.Tensor, max_batch: int) -> tuple[list[float], int]:
    """Response selection: the branch with the strongest calcification response; a tie keeps branch 0."""
    scores = branch_responses(model, tiles, max_batch)
    ranked = sorted(scores, reverse=True)
    best_k = int(np.argmax(scores))
    if len(ranked) > 1 and ranked[0] - ranked[1] < RESPONSE_TIE:
        best_k = 0
        log.info("selection response: branches respond alike %s; keeping the source-similar branch 0",
                 [round(v, 3) for v in scores])
    return scores, best_k


def select_branch(model: nn.Module, tiles: torch.Tensor, stats: DomainStatistics, method: str = "cosine",
                  input_mean: float | None = None, threshold: float | None = None, max_batch: int = 16,
                  polarity: Polarity | None = None, moment_cache: dict | None = None) -> Selection:
    """Choose the branch for one image from a few of its tissue tiles (one batched forward of K copies).

    ``polarity`` is the whole image's tissue polarity (selection/polarity.py), used by the "polarity" method;
    ``moment_cache``: a dict kept by the caller for these very tiles; the first call stores their
    ``branch_moments`` in it and later calls reuse them (several selections of one image, one forward pass)."""
    method = canonical_method(method)
    plus, higher = METHODS[method]
    stats.check_matches(model)
    tiles = torch.as_tensor(tiles)
    if plus and input_mean is None:
        input_mean = fallback_input_mean(tiles)
        log.warning("selection %s: no breast mean intensity given; using the tiles' non-background mean %.4f",
                    method, input_mean)
    moments = None if moment_cache is None else moment_cache.get("moments")
    if moments is None:
        moments = branch_moments(model, tiles, max_batch)
        if moment_cache is not None:
            moment_cache["moments"] = moments
    note = ""
    if method == "polarity":
        cos_scores = score_branches(moments, stats, "cosine", None)
        if polarity is not None and polarity.decisive and stats.num_domains == 2:
            best_k, scores = int(polarity.branch), [float(polarity.score), -float(polarity.score)]
            note = polarity.describe()
        else:
            scores, best_k = _response_choice(model, tiles, max_batch)
            note = (polarity.describe() if polarity is not None else "no whole-image polarity given") + \
                "; fell back to response selection"
            log.info("selection polarity: %s", note)
        best = _best(cos_scores, True)[1]
    elif method == "response":
        cos_scores = score_branches(moments, stats, "cosine", None)
        scores, best_k = _response_choice(model, tiles, max_batch)
        best = _best(cos_scores, True)[1]
    else:
        scores = score_branches(moments, stats, method, input_mean)
        best_k, best = _best(scores, higher)
    ood_key = "cosine" if method in OOD_BY_COSINE else method
    if threshold is None:
        threshold = stats.ood_thresholds.get(ood_key)
    ood_higher = METHODS[ood_key][1]
    ood = threshold is not None and (best < threshold if ood_higher else best > threshold)
    shortfall = abs(ideal_score(stats, ood_key) - best)
    branch = None if method == "union" else best_k
    log.info("branch selection %s over %d tiles: scores %s -> branch %s%s", method, tiles.shape[0],
             ["-" if s is None else round(s, 4) for s in scores], branch,
             f" (OUT OF DISTRIBUTION: best {best:.4f} beyond threshold {threshold:.4f})" if ood else "")
    return Selection(branch, scores, bool(ood), method, threshold, higher,
                     None if input_mean is None else float(input_mean), int(tiles.shape[0]), note, shortfall, ood_key)


def ideal_score(stats: DomainStatistics, method: str) -> float:
    """The score of a perfect match: 2 per layer (+ the mean term) for similarities, 0 for distances."""
    plus, higher = METHODS[canonical_method(method)]
    return 2.0 * len(stats.layers) + (PLUS_COSINE_WEIGHT if plus else 0.0) if higher else 0.0


def calibrate_ood(model: nn.Module, stats: DomainStatistics, tiles_per_image: Sequence[torch.Tensor],
                  method: str = "cosine", percentile: float = 5.0, margin: float = 3.0,
                  input_means: Sequence[float | None] | None = None, store: bool = True) -> float:
    """OOD threshold from training images' best scores, stored in ``stats.ood_thresholds[method]``.

    The shortfall of the best score from a perfect match is taken at a high percentile (100 - ``percentile``)
    over the given images and multiplied by ``margin``: images used to record the statistics match them
    better than unseen images of the same domain do, so the bare percentile would flag in-distribution images.
    An image is out of distribution when its shortfall exceeds that.
    """
    method = canonical_method(method)
    key = "cosine" if method == "union" else method
    plus, higher = METHODS[key]
    if not tiles_per_image:
        raise InputError(None, "calibrate_ood needs the tiles of at least one training image")
    if margin < 1:
        raise InputError(None, f"margin must be >= 1, got {margin}")
    ideal = ideal_score(stats, key)
    shortfalls = []
    for i, tiles in enumerate(tiles_per_image):
        m = None
        if plus:
            m = input_means[i] if input_means is not None and input_means[i] is not None else fallback_input_mean(tiles)
        best = _best(score_branches(branch_moments(model, tiles), stats, key, m), higher)[1]
        shortfalls.append(abs(ideal - best))
    limit = margin * float(np.percentile(np.asarray(shortfalls), 100.0 - percentile))
    threshold = ideal - limit if higher else ideal + limit
    if store:
        stats.ood_thresholds[key] = threshold
    log.info("OOD threshold for %s: %.4f (perfect %.1f; %.1f x the %.0fth-percentile shortfall of %d images)",
             key, threshold, ideal, margin, 100.0 - percentile, len(shortfalls))
    return threshold
