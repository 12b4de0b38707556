"""End to end on synthetic cases (issue 5 §3): synth -> segment -> quantify -> classify, written under one folder.

For every case of every requested domain (N benign + N malignant, seeds: ``malignancy_data``) the model
segments the image (cosine branch selection, whole-image sliding window), the prediction is scored against
the reference mask (``experiments.evaluation.evaluate_checkpoint``), and BOTH masks are quantified on the same
image. Classifiers are then evaluated (stratified k-fold by default: the data are few) on the features of the
predicted masks (the realistic pipeline) and, for comparison, of the reference masks.

Intensities for the density features: the image as the model sees it (``preprocess.prepare_image``:
normalised to [0, 1] on breast tissue), turned back to "bright = dense" for MONOCHROME1 datasets, so density
features mean the same thing in every domain.

Outputs: features_pred.csv, features_ref.csv (id, domain, label, image-level features), cases.csv (per-case
segmentation metrics and calcification counts), classify_pred/ and classify_ref/ (metrics.json, roc.png,
feature_importance.png, model.skops), overlays/*.png, metrics.json (summary) and report.md.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from MLNNetLib.atomic import check_writable, write_text
from MLNNetLib.errors import InputError
from MLNNetLib.experiments.malignancy_data import LABELS, case_groups, check_disjoint, ensure_cases
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress, ensure

log = get_logger(__name__)

DEFAULT_MODELS = ("adaboost", "dt", "lr", "svm", "knn", "rf")
DEFAULT_SHAPE = (768, 640)  # the demo's quick profile: what runs/demo/model.safetensors was trained on
ID_COLUMNS = ["id", "domain", "label"]
CASE_METRICS = ["tpr", "precision", "dice", "hd", "hd95", "asd", "asd_directed", "lesion_sensitivity", "lesion_precision",
                "cluster_sensitivity", "cluster_precision", "empty"]
CASE_COLUMNS = [*ID_COLUMNS, "seed", "branch", "ood", "calc_num_ref", "calc_num_pred", "clu_num_ref", "clu_num_pred",
                "calc_area_ref", "calc_area_pred", *CASE_METRICS, "seconds"]
OUTPUTS = ("features_pred.csv", "features_ref.csv", "cases.csv", "metrics.json", "report.md")


@dataclass
class AnalysisConfig:
    model: str
    out: str
    domains: list[str] = field(default_factory=lambda: ["ffdm"])
    cases: int = 10  # per label and domain
    seed: int = 0
    folds: int | None = 5  # None = the seed's stratified 4:1 split
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    shape: tuple[int, int] = DEFAULT_SHAPE
    spacing_mm: float | None = None  # None = the checkpoint's training spacing
    selection: str = "cosine"
    threshold: float = 0.5  # probability above which a pixel is calcification
    device: str = "cpu"
    overlays: int = 4
    n_boot: int = 1000
    overwrite: bool = False


@dataclass
class CaseResult:
    id: str
    domain: str
    label: str
    seed: int
    metrics: dict
    summary: dict
    features_pred: dict
    features_ref: dict


def density_image(array: np.ndarray, photometric: str) -> np.ndarray:
    """The model's view of the image ([0, 1] on breast tissue), bright = dense in every domain (the quantify
    package's one definition, ``quantify.intensity.density_image``)."""
    from MLNNetLib.quantify.intensity import density_image as one_definition

    return one_definition(array, None, photometric)


