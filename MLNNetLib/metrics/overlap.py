"""Pixel-level overlap metrics (TPR, precision, Dice) with an explicit empty-mask policy.

Policy (DESIGN §6): when the denominator is zero because *both* masks are empty, the value is 1
(nothing to find, nothing wrongly found); when it is zero because only one mask is empty, the value
is 0 (medpy's convention for undefined ratios).
"""

from __future__ import annotations

import numpy as np


def _ratio(num: int, den: int, both_empty: bool) -> float:
    if den == 0:
        return 1.0 if both_empty else 0.0
    return num / den


def confusion(pred: np.ndarray, ref: np.ndarray) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) pixel counts."""
    pred, ref = np.asarray(pred, dtype=bool), np.asarray(ref, dtype=bool)
    tp = int(np.count_nonzero(pred & ref))
    return tp, int(np.count_nonzero(pred)) - tp, int(np.count_nonzero(ref)) - tp


def tpr(pred: np.ndarray, ref: np.ndarray) -> float:
    """Sensitivity TP / (TP + FN)."""
    tp, fp, fn = confusion(pred, ref)
    return _ratio(tp, tp + fn, tp + fp + fn == 0)


def precision(pred: np.ndarray, ref: np.ndarray) -> float:
    """Precision TP / (TP + FP)."""
    tp, fp, fn = confusion(pred, ref)
    return _ratio(tp, tp + fp, tp + fp + fn == 0)


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice similarity coefficient 2·TP / (|pred| + |ref|)."""
    tp, fp, fn = confusion(pred, ref)
    return _ratio(2 * tp, 2 * tp + fp + fn, tp + fp + fn == 0)
