"""Held-out evaluation of the classifiers: stratified 4:1 split (the seed's) or stratified k-fold.

When a patient id is known (``groups``), every split keeps all rows of one patient on one side (CC and MLO
views, left and right breast, follow-up images): otherwise a model can be tested on a view whose twin it was
trained on, and the AUC measures recognising patients, not calcifications. Grouped splits use sklearn's
StratifiedGroupKFold (class balance as close as the groups allow); the 4:1 split is its first fold of 5.

AUC is sklearn's ROC AUC of the positive-class probability on held-out rows (k-fold: pooled out-of-fold
scores). The 95% CI is a percentile bootstrap over held-out rows (resamples with one class only are
skipped); accuracy uses the models' own decision (probability >= 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.metrics import accuracy_score, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from MLNNetLib.classify.models import build_model
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)


def rank_auc(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC by the Mann-Whitney rank sum (ties count one half), vectorised over the last axis.

    ``y`` and ``score`` are (..., n); rows with one class only give NaN. Equals sklearn's roc_auc_score.
    """
    y = np.asarray(y, dtype=bool)
    ranks = rankdata(score, axis=-1)
    n1 = y.sum(axis=-1)
    n0 = y.shape[-1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(y, ranks, 0.0).sum(axis=-1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def bootstrap_auc_ci(y: np.ndarray, score: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the ROC AUC (one-class resamples skipped)."""
    y = np.asarray(y)
    score = np.asarray(score, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, len(y), (int(n_boot), len(y)))
    aucs = rank_auc(y[idx], score[idx])
    aucs = aucs[np.isfinite(aucs)]
    if aucs.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(aucs, [tail, 100.0 - tail])
    return float(lo), float(hi)


@dataclass
class ModelScore:
    name: str
    auc: float
    ci_low: float
    ci_high: float
    accuracy: float
    n_test: int
    fpr: list[float] = field(repr=False)
    tpr: list[float] = field(repr=False)

    def to_dict(self) -> dict:
        return {"auc": self.auc, "auc_ci95": [self.ci_low, self.ci_high], "accuracy": self.accuracy, "n_test": self.n_test}


def positive_score(model, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


def _score(name: str, y: np.ndarray, score: np.ndarray, pred: np.ndarray, n_boot: int, seed: int) -> ModelScore:
    auc = float(roc_auc_score(y, score))
    lo, hi = bootstrap_auc_ci(y, score, n_boot, seed)
    fpr, tpr, _ = roc_curve(y, score)
    return ModelScore(name, auc, lo, hi, float(accuracy_score(y, pred)), int(len(y)), fpr.tolist(), tpr.tolist())


def _check_classes(y: np.ndarray, needed: int, what: str) -> None:
    counts = np.bincount(y, minlength=2)
    if counts.min() < needed:
        raise InputError(None, f"{what} needs at least {needed} cases of each class, got {counts.tolist()}")


def _check_groups(y: np.ndarray, groups: np.ndarray, n_splits: int, what: str) -> None:
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise InputError(None, f"{what} needs at least {n_splits} patients, got {n_groups}")
    for c in (0, 1):
        with_class = len(np.unique(groups[y == c]))
        if with_class < 2:
            raise InputError(None, f"{what} grouped by patient needs at least 2 patients with class {c}, got {with_class}")


def split_indices(y: np.ndarray, test_size: float, seed: int, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices: stratified, and patient-disjoint when ``groups`` is given."""
    idx = np.arange(len(y))
    if groups is None:
        return tuple(train_test_split(idx, test_size=test_size, stratify=y, random_state=seed))
    n_splits = max(2, int(round(1.0 / test_size)))
    _check_groups(y, groups, n_splits, "a grouped split")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for train, test in splitter.split(idx, y, groups):
        if len(np.unique(y[test])) == 2 and len(np.unique(y[train])) == 2:
            return train, test
    raise InputError(None, "no patient-disjoint split holds both classes on both sides; add patients or use --folds")


def fold_indices(y: np.ndarray, folds: int, seed: int, groups: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The k (train, test) folds: stratified, and patient-disjoint when ``groups`` is given."""
    idx = np.arange(len(y))
    if groups is None:
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(idx, y))
    _check_groups(y, groups, folds, f"{folds}-fold cross-validation")
    return list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(idx, y, groups))


def evaluate_split(
    X: np.ndarray, y: np.ndarray, names: Sequence[str], test_size: float = 0.2, seed: int = 0, n_boot: int = 1000,
    groups: np.ndarray | None = None,
) -> tuple[dict[str, ModelScore], dict[str, object], np.ndarray]:
    """Stratified (patient-disjoint with ``groups``) train/test split; returns scores, the models fitted on the
    training part, test indices."""
    if not 0.0 < test_size < 1.0:
        raise InputError(None, f"--split must be between 0 and 1, got {test_size}")
    _check_classes(y, 2, "a stratified split")
    train, test = split_indices(y, test_size, seed, groups)
    scores, fitted = {}, {}
    for name in names:
        model = build_model(name, seed, n_train=len(train)).fit(X[train], y[train])
        s = positive_score(model, X[test])
        scores[name] = _score(name, y[test], s, model.predict(X[test]), n_boot, seed)
        fitted[name] = model
        log.info("%s: AUC %.3f (95%% CI %.3f-%.3f), accuracy %.3f on %d held-out cases", name,
                 scores[name].auc, scores[name].ci_low, scores[name].ci_high, scores[name].accuracy, len(test))
    return scores, fitted, test


def evaluate_kfold(
    X: np.ndarray, y: np.ndarray, names: Sequence[str], folds: int = 5, seed: int = 0, n_boot: int = 1000,
    groups: np.ndarray | None = None,
) -> dict[str, ModelScore]:
    """Stratified (patient-disjoint with ``groups``) k-fold; AUC, CI and accuracy over the pooled out-of-fold
    predictions."""
    if folds < 2:
        raise InputError(None, f"--folds must be at least 2, got {folds}")
    _check_classes(y, folds, f"{folds}-fold cross-validation")
    splits = fold_indices(y, folds, seed, groups)
    scores = {}
    for name in names:
        oof = np.zeros(len(y))
        pred = np.zeros(len(y), dtype=np.int64)
        for train, test in splits:
            model = clone(build_model(name, seed, n_train=len(train))).fit(X[train], y[train])
            oof[test] = positive_score(model, X[test])
            pred[test] = model.predict(X[test])
        scores[name] = _score(name, y, oof, pred, n_boot, seed)
        log.info("%s: %d-fold AUC %.3f (95%% CI %.3f-%.3f), accuracy %.3f", name, folds,
                 scores[name].auc, scores[name].ci_low, scores[name].ci_high, scores[name].accuracy)
    return scores
