"""Saving and loading a trained classifier without pickle: skops files checked against an explicit allow-list.

A ``.skops`` file describes objects instead of running code; loading still refuses any type that is not in
``TRUSTED_TYPES`` (the few scikit-learn internals our models hold beyond skops' defaults), so a crafted file
cannot make us instantiate something else. The file holds one dict: the fitted model, the feature names in
column order, the class names ([negative, positive]), the model name, the label column and a format version.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skops.io as sio

from MLNNetLib.atomic import atomic_path
from MLNNetLib.errors import InputError

FORMAT = "mlnnet-classifier/1"
TRUSTED_TYPES = frozenset({
    "sklearn.tree._tree.Tree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
})


@dataclass
class SavedClassifier:
    model: object
    features: list[str]
    classes: list[str]
    name: str
    label_column: str
    path: str | None = None

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of the positive class (``classes[1]``) per row."""
        return np.asarray(self.model.predict_proba(X))[:, 1]


def save_classifier(path: str | os.PathLike, clf: SavedClassifier, overwrite: bool = False) -> Path:
    payload = {
        "format": FORMAT, "model": clf.model, "features": list(clf.features), "classes": list(clf.classes),
        "name": clf.name, "label_column": clf.label_column,
    }
    with atomic_path(path, overwrite) as tmp:
        sio.dump(payload, tmp)
    return Path(path)


def load_classifier(path: str | os.PathLike, extra_trusted: Sequence[str] = ()) -> SavedClassifier:
    """Load a file written by :func:`save_classifier`; refuses unknown types and malformed content."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "model file not found")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises various errors for a file that is not a skops archive
        raise InputError(path, f"not a readable skops model file ({exc.__class__.__name__}: {exc})") from None
    refused = sorted(set(untrusted) - TRUSTED_TYPES - set(extra_trusted))
    if refused:
        raise InputError(path, f"refusing to load: the file holds types outside the allow-list: {refused}")
    try:
        payload = sio.load(path, trusted=list(untrusted))
    except Exception as exc:
        raise InputError(path, f"cannot load model ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(path, f"not an MLNNet classifier file (expected format {FORMAT!r})")
    return SavedClassifier(payload["model"], list(payload["features"]), list(payload["classes"]),
                           str(payload["name"]), str(payload["label_column"]), path)
