"""ROC and feature-importance figures (matplotlib, Agg backend: no display needed), written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from MLNNetLib.atomic import atomic_path  # noqa: E402
from MLNNetLib.classify.evaluation import ModelScore  # noqa: E402


def _save(fig, path: str | os.PathLike, overwrite: bool) -> Path:
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return Path(path)


def plot_roc(scores: dict[str, ModelScore], path: str | os.PathLike, overwrite: bool = False) -> Path:
    """All models' ROC curves in one figure, AUC and 95% CI in the legend."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, s in scores.items():
        ax.plot(s.fpr, s.tpr, label=f"{name}: AUC {s.auc:.2f} ({s.ci_low:.2f}-{s.ci_high:.2f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (held-out cases)", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return _save(fig, path, overwrite)


def plot_importance(names: Sequence[str], importance: np.ndarray, title: str, path: str | os.PathLike,
                    overwrite: bool = False, top: int = 20) -> Path:
    """Horizontal bar chart of the ``top`` most important features."""
    order = np.argsort(importance)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(order) + 1.2))
    ax.barh([names[i] for i in order], np.asarray(importance)[order])
    ax.set(xlabel="importance", title=title)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return _save(fig, path, overwrite)
