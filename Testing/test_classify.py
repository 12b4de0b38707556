"""Classifier evaluation, persistence without pickle, and the classify command, on synthetic feature tables."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import skops.io as sio
from sklearn.metrics import roc_auc_score

from MLNNetLib.classify import bootstrap_auc_ci, load_classifier, predict_table, train_classifiers
from MLNNetLib.classify.evaluation import evaluate_kfold, rank_auc
from MLNNetLib.classify.persistence import FORMAT
from MLNNetLib.cli import main
from MLNNetLib.errors import InputError

PNG = b"\x89PNG\r\n\x1a\n"


def write_cases(path, n, separable, seed=0, labels=("benign", "malignant")):
    """Case table: an id column, 5 features, a text label; malignant cases shift two features when separable."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    rng.shuffle(y)
    X = rng.normal(size=(n, 5))
    if separable:
        X[:, 0] += 4.0 * y
        X[:, 2] -= 2.0 * y
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case_id", "calc_num", "density", "clu_num", "round_l", "size_30", "mb"])
        for i in range(n):
            w.writerow([1000 + i, *X[i].round(6), labels[y[i]]])
    return path


def test_rank_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(5):
        y = rng.integers(0, 2, 40)
        s = np.round(rng.normal(size=40) + y, 1)  # rounding makes ties
        assert rank_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_bootstrap_ci_brackets_the_auc():
    rng = np.random.default_rng(4)
    y = np.arange(60) % 2
    s = rng.normal(size=60) + 1.2 * y
    auc = roc_auc_score(y, s)
    lo, hi = bootstrap_auc_ci(y, s, n_boot=500, seed=1)
    assert lo < auc < hi and 0.0 <= lo and hi <= 1.0 and hi - lo < 0.5


def test_separable_features_give_high_auc_and_all_outputs(tmp_path):
    csv_path = write_cases(tmp_path / "cases.csv", 100, separable=True)
    out = tmp_path / "run"
    m = train_classifiers(csv_path, "mb", out, models=["adaboost", "lr", "dt", "svm", "knn", "rf"],
                          exclude=["case_id"], n_boot=300)
    assert m["positive_class"] == "malignant" and m["n_cases"] == 100 and m["evaluation"]["n_test"] == 20
    assert "case_id" not in m["features"] and len(m["features"]) == 5
    for name, s in m["models"].items():
        assert s["auc"] > 0.9, name
        assert s["auc_ci95"][0] <= s["auc"] <= s["auc_ci95"][1], name
        assert 0.75 <= s["accuracy"] <= 1.0, name
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["models"]["adaboost"]["auc"] == m["models"]["adaboost"]["auc"]
    imp = on_disk["feature_importance"]["values"]
    assert max(imp, key=imp.get) in ("calc_num", "clu_num")  # the two shifted features
    for png in ("roc.png", "feature_importance.png"):
        assert (out / png).read_bytes()[:8] == PNG
    with pytest.raises(FileExistsError):
        train_classifiers(csv_path, "mb", out, models=["lr"], exclude=["case_id"])


def test_shuffled_labels_give_chance_auc(tmp_path):
    csv_path = write_cases(tmp_path / "noise.csv", 400, separable=False, seed=7)
    m = train_classifiers(csv_path, "mb", tmp_path / "run", models=["lr", "adaboost"], folds=5,
                          exclude=["case_id"], n_boot=200)
    assert m["evaluation"] == {"mode": "stratified_kfold", "folds": 5}
    for name, s in m["models"].items():
        assert 0.35 < s["auc"] < 0.65, name


@pytest.mark.parametrize("name", ["rf", "svm", "knn"])  # tree, calibrator and KD-tree types of the allow-list
def test_saved_model_round_trip_predicts_the_same(tmp_path, name):
    csv_path = write_cases(tmp_path / "cases.csv", 60, separable=True)
    train_classifiers(csv_path, "mb", tmp_path / "run", models=[name], exclude=["case_id"], n_boot=50)
    clf = load_classifier(tmp_path / "run" / "model.skops")
    assert clf.name == name and clf.classes == ["benign", "malignant"]
    new = write_cases(tmp_path / "new.csv", 30, separable=True, seed=9)
    rows = predict_table(tmp_path / "run" / "model.skops", new, tmp_path / "pred.csv")
    from MLNNetLib.classify.data import read_table

    X = read_table(new).matrix(clf.features)
    direct = clf.model.predict_proba(X)[:, 1]
    assert [r["probability_malignant"] for r in rows] == pytest.approx(direct.tolist())
    written = list(csv.DictReader(open(tmp_path / "pred.csv")))
    assert len(written) == 30 and written[0]["case_id"] == "1000"
    truth = [r["mb"] for r in written]
    assert np.mean([w["prediction"] == t for w, t in zip(written, truth)]) > 0.8


def test_loading_refuses_types_outside_the_allow_list(tmp_path):
    bad = tmp_path / "evil.skops"
    sio.dump({"format": FORMAT, "model": print, "features": [], "classes": [], "name": "x", "label_column": "y"}, bad)
    with pytest.raises(InputError, match="allow-list"):
        load_classifier(bad)
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="skops"):
        load_classifier(junk)


def test_bad_tables_are_input_errors(tmp_path):
    p = tmp_path / "three.csv"
    p.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,z\n")
    with pytest.raises(InputError, match="exactly 2 classes"):
        train_classifiers(p, "label", tmp_path / "o1")
    p2 = tmp_path / "missing.csv"
    p2.write_text("a,b,label\n1,2,x\n3,,y\n")
    with pytest.raises(InputError, match="row 3"):
        from MLNNetLib.classify.data import read_table

        read_table(p2).matrix(["a", "b"])
    with pytest.raises(InputError, match="no column"):
        train_classifiers(write_cases(tmp_path / "c.csv", 20, True), "nope", tmp_path / "o2")
    with pytest.raises(InputError, match="at least 5 cases"):
        evaluate_kfold(np.zeros((6, 2)), np.array([0, 0, 0, 0, 1, 1]), ["lr"], folds=5)


def test_classify_command_train_and_predict(tmp_path, capsys):
    csv_path = str(write_cases(tmp_path / "cases.csv", 60, separable=True))
    out = str(tmp_path / "run")
    rc = main(["classify", "train", "--features", csv_path, "--label-column", "mb", "--out", out,
               "--models", "adaboost,lr", "--exclude", "case_id", "--bootstrap", "100", "--seed", "2"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["saved_model"] == "adaboost" and set(summary["models"]) == {"adaboost", "lr"}
    rc = main(["classify", "predict", "--model", f"{out}/model.skops", "--features", csv_path])
    assert rc == 0
    pred = json.loads(capsys.readouterr().out)["rows"]
    assert len(pred) == 60 and all(0.0 <= r["probability_malignant"] <= 1.0 for r in pred)
    assert main(["classify", "train", "--features", csv_path, "--label-column", "mb", "--out", out, "--models", "lr"]) == 2
