"""Benign/malignant classification of image-level calcification features (seeds/002 §2.5, §4).

``models`` (the seed's classifiers), ``data`` (features CSV -> X, y), ``evaluation`` (split / k-fold, ROC AUC with
bootstrap CI, accuracy), ``plots`` (ROC and importance PNGs), ``persistence`` (skops with an allow-list),
``training`` (the whole ``classify train`` run).
"""

from MLNNetLib.classify.evaluation import ModelScore, bootstrap_auc_ci, evaluate_kfold, evaluate_split
from MLNNetLib.classify.models import ALL_MODELS, DEFAULT_MODEL, available_models, build_model, parse_model_list
from MLNNetLib.classify.persistence import SavedClassifier, load_classifier, save_classifier
from MLNNetLib.classify.training import feature_importance, predict_table, train_classifiers

__all__ = [
    "ALL_MODELS", "DEFAULT_MODEL", "ModelScore", "SavedClassifier", "available_models", "bootstrap_auc_ci",
    "build_model", "evaluate_kfold", "evaluate_split", "feature_importance", "load_classifier", "parse_model_list",
    "predict_table", "save_classifier", "train_classifiers",
]
