"""Patient-grouped splits (issue 12 item 10): the CC and MLO views of one patient never fall on both sides of a
split or a fold, whenever the features table says which patient a row belongs to."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from MLNNetLib.classify import train_classifiers
from MLNNetLib.classify.evaluation import fold_indices, split_indices
from MLNNetLib.cli import main


def write_views(path, patients: int, seed: int = 0, column: str = "patient_id"):
    """Two views per patient with nearly identical features and the patient's label; labels carry no signal
    except through the patient, so only a leak between twin views can beat chance."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(patients) % 2)
    base = rng.normal(size=(patients, 4))
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([column, "view", "calc_num", "density", "clu_num", "round_l", "mb"])
        for p in range(patients):
            for view in ("CC", "MLO"):
                w.writerow([7000 + p, view, *(base[p] + 1e-3 * rng.normal(size=4)).round(6), "malignant" if y[p] else "benign"])
    return path


def _groups(path, column="patient_id") -> tuple[np.ndarray, np.ndarray]:
    rows = list(csv.DictReader(open(path)))
    return np.array([r[column] for r in rows]), np.array([int(r["mb"] == "malignant") for r in rows])


def test_split_and_folds_never_put_one_patient_on_both_sides(tmp_path) -> None:
    groups, y = _groups(write_views(tmp_path / "v.csv", 40))
    train, test = split_indices(y, 0.2, seed=3, groups=groups)
    assert not set(groups[train]) & set(groups[test]) and len(test) == pytest.approx(16, abs=4)
    assert set(y[test]) == {0, 1}
    folds = fold_indices(y, 5, seed=3, groups=groups)
    seen = []
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        seen.extend(test.tolist())
    assert sorted(seen) == list(range(len(y)))  # every row tested once
    # without patient ids the old row-level split is kept (and it does split the twins)
    train, test = split_indices(y, 0.2, seed=3)
    assert set(groups[train]) & set(groups[test])


def test_classify_train_finds_the_patient_column_and_does_not_learn_patients(tmp_path, capsys) -> None:
    path = write_views(tmp_path / "views.csv", 60, seed=1)
    grouped = train_classifiers(path, "mb", tmp_path / "g", models=["dt"], folds=5, n_boot=50)
    assert grouped["evaluation"]["grouped_by"] == "patient_id" and grouped["evaluation"]["n_groups"] == 60
    assert "patient_id" not in grouped["features"]  # a numeric id is never a feature
    rows = list(csv.DictReader(open(path)))
    with open(tmp_path / "noid.csv", "w", newline="") as fh:  # the same table without the patient column
        w = csv.writer(fh)
        w.writerow([k for k in rows[0] if k != "patient_id"])
        for r in rows:
            w.writerow([v for k, v in r.items() if k != "patient_id"])
    leaky = train_classifiers(tmp_path / "noid.csv", "mb", tmp_path / "r", models=["dt"], folds=5, n_boot=50)
    assert "grouped_by" not in leaky["evaluation"]
    # the row-level folds test views whose twin was trained on: a tree "recognises" the patient
    assert leaky["models"]["dt"]["auc"] > 0.85 > grouped["models"]["dt"]["auc"]
    # the command line: an explicit column name, here not called patient_id
    other = write_views(tmp_path / "case.csv", 30, seed=2, column="case")
    code = main(["classify", "train", "--features", str(other), "--label-column", "mb", "--out", str(tmp_path / "c"),
                 "--models", "lr", "--group-column", "case", "--bootstrap", "20"])
    assert code == 0
    metrics = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert metrics["evaluation"]["grouped_by"] == "case" and "case" not in metrics["features"]
    capsys.readouterr()
    assert main(["classify", "train", "--features", str(other), "--label-column", "mb", "--out", str(tmp_path / "d"),
                 "--group-column", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