def analyse_case(ckpt, item: dict, selection: str, options) -> tuple[CaseResult, np.ndarray, np.ndarray, np.ndarray]:
    """Segment + score one case (the shared evaluation code), quantify prediction and reference on one image.

    Returns the result and (image, predicted mask, reference mask) for overlays.
    """
    from MLNNetLib.experiments.evaluation import evaluate_checkpoint
    from MLNNetLib.io import read_image, read_mask
    from MLNNetLib.quantify import quantify

    score = evaluate_checkpoint(ckpt, [item], selection, keep_masks=True, options=options)[0]
    image = read_image(item["image"])
    ref = read_mask(item["mask"], like=image).array > 0
    pred = score.mask > 0
    photometric = item.get("photometric", "MONOCHROME2")  # quantify measures densities on its one normalised scale
    f_pred = quantify(pred, image.array, image.spacing, path=item["image"], photometric=photometric).features
    f_ref = quantify(ref, image.array, image.spacing, path=item["mask"], photometric=photometric).features
    result = CaseResult(item["id"], item["domain"], item["case_label"], int(item["seed"]), score.metrics, score.summary,
                        f_pred, f_ref)
    log.info("%s [%s, %s]: dice %.3f, calcifications predicted %d / reference %d, branch %s", item["id"], item["domain"],
             item["case_label"], score.metrics["dice"], f_pred["calc_num"], f_ref["calc_num"], score.summary.get("branch"))
    return result, image.array, pred, ref


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


