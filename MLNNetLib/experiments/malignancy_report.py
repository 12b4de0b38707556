"""report.md of the end-to-end analysis: segmentation summary, AUC (95% CI) and accuracy per classifier for
predicted- vs reference-mask features, links to the ROC, feature-importance and overlay PNGs."""

from __future__ import annotations

import math

from MLNNetLib.experiments.malignancy_data import LABELS


def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def _num(v, digits: int = 1) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _auc(m: dict | None) -> str:
    if not m:
        return "–"
    lo, hi = m.get("auc_ci95") or (None, None)
    return f"{_num(m.get('auc'), 3)} ({_num(lo, 2)}–{_num(hi, 2)})"


def segmentation_table(seg: dict) -> str:
    lines = ["| domain | cases | DSC (%) | TPR (%) | Pr (%) | lesion sens. (%) | calcs/case benign ref → pred "
             "| calcs/case malignant ref → pred | branches | OOD |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in seg.items():
        counts = [f"{_num(s[f'mean_calc_num_ref_{lab}'])} → {_num(s[f'mean_calc_num_pred_{lab}'])}" for lab in LABELS]
        branches = ", ".join(f"{k}: {v}" for k, v in sorted(s["branches"].items()))
        lines.append(f"| {name} | {s['cases']} | {_pct(s['mean_dice'])} | {_pct(s['mean_tpr'])} | {_pct(s['mean_precision'])} "
                     f"| {_pct(s['mean_lesion_sensitivity'])} | {counts[0]} | {counts[1]} | {branches} | {s['ood']} |")
    return "\n".join(lines)


def classifier_table(models: dict[str, dict], names: list[str]) -> str:
    lines = ["| model | AUC, predicted masks (95% CI) | accuracy, predicted | AUC, reference masks (95% CI) | accuracy, reference |",
             "|---|---|---|---|---|"]
    for name in names:
        p, r = models.get("pred", {}).get(name), models.get("ref", {}).get(name)
        lines.append(f"| {name} | {_auc(p)} | {_pct(p and p.get('accuracy'))} | {_auc(r)} | {_pct(r and r.get('accuracy'))} |")
    return "\n".join(lines)


def top_features(metrics: dict, n: int = 5) -> str:
    fi = metrics.get("feature_importance", {})
    values = sorted(fi.get("values", {}).items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} ({v:.3f})" for k, v in values if v > 0) or "none (every importance is 0)"


def _figures(files: dict) -> list[str]:
    rows = []
    for key, title in (("roc", "ROC"), ("importance", "feature importance")):
        cells = [f"![{title} {w}]({files[f'{key}_{w}']})" if f"{key}_{w}" in files else "(not evaluated)" for w in ("pred", "ref")]
        rows.append(f"| {title} | {cells[0]} | {cells[1]} |")
    return ["| | predicted masks | reference masks |", "|---|---|---|", *rows]


def analysis_report(summary: dict, classifiers: dict[str, dict]) -> str:
    """Markdown for ``summary`` (run_analysis's metrics.json) and the per-feature-set classify metrics."""
    st = summary["settings"]
    ev = summary["evaluation"] or {"mode": "none"}
    how = (f"stratified {ev['folds']}-fold cross-validation (pooled out-of-fold scores)" if ev["mode"] == "stratified_kfold"
           else f"a stratified 4:1 split ({ev.get('n_test')} held-out cases)" if ev["mode"] == "stratified_split"
           else "no evaluation was possible")
    files = summary["files"]
    notes = [f"- {w}-mask features: {why}" for w, why in summary.get("classifier_notes", {}).items()]
    importance = [f"{'predicted' if w == 'pred' else 'reference'} masks ({m['feature_importance']['model']}): {top_features(m)}"
                  for w, m in classifiers.items()]
    parts = [
        "# End to end on synthetic cases: synth → segment → quantify → classify", "",
        f"Model `{summary['model']}`, {st['selection']} branch selection, whole-image sliding-window inference on "
        f"{st['device']} (threshold {st['threshold']:g}). Domains {', '.join(f'`{d}`' for d in st['domains'])}: "
        f"{st['cases']} benign + {st['cases']} malignant synthetic cases each, {st['shape'][0]}x{st['shape'][1]} px at "
        f"{st['spacing_mm']:g} mm, analysis seed {st['seed']}. Seeds: {summary['seeds']}. "
        f"Wall time {summary['seconds'] / 60:.1f} min.", "",
        "## Segmentation", "",
        "Mean over cases (per-case values in `cases.csv`); calcification counts are connected components of the "
        "reference mask (ref) and of the prediction (pred). A case where both masks are empty scores DSC, TPR and Pr "
        "100 % (the metrics' empty-mask policy).", "",
        segmentation_table(summary["segmentation"]), "",
        "## Benign vs malignant", "",
        f"Image-level features (`features_pred.csv`, `features_ref.csv`) of the predicted masks (the realistic "
        f"pipeline) and of the reference masks; malignant = positive class; {how}; AUC 95% CI by bootstrap over cases.", "",
        classifier_table(summary["classifiers"], st["models"]), "",
        *(notes + [""] if notes else []),
        *([f"Most important features: {'; '.join(importance)}.", ""] if importance else []),
        *_figures(files), "",
        "## Overlays (green found, red false positive, yellow missed)", "",
        *([f"![{p}]({p})" for p in files["overlays"]] or ["(none requested)"]), "",
    ]
    return "\n".join(parts)
