"""The seed's benign/malignant classifiers (seeds/002 §2.5, §4): AdaBoost by default; DT, LR, SVM, KNN, RF, XGBoost.

Scale-sensitive models (LR, SVM, KNN) get a StandardScaler in front, fitted on training rows only, because
the feature vector mixes counts, mm² and intensities. XGBoost is offered only when the package imports.
"""

from __future__ import annotations

import importlib.util

from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from MLNNetLib.errors import InputError

DEFAULT_MODEL = "adaboost"
ALL_MODELS = ("adaboost", "dt", "lr", "svm", "knn", "rf", "xgboost")


def xgboost_available() -> bool:
    return importlib.util.find_spec("xgboost") is not None


def available_models() -> list[str]:
    return [m for m in ALL_MODELS if m != "xgboost" or xgboost_available()]


def build_model(name: str, seed: int = 0, n_train: int | None = None) -> ClassifierMixin:
    """A fresh, unfitted classifier; ``n_train`` caps KNN's k on tiny data sets."""
    if name == "adaboost":
        return AdaBoostClassifier(n_estimators=100, random_state=seed)
    if name == "dt":
        return DecisionTreeClassifier(max_depth=5, random_state=seed)
    if name == "lr":
        return Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=2000))])
    if name == "svm":
        # SVC(probability=True) is deprecated in sklearn 1.9: Platt scaling through the calibrator instead.
        svc = SVC(kernel="rbf", random_state=seed)
        return Pipeline([("scale", StandardScaler()), ("svm", CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False))])
    if name == "knn":
        k = 5 if n_train is None else max(1, min(5, n_train // 2))
        return Pipeline([("scale", StandardScaler()), ("knn", KNeighborsClassifier(n_neighbors=k))])
    if name == "rf":
        return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    if name == "xgboost":
        if not xgboost_available():
            raise InputError(None, "model 'xgboost' needs the xgboost package, which is not installed")
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=200, max_depth=3, random_state=seed, n_jobs=1)
    raise InputError(None, f"unknown model {name!r}; choose from {', '.join(ALL_MODELS)}")


def parse_model_list(text: str) -> list[str]:
    """'adaboost,dt' -> ['adaboost', 'dt']; xgboost is dropped (with no error) when not installed."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(None, "--models is empty")
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown:
        raise InputError(None, f"unknown model(s) {unknown}; choose from {', '.join(ALL_MODELS)}")
    return [n for n in dict.fromkeys(names) if n != "xgboost" or xgboost_available()]