def json_safe(obj):
    """NaN/inf -> None, numpy scalars -> Python, tuples -> lists: strict JSON for metrics.json."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    return obj


def feature_rows(results: list[CaseResult], which: str) -> list[dict]:
    return [{"id": r.id, "domain": r.domain, "label": r.label, **getattr(r, f"features_{which}")} for r in results]


def case_rows(results: list[CaseResult]) -> list[dict]:
    rows = []
    for r in results:
        row = {"id": r.id, "domain": r.domain, "label": r.label, "seed": r.seed,
               "branch": "union" if r.summary.get("branch") is None else r.summary["branch"], "ood": int(bool(r.summary.get("ood"))),
               "calc_num_ref": r.features_ref["calc_num"], "calc_num_pred": r.features_pred["calc_num"],
               "clu_num_ref": r.features_ref["clu_num"], "clu_num_pred": r.features_pred["clu_num"],
               "calc_area_ref": r.features_ref["calc_area"], "calc_area_pred": r.features_pred["calc_area"],
               "seconds": r.summary.get("seconds")}
        row.update({k: r.metrics.get(k) for k in CASE_METRICS})
        rows.append({k: _cell(v) for k, v in row.items()})
    return rows


def _finite_mean(values) -> float:
    v = [float(x) for x in values if x is not None and x != "" and math.isfinite(float(x))]
    return float(np.mean(v)) if v else float("nan")


def segmentation_summary(results: list[CaseResult]) -> dict[str, dict]:
    """Per domain (and 'all'): cases, mean Dice/TPR/precision/lesion sensitivity, mean calcification counts."""
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(r.domain, []).append(r)
    groups["all"] = list(results)
    out = {}
    for name, rs in groups.items():
        branches: dict[str, int] = {}
        for r in rs:
            key = str(r.summary.get("branch"))
            branches[key] = branches.get(key, 0) + 1
        out[name] = {
            "cases": len(rs),
            **{f"mean_{k}": _finite_mean(r.metrics[k] for r in rs) for k in ("dice", "tpr", "precision", "lesion_sensitivity")},
            **{f"mean_calc_num_{w}_{lab}": _finite_mean(getattr(r, f"features_{w}")["calc_num"] for r in rs if r.label == lab)
               for w in ("ref", "pred") for lab in LABELS},
            "branches": branches,
            "ood": sum(bool(r.summary.get("ood")) for r in rs),
        }
    return out


def _check_request(cfg: AnalysisConfig) -> None:
    from MLNNetLib.classify import parse_model_list
    from MLNNetLib.synth import DOMAINS

    if not cfg.domains:
        raise InputError(None, "no --domains given")
    unknown = [d for d in cfg.domains if d not in DOMAINS]
    if unknown:
        raise InputError(None, f"unknown domain(s) {unknown}; choose from {', '.join(DOMAINS)}")
    if int(cfg.cases) < 1:
        raise InputError(None, f"--cases must be >= 1, got {cfg.cases}")
    per_class = int(cfg.cases) * len(cfg.domains)
    if cfg.folds is not None and (cfg.folds < 2 or per_class < cfg.folds):
        raise InputError(None, f"{cfg.folds}-fold cross-validation needs >= {max(cfg.folds, 2)} cases per class; "
                               f"{cfg.cases} x {len(cfg.domains)} domain(s) = {per_class}: raise --cases or lower --folds")
    if cfg.folds is None and per_class < 3:
        raise InputError(None, f"a 4:1 split needs >= 3 cases per class, got {per_class}")
    cfg.models = parse_model_list(",".join(cfg.models))


def _training_spacing(ckpt) -> float:
    spacing = (ckpt.header or {}).get("spacing_mm")
    if not spacing:
        log.info("checkpoint records no training spacing; cases are made at 0.1 mm")
        return 0.1
    values = [float(s) for s in spacing][-2:]
    return float(np.mean(values))


def _outputs_writable(out: Path, overwrite: bool) -> None:
    from MLNNetLib.classify.training import OUTPUT_FILES

    for name in OUTPUTS:
        check_writable(out / name, overwrite)
    for sub in ("classify_pred", "classify_ref"):
        for name in OUTPUT_FILES:
            check_writable(out / sub / name, overwrite)


def constant_features(csv_path: Path) -> str | None:
    """Why a features CSV cannot train a classifier (every case has the same vector), else None."""
    from MLNNetLib.classify.data import numeric_columns, read_table

    table = read_table(csv_path)
    X = table.matrix(numeric_columns(table, exclude=["label"]))
    if len(X) and np.all(X == X[0]):
        calcs = X[0][numeric_columns(table, exclude=["label"]).index("calc_num")]
        return (f"every case has the same feature vector ({int(calcs)} calcifications in each): "
                "nothing to learn, so no classifier was evaluated")
    return None


def classify_features(out: Path, which: str, cfg: AnalysisConfig) -> tuple[dict | None, str | None]:
    """Evaluate the classifiers on one features CSV; (metrics, None) or (None, why it could not be done).

    A degenerate table (e.g. a model that finds nothing) or a classifier that cannot be fitted on some fold
    is reported, not fatal: the other feature set is still evaluated.
    """
    from MLNNetLib.classify import train_classifiers

    csv_path = out / f"features_{which}.csv"
    reason = constant_features(csv_path)
    if reason is None:
        log.info("classifiers on %s-mask features: %s, %s", which, ", ".join(cfg.models),
                 f"stratified {cfg.folds}-fold" if cfg.folds else "stratified 4:1 split")
        try:
            return train_classifiers(csv_path, "label", out / f"classify_{which}", models=cfg.models, split=0.2,
                                     folds=cfg.folds, seed=cfg.seed, positive="malignant", n_boot=cfg.n_boot,
                                     overwrite=cfg.overwrite), None
        except ValueError as exc:  # InputError included: e.g. AdaBoost refusing a fold it cannot beat chance on
            reason = f"classification failed: {exc}"
    log.warning("%s-mask features: %s", which, reason)
    return None, reason


def _write_overlays(out: Path, picks: list[tuple[CaseResult, np.ndarray, np.ndarray, np.ndarray]]) -> list[str]:
    from MLNNetLib.experiments.overlays import save_overlay

    names = []
    for r, image, pred, ref in picks:
        name = f"overlays/{r.id}.png"
        title = (f"{r.label} {r.domain} {r.id}: DSC {100 * r.metrics['dice']:.1f} %, calcifications "
                 f"{r.features_pred['calc_num']} predicted / {r.features_ref['calc_num']} reference")
        save_overlay(out / name, image, pred, ref, title)
        names.append(name)
    return names


def run_analysis(cfg: AnalysisConfig, progress: Progress | None = None) -> dict:
    """The whole pipeline; returns the summary also written to ``out/metrics.json``."""
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.experiments.malignancy_report import analysis_report
    from MLNNetLib.inference import InferenceOptions
    from MLNNetLib.quantify import FEATURE_NAMES, write_table
    from MLNNetLib.synth import case_seed

    t0 = time.time()
    progress = ensure(progress)
    _check_request(cfg)
    out = Path(cfg.out)
    _outputs_writable(out, cfg.overwrite)
    ckpt = load_checkpoint(cfg.model)
    spacing = float(cfg.spacing_mm) if cfg.spacing_mm else _training_spacing(ckpt)
    shape = (int(cfg.shape[0]), int(cfg.shape[1]))
    log.info("analysis: model %s (K=%d), domains %s, %d benign + %d malignant cases each, %dx%d px at %g mm, "
             "selection %s", cfg.model, int(getattr(ckpt.model, "num_domains", 1)), cfg.domains, cfg.cases, cfg.cases,
             shape[0], shape[1], spacing, cfg.selection)

    groups = case_groups(out, cfg.domains, cfg.seed)
    planned = [{"seed": case_seed(g.seed, i)} for g in groups for i in range(int(cfg.cases))]
    seed_note = check_disjoint(planned, ckpt.header, cfg.model)  # before any case is written
    items = [it for g in groups for it in ensure_cases(g, cfg.cases, shape, spacing, cfg.overwrite)]
    if sorted(int(it["seed"]) for it in items) != sorted(p["seed"] for p in planned):
        raise InputError(out / "data", "the case seeds on disk differ from the planned ones; pass --overwrite")
    options = InferenceOptions(device=cfg.device, threshold=cfg.threshold)

    results: list[CaseResult] = []
    picks = []
    wanted = {(d, lab) for d in cfg.domains for lab in LABELS}
    for n, item in enumerate(items):
        progress.step(n, len(items), item["id"])
        res, image, pred, ref = analyse_case(ckpt, item, cfg.selection, options)
        results.append(res)
        key = (res.domain, res.label)
        if len(picks) < cfg.overlays and key in wanted:  # the first case of each (domain, label)
            wanted.discard(key)
            picks.append((res, image, pred, ref))
    progress.step(len(items), len(items), "classifiers")

    write_table(out / "features_pred.csv", feature_rows(results, "pred"), [*ID_COLUMNS, *FEATURE_NAMES], cfg.overwrite)
    write_table(out / "features_ref.csv", feature_rows(results, "ref"), [*ID_COLUMNS, *FEATURE_NAMES], cfg.overwrite)
    write_table(out / "cases.csv", case_rows(results), CASE_COLUMNS, cfg.overwrite)
    overlays = _write_overlays(out, picks)
    evaluated = {which: classify_features(out, which, cfg) for which in ("pred", "ref")}
    classifiers = {w: m for w, (m, _) in evaluated.items() if m is not None}
    evaluation = next(iter(classifiers.values()))["evaluation"] if classifiers else None

    summary = {
        "model": str(cfg.model), "settings": {**asdict(cfg), "spacing_mm": spacing, "shape": list(shape)},
        "seeds": seed_note, "segmentation": segmentation_summary(results),
        "classifiers": {w: (m["models"] if m is not None else {}) for w, (m, _) in evaluated.items()},
        "classifier_notes": {w: why for w, (_, why) in evaluated.items() if why},
        "evaluation": evaluation,
        "files": {"features_pred": "features_pred.csv", "features_ref": "features_ref.csv", "cases": "cases.csv",
                  "overlays": overlays,
                  **{f"{k}_{w}": f"classify_{w}/{f}" for w in ("pred", "ref")
                     for k, f in (("roc", "roc.png"), ("importance", "feature_importance.png"), ("classifier", "model.skops"))
                     if w in classifiers}},
        "seconds": round(time.time() - t0, 1),
    }
    summary = json_safe(summary)
    write_text(out / "metrics.json", json.dumps(summary, indent=2, allow_nan=False), cfg.overwrite)
    write_text(out / "report.md", analysis_report(summary, classifiers), cfg.overwrite)
    log.info("analysis written to %s (report.md) in %.1f s", out, summary["seconds"])
    return summary
