"""``classify train`` / ``classify predict`` as library calls: evaluate, plot, save, apply.

The saved model is the FIRST of the requested models (AdaBoost by default), refitted on all rows after the
held-out evaluation, so the file uses every case while the reported numbers come from unseen ones.
Feature importance comes from that model fitted on the training part: the tree ensembles' impurity
importances, |coefficients| of the scaled logistic regression, else permutation importance (AUC drop) on
the held-out rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sklearn
import skops
from sklearn.inspection import permutation_importance

from MLNNetLib.atomic import check_writable, write_text
from MLNNetLib.classify.data import encode_labels, numeric_columns, read_table
from MLNNetLib.classify.evaluation import evaluate_kfold, evaluate_split
from MLNNetLib.classify.models import build_model
from MLNNetLib.classify.persistence import SavedClassifier, load_classifier, save_classifier
from MLNNetLib.classify.plots import plot_importance, plot_roc
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.quantify.table import write_table

log = get_logger(__name__)
OUTPUT_FILES = ("metrics.json", "roc.png", "feature_importance.png", "model.skops")
# Column names that hold a patient id (case-insensitive): used to keep a patient's rows on one side of every split.
PATIENT_COLUMNS = ("patient_id", "patientid", "patient")


def find_group_column(header: Sequence[str], group_column: str | None, path: str) -> str | None:
    """The patient-id column: the one asked for, else the first header named like ``PATIENT_COLUMNS``, else None."""
    if group_column:
        if group_column not in header:
            raise InputError(path, f"no column {group_column!r} to group by; columns are {list(header)}")
        return group_column
    return next((h for h in header if h.strip().lower() in PATIENT_COLUMNS), None)


def feature_importance(model, X: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """(importance per feature, how it was measured)."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if hasattr(final, "feature_importances_"):
        return np.asarray(final.feature_importances_, dtype=float), "impurity"
    if hasattr(final, "coef_"):
        return np.abs(np.asarray(final.coef_, dtype=float)).ravel(), "abs_coefficient_on_standardised_features"
    r = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=10, random_state=seed)
    return np.asarray(r.importances_mean, dtype=float), "permutation_auc_drop"


def train_classifiers(
    features_csv: str | os.PathLike,
    label_column: str,
    out_dir: str | os.PathLike,
    models: Sequence[str] = ("adaboost",),
    split: float | None = 0.2,
    folds: int | None = None,
    seed: int = 0,
    exclude: Sequence[str] = (),
    positive: str | None = None,
    n_boot: int = 1000,
    overwrite: bool = False,
    group_column: str | None = None,
) -> dict:
    """Evaluate ``models`` on held-out cases, write metrics.json, roc.png, feature_importance.png, model.skops.

    Rows of one patient stay together in every split when a patient id is known: ``group_column``, or a column
    named patient_id / PatientID / patient (found automatically; never used as a feature).
    """
    if not models:
        raise InputError(None, "no models to train")
    out = Path(out_dir)
    for name in OUTPUT_FILES:
        check_writable(out / name, overwrite)
    table = read_table(features_csv)
    group = find_group_column(table.header, group_column, table.path)
    groups = np.asarray(table.column(group)) if group else None
    names = numeric_columns(table, exclude=[label_column, *exclude, *([group] if group else [])])
    if not names:
        raise InputError(table.path, f"no numeric feature columns besides {label_column!r}")
    X = table.matrix(names)
    y, classes = encode_labels(table.column(label_column), table.path, positive)
    log.info("%d cases (%d %s), %d features, models %s", len(y), int(y.sum()), classes[1], len(names), list(models))
    if group:
        log.info("splits keep each patient's rows together: column %r, %d patients", group, len(np.unique(groups)))
    else:
        log.info("no patient id column (%s): rows are split one by one", "/".join(PATIENT_COLUMNS))

    primary = models[0]
    if folds:
        scores = evaluate_kfold(X, y, models, folds, seed, n_boot, groups)
        imp_model = build_model(primary, seed, n_train=len(y)).fit(X, y)
        imp, how = feature_importance(imp_model, X, y, seed)
        evaluation = {"mode": "stratified_kfold", "folds": int(folds)}
    else:
        scores, fitted, test = evaluate_split(X, y, models, split, seed, n_boot, groups)
        imp, how = feature_importance(fitted[primary], X[test], y[test], seed)
        evaluation = {"mode": "stratified_split", "test_fraction": float(split), "n_test": int(len(test))}
    if group:  # rows of one patient never on both sides (row-level splits say nothing extra)
        evaluation.update(grouped_by=group, n_groups=int(len(np.unique(groups))))

    final = build_model(primary, seed, n_train=len(y)).fit(X, y)
    save_classifier(out / "model.skops", SavedClassifier(final, names, classes, primary, label_column), overwrite)
    plot_roc(scores, out / "roc.png", overwrite)
    plot_importance(names, imp, f"{primary} feature importance ({how})", out / "feature_importance.png", overwrite)
    metrics = {
        "features_csv": os.fspath(features_csv), "label_column": label_column, "classes": classes,
        "positive_class": classes[1], "n_cases": int(len(y)), "n_positive": int(y.sum()), "features": names,
        "evaluation": evaluation, "seed": int(seed), "bootstrap_resamples": int(n_boot),
        "models": {n: s.to_dict() for n, s in scores.items()},
        "saved_model": {"name": primary, "file": "model.skops", "fitted_on": "all rows"},
        "feature_importance": {"model": primary, "method": how, "values": dict(zip(names, imp.tolist()))},
        "versions": {"scikit-learn": sklearn.__version__, "skops": skops.__version__},
    }
    write_text(out / "metrics.json", json.dumps(metrics, indent=2), overwrite)
    return metrics


def predict_table(model_path: str | os.PathLike, features_csv: str | os.PathLike, out: str | os.PathLike | None = None,
                  overwrite: bool = False) -> list[dict]:
    """Apply a saved classifier to new rows; returns one dict per row (row, probability, prediction)."""
    if out is not None:
        check_writable(out, overwrite)
    clf = load_classifier(model_path)
    table = read_table(features_csv)
    missing = [f for f in clf.features if f not in table.header]
    if missing:
        raise InputError(table.path, f"missing feature column(s) the model needs: {missing}")
    proba = clf.predict_proba(table.matrix(clf.features))
    results = [
        {"row": i + 1, f"probability_{clf.classes[1]}": float(p), "prediction": clf.classes[int(p >= 0.5)]}
        for i, p in enumerate(proba)
    ]
    if out is not None:
        extra = [k for k in results[0] if k != "row"] if results else []
        rows = [dict(zip(table.header, r)) | {k: res[k] for k in extra} for r, res in zip(table.rows, results)]
        write_table(out, rows, [*table.header, *extra], overwrite)
    return results
