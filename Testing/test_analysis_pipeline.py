"""``mlnnet analysis``: synth -> segment -> quantify -> classify end to end with a tiny untrained checkpoint.

The network is untrained (its predictions are arbitrary), so the tests check the plumbing with values that do
not depend on its quality: reference-mask features against the masks on disk, predicted-mask features and
metrics against a fresh segmentation of the same case, row counts, labels, AUC ranges, refusals.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from MLNNetLib.cli import main
from MLNNetLib.errors import InputError

DOMAINS = ["ffdm", "mono1"]
CASES = 2  # per label and domain -> 8 cases, 4 per class
MODELS = ["adaboost", "lr"]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def components(mask: np.ndarray) -> int:
    return int(ndimage.label(mask > 0, structure=np.ones((3, 3)))[1])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny untrained 2-branch model with real domain statistics, recorded at 0.2 mm."""
    from MLNNetLib.augment import expand_domains
    from MLNNetLib.checkpoint import save_checkpoint
    from MLNNetLib.model import build_model
    from MLNNetLib.preprocess import prepare_image
    from MLNNetLib.selection import record_domain_statistics
    from MLNNetLib.synth import generate_case

    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    image, _, _ = generate_case("ffdm", 1, shape=(256, 208), spacing_mm=0.2)
    img01, breast = prepare_image(image[96:160, 72:136])
    batches = [(torch.from_numpy(im)[None, None], torch.tensor([d])) for im, d in expand_domains(img01, breast, 2)]
    stats = record_domain_statistics(model, batches)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", model, {"spacing_mm": [0.2, 0.2]}, stats)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["-q", "analysis", "--no-progress", *args])
    return rc, out.getvalue(), err.getvalue()


def untrained_threshold(checkpoint: Path) -> float:
    """An untrained network's probabilities stay far below 0.5 (it would find nothing and every predicted feature
    vector would be zero); its 99.9th percentile on one case makes it mark ~0.1 % of the pixels instead."""
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.image import Geometry, Image
    from MLNNetLib.inference import segment_image
    from MLNNetLib.synth import generate_case

    image, _, _ = generate_case("ffdm", 7, shape=(256, 208), spacing_mm=0.2)
    img = Image(image, Geometry((0.2, 0.2), (0.0, 0.0), (1.0, 0.0, 0.0, 1.0)), None, {})
    prob = segment_image(load_checkpoint(checkpoint), img).probability
    assert prob.max() < 0.5
    return float(np.percentile(prob, 99.9))


@pytest.fixture(scope="module")
def analysis(tmp_path_factory, checkpoint) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("analysis") / "run"
    rc, stdout, stderr = run_cli("--model", str(checkpoint), "--out", str(out), "--domains", *DOMAINS,
                                 "--cases", str(CASES), "--folds", "2", "--models", ",".join(MODELS),
                                 "--shape", "256", "208", "--bootstrap", "50", "--overlays", "2",
                                 "--threshold", repr(untrained_threshold(checkpoint)))
    assert rc == 0, stderr
    return out, json.loads(stdout)


