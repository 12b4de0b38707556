"""Per-case metric rows summarised over a data set: mean ± std per metric and per group (domain, pathology, label
kind...), with undefined values kept apart.

A metric that is undefined for a case (``None``, e.g. cluster sensitivity when the reference has no cluster, or
pixel overlap against a loose region outline) is left out of that metric's mean and std and counted as
``undefined``; it is never read as 0 or 1. NaN is treated the same way. The std is the population std
(ddof 0), as in the demo's tables. Detection counts are also pooled over cases (found / reference objects),
the figure lesion-level papers report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def _defined(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def mean_std(values: Iterable[Any]) -> dict[str, Any]:
    """{"mean", "std", "n" (defined values), "undefined"}; mean and std are None when nothing is defined."""
    values = list(values)
    good = np.asarray([float(v) for v in values if _defined(v)], dtype=np.float64)
    undefined = len(values) - len(good)
    if len(good) == 0:
        return {"mean": None, "std": None, "n": 0, "undefined": undefined}
    return {"mean": float(good.mean()), "std": float(good.std()), "n": int(len(good)), "undefined": undefined}


def summarise(rows: Sequence[dict], keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {k: mean_std(r.get(k) for r in rows) for k in keys}


def pooled(rows: Sequence[dict], level: str) -> dict[str, Any] | None:
    """Detection counts of ``level`` ("lesions" or "clusters") summed over cases, with pooled rates."""
    counts = [r["counts"][level] for r in rows if isinstance(r.get("counts"), dict) and r["counts"].get(level)]
    if not counts:
        return None
    total = {k: int(sum(c[k] for c in counts)) for k in ("n_ref", "n_pred", "found", "matched")}
    total["sensitivity"] = total["found"] / total["n_ref"] if total["n_ref"] else None
    total["precision"] = total["matched"] / total["n_pred"] if total["n_pred"] else None
    total["cases"] = len(counts)
    return total


def grouped(rows: Sequence[dict], keys: Sequence[str], by: Sequence[str]) -> dict[str, dict[str, Any]]:
    """For every grouping field present in the rows: {value: {"cases": n, "metrics": summarise(...)}}."""
    out: dict[str, dict[str, Any]] = {}
    for field in by:
        values = sorted({str(r[field]) for r in rows if r.get(field) is not None})
        if not values:
            continue
        out[field] = {v: {"cases": sum(1 for r in rows if str(r.get(field)) == v),
                          "metrics": summarise([r for r in rows if str(r.get(field)) == v], keys)} for v in values}
    return out


def format_mean_std(entry: dict[str, Any], percent: bool = False) -> str:
    """'72.0 ± 10.1' (percent) / '0.42 ± 0.10'; '–' when undefined everywhere; the undefined count in brackets."""
    if entry["mean"] is None:
        return "–"
    scale = 100.0 if percent else 1.0
    digits = 1 if percent else 2
    text = f"{scale * entry['mean']:.{digits}f} ± {scale * entry['std']:.{digits}f}"
    return text + (f" ({entry['undefined']} undefined)" if entry["undefined"] else "")