def test_every_output_is_written_and_the_csvs_hold_one_row_per_case(analysis):
    out, printed = analysis
    n = CASES * 2 * len(DOMAINS)
    for name in ("features_pred.csv", "features_ref.csv", "cases.csv", "metrics.json", "report.md"):
        assert (out / name).is_file(), name
    for which in ("pred", "ref"):
        for name in ("metrics.json", "roc.png", "feature_importance.png", "model.skops"):
            assert (out / f"classify_{which}" / name).stat().st_size > 0
    for name in ("features_pred.csv", "features_ref.csv", "cases.csv"):
        rows = read_csv(out / name)
        assert len(rows) == n
        assert sorted(r["label"] for r in rows) == ["benign"] * (n // 2) + ["malignant"] * (n // 2)
        assert {r["domain"] for r in rows} == set(DOMAINS)
        assert len({r["id"] for r in rows}) == n
    from MLNNetLib.quantify import FEATURE_NAMES

    assert list(read_csv(out / "features_ref.csv")[0]) == ["id", "domain", "label", *FEATURE_NAMES]
    assert printed["cases"] == n and set(printed["auc"]) == {"pred", "ref"}


def test_reference_features_count_the_components_of_the_reference_masks(analysis):
    from MLNNetLib.io import read_mask

    out, _ = analysis
    rows = {r["id"]: r for r in read_csv(out / "features_ref.csv")}
    cases = {r["id"]: r for r in read_csv(out / "cases.csv")}
    masks = sorted((out / "data").rglob("masks/*.nrrd"))
    assert len(masks) == len(rows)
    counts = []
    for path in masks:
        n = components(read_mask(str(path)).array)
        assert float(rows[path.stem]["calc_num"]) == n
        assert float(cases[path.stem]["calc_num_ref"]) == n
        counts.append(n)
    assert sum(counts) > 0  # the synthetic cases do hold calcifications


def test_predicted_features_and_metrics_come_from_the_models_segmentation(analysis, checkpoint):
    """Segment one case again: its calc count and Dice must match what the pipeline recorded."""
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.inference import InferenceOptions, segment_image
    from MLNNetLib.io import read_image, read_mask
    from MLNNetLib.metrics import evaluate_masks

    out, _ = analysis
    case = read_csv(out / "cases.csv")[-1]
    image_path = next((out / "data").rglob(f"images/{case['id']}.*"))
    image = read_image(str(image_path))
    ref = read_mask(str(image_path.parent.parent / "masks" / f"{case['id']}.nrrd"), like=image).array > 0
    threshold = json.loads((out / "metrics.json").read_text())["settings"]["threshold"]
    options = InferenceOptions(threshold=threshold)
    pred = segment_image(load_checkpoint(checkpoint), image, selection="cosine", options=options).mask > 0
    feats = {r["id"]: r for r in read_csv(out / "features_pred.csv")}[case["id"]]
    assert pred.any()
    assert float(feats["calc_num"]) == components(pred) == float(case["calc_num_pred"])
    assert float(case["dice"]) == pytest.approx(evaluate_masks(pred, ref, image.spacing)["dice"], abs=1e-12)
    assert case["branch"] in ("0", "1")


def test_metrics_json_holds_an_auc_per_model_for_both_feature_sets(analysis):
    out, printed = analysis
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluation"] == {"mode": "stratified_kfold", "folds": 2}
    for which in ("pred", "ref"):
        assert list(metrics["classifiers"][which]) == MODELS
        for name in MODELS:
            m = metrics["classifiers"][which][name]
            assert 0.0 <= m["auc"] <= 1.0 and 0.0 <= m["accuracy"] <= 1.0
            assert m["n_test"] == CASES * 2 * len(DOMAINS)
            assert printed["auc"][which][name] == m["auc"]
    seg = metrics["segmentation"]
    assert seg["all"]["cases"] == CASES * 2 * len(DOMAINS) and set(seg) == {*DOMAINS, "all"}
    ref_mean = np.mean([float(r["calc_num"]) for r in read_csv(out / "features_ref.csv") if r["label"] == "malignant"])
    assert seg["all"]["mean_calc_num_ref_malignant"] == pytest.approx(ref_mean)


def test_report_has_the_tables_and_links_to_existing_pictures(analysis):
    import re

    out, _ = analysis
    report = (out / "report.md").read_text()
    for name in MODELS:
        assert re.search(rf"^\| {name} \| [0-9.]+ \(", report, re.M)
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert {"classify_pred/roc.png", "classify_ref/roc.png", "classify_pred/feature_importance.png"} <= set(links)
    assert len([p for p in links if p.startswith("overlays/")]) == 2
    for link in links:
        assert (out / link).is_file(), link


def test_no_model_says_a_model_is_needed_and_existing_outputs_are_not_replaced(analysis, checkpoint):
    rc, _, err = run_cli("--out", "unused")
    assert rc == 2 and "--model" in err and "make demo" in err
    out, _ = analysis
    before = (out / "report.md").read_text()
    rc, _, err = run_cli("--model", str(checkpoint), "--out", str(out), "--domains", *DOMAINS, "--cases", str(CASES),
                         "--folds", "2", "--shape", "256", "208")
    assert rc == 2 and "--overwrite" in err
    assert (out / "report.md").read_text() == before


def test_too_few_cases_for_the_folds_is_refused_before_any_work(tmp_path, checkpoint):
    rc, _, err = run_cli("--model", str(checkpoint), "--out", str(tmp_path / "x"), "--cases", "2", "--folds", "5")
    assert rc == 2 and "5-fold" in err
    assert not (tmp_path / "x").exists()


def test_analysis_seeds_are_distinct_and_a_training_overlap_is_refused(tmp_path):
    from MLNNetLib.experiments.malignancy_data import check_disjoint, dataset_seed
    from MLNNetLib.synth import DOMAINS as ALL

    seeds = {dataset_seed(s, d, lab) for s in (0, 1) for d in ALL for lab in ("benign", "malignant")}
    assert len(seeds) == 2 * len(ALL) * 2 and min(seeds) >= 50_000_000
    train = tmp_path / "train"
    train.mkdir()
    (train / "manifest.json").write_text(json.dumps({"items": [{"seed": 11}, {"seed": 12}]}))
    header = {"training": {"data": str(train)}}
    assert "none of the 2 case seeds" in check_disjoint([{"seed": 1}, {"seed": 2}], header, "m.safetensors")
    with pytest.raises(InputError, match="used to train"):
        check_disjoint([{"seed": 1}, {"seed": 12}], header, "m.safetensors")
    assert "not on this machine" in check_disjoint([{"seed": 1}], {"training": {"data": str(tmp_path / "gone")}}, None)


def test_density_image_is_bright_for_dense_tissue_in_monochrome1():
    from MLNNetLib.experiments.malignancy import density_image

    a = np.random.default_rng(0).uniform(100, 900, (64, 64)).astype(np.float32)
    np.testing.assert_allclose(density_image(a, "MONOCHROME1"), 1.0 - density_image(a, "MONOCHROME2"))


def test_a_model_that_finds_nothing_is_reported_not_fatal(tmp_path):
    """All-zero predicted features (a model that finds nothing): no classifier, a reason, the report says so."""
    from MLNNetLib.experiments.malignancy import AnalysisConfig, classify_features
    from MLNNetLib.quantify import FEATURE_NAMES, write_table

    rows = [{"id": f"c{i}", "domain": "ffdm", "label": lab, **{f: 0 for f in FEATURE_NAMES}}
            for i, lab in enumerate(["benign", "malignant"] * 3)]
    write_table(tmp_path / "features_pred.csv", rows, ["id", "domain", "label", *FEATURE_NAMES])
    cfg = AnalysisConfig(model="m", out=str(tmp_path), folds=2, models=["adaboost"])
    metrics, why = classify_features(tmp_path, "pred", cfg)
    assert metrics is None and "0 calcifications in each" in why
    assert not (tmp_path / "classify_pred").exists()
    rows[0]["calc_num"] = 3  # one case differs: now there is something to fit
    write_table(tmp_path / "features_pred.csv", rows, ["id", "domain", "label", *FEATURE_NAMES], overwrite=True)
    metrics, why = classify_features(tmp_path, "pred", cfg)
    assert why is None and 0.0 <= metrics["models"]["adaboost"]["auc"] <= 1.0
