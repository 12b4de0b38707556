"""Markdown reports of a study: per-style tables with bootstrap intervals, the default against every baseline
(paired intervals), the polarity x brightness check, the OOD flag's AUROC, branch choices, curves, overlays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from MLNNetLib.experiments.intervals import Interval, bootstrap_mean, paired_difference
from MLNNetLib.experiments.profiles import Profile
from MLNNetLib.experiments.selection_check import markdown as check_markdown
from MLNNetLib.experiments.study import StudyResult

DETAIL_METRICS = (("tpr", "TPR (%)", True), ("precision", "Pr (%)", True), ("dice", "DSC (%)", True),
                  ("hd", "HD (mm)", False), ("asd", "ASD (mm)", False))


def unseen_values(result: StudyResult, label: str, metric: str = "dice") -> list[float | None]:
    """All unseen-style images of one row, style after style (the same order for every row: pairs line up)."""
    return [v for style in result.targets for v in result.values(label, style, metric)]


def dice_table(result: StudyResult) -> str:
    """DSC mean [95 % bootstrap interval] per style, and over all unseen-style images."""
    styles = [result.source, *result.targets]
    head = "| method | " + " | ".join(f"{s} (source)" if s == result.source else s for s in styles) + " | mean unseen |"
    lines = [head, "|---|" + "---|" * (len(styles) + 1)]
    for row in result.rows:
        cells = [bootstrap_mean(result.values(row.label, s)).cell() for s in styles]
        cells.append(f"**{bootstrap_mean(unseen_values(result, row.label)).cell()}**")
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail_table(result: StudyResult) -> str:
    """TPR, Pr, DSC, HD, ASD over all unseen-style images, mean [95 % interval]."""
    head = "| method | " + " | ".join(name for _, name, _ in DETAIL_METRICS) + " |"
    lines = [head, "|---|" + "---|" * len(DETAIL_METRICS)]
    for row in result.rows:
        cells = [bootstrap_mean(unseen_values(result, row.label, key)).cell(percent) for key, _, percent in DETAIL_METRICS]
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def beats(result: StudyResult, default: str, baseline: str) -> dict[str, Interval]:
    """Paired DSC difference default - baseline per unseen style (and over all unseen images)."""
    out = {s: paired_difference(result.values(default, s), result.values(baseline, s)) for s in result.targets}
    out["mean unseen"] = paired_difference(unseen_values(result, default), unseen_values(result, baseline))
    return out


def beat_table(result: StudyResult, default: str, baselines: list[str]) -> str:
    cols = [*result.targets, "mean unseen"]
    lines = ["| default minus | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for b in baselines:
        diffs = beats(result, default, b)
        cells = [f"{d.cell()} {'✓' if d.n and d.low > 0 else '✗'}" for d in (diffs[c] for c in cols)]
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def auroc(negatives: list[float], positives: list[float]) -> float:
    """Probability that an unseen-style image scores higher than a source image (ties count half)."""
    neg, pos = np.asarray(negatives, float), np.asarray(positives, float)
    if len(neg) == 0 or len(pos) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def ood_table(result: StudyResult) -> str:
    """AUROC of each multi-branch row's OOD score: held-out source-style images vs each unseen style."""
    rows = [r for r in result.rows if any(s.summary.get("ood_score") is not None
                                          for s in result.scores.get((r.label, result.source), []))]
    if not rows:
        return "(no multi-branch model in this study)"
    lines = ["| method (OOD score) | " + " | ".join(result.targets) + " | all unseen | flagged: source / unseen |",
             "|---|" + "---|" * (len(result.targets) + 2)]
    for row in rows:
        def scores(style: str) -> list[float]:
            return [s.summary["ood_score"] for s in result.scores[(row.label, style)] if s.summary.get("ood_score") is not None]

        def flagged(style: str) -> tuple[int, int]:
            ss = result.scores[(row.label, style)]
            return sum(bool(s.summary.get("ood")) for s in ss), len(ss)

        neg = scores(result.source)
        cells = [f"{auroc(neg, scores(s)):.2f}" for s in result.targets]
        cells.append(f"**{auroc(neg, [v for s in result.targets for v in scores(s)]):.2f}**")
        fs = flagged(result.source)
        fu = [flagged(s) for s in result.targets]
        cells.append(f"{fs[0]}/{fs[1]} / {sum(a for a, _ in fu)}/{sum(b for _, b in fu)}")
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def branch_lines(result: StudyResult) -> list[str]:
    lines = []
    for row in result.rows:
        if row.selection in ("-", None) or row.variant == "tophat":
            continue
        parts = []
        for style in [result.source, *result.targets]:
            counts: dict[str, int] = {}
            for s in result.scores.get((row.label, style), []):
                key = str(s.summary.get("branch"))
                counts[key] = counts.get(key, 0) + 1
            if set(counts) - {"0"} or len(counts) > 1:
                parts.append(f"{style} {dict(sorted(counts.items()))}")
        if parts:
            lines.append(f"- {row.label}: " + "; ".join(parts))
    return lines or ["- every multi-branch row chose branch 0 on every image"]


def study_report(title: str, intro: str, result: StudyResult, profile: Profile, out: Path,
                 default: str | None = None, baselines: list[str] | None = None) -> str:
    from MLNNetLib.synth import DOMAINS

    overlays = sorted((out / "overlays").glob("*.png")) if (out / "overlays").exists() else []
    curves = sorted((out / "models").glob("*/curves.png"))
    labels = {r.label for r in result.rows}
    parts = [
        f"# {title}", "", intro, "",
        f"Profile `{profile.name}`: config `{profile.config}`, {profile.train_images} source images "
        f"{profile.shape[0]}x{profile.shape[1]} px at {profile.spacing_mm} mm, {profile.test_images} test images per "
        f"style, {profile.epochs} epochs x {profile.steps_per_epoch} steps, batch {profile.batch_size}, loss "
        f"`{profile.loss}`. Wall time {result.seconds / 60:.1f} min.", "",
        "## DSC per style", "",
        "DSC in %, mean over images with its 95 % bootstrap interval (images resampled, 2000 draws); whole-image "
        "sliding-window inference; the models saw only the source style.", "", dice_table(result), "",
    ]
    if default in labels:
        bl = [b for b in (baselines or []) if b in labels and b != default]
        parts += ["## The default against each baseline", "",
                  f"`{default}` minus each baseline, DSC points, paired over the same images (95 % bootstrap "
                  "interval); ✓ = the interval lies above zero.", "", beat_table(result, default, bl), ""]
    parts += ["## All metrics over the unseen styles", "", detail_table(result), ""]
    if result.checks:
        parts += ["## Selection: polarity x brightness", "",
                  "Held-out source images, each as it is, brightened to its inversion's breast mean (gamma remap), "
                  "inverted inside the breast, and that inversion darkened to the original's mean. Correct = branch 0 "
                  "for the first two, branch 1 for the last two (images with the expected branch / images).", ""]
        for variant, checks in result.checks.items():
            parts += [f"Model `{variant}`:", "", check_markdown(checks), ""]
    parts += ["## Out-of-distribution flag", "",
              "AUROC of the OOD score (distance of the image's feature statistics from the recorded ones; threshold "
              "calibrated on held-out source images with the inference tile count) separating the held-out "
              "source-style test images from each unseen style; last column: images flagged.", "", ood_table(result), "",
              "## Branch choices (rows that chose anything but branch 0)", "", *branch_lines(result), ""]
    if result.tophat:
        t = result.tophat
        parts += ["## Top-hat floor", "",
                  f"White top-hat ({t['element_mm']} mm element) + threshold {t['threshold']:.3f}, chosen on "
                  f"{t['fitted_on']} held-out source images (mean DSC {100 * (t['fitted_dice'] or 0):.1f} % there), "
                  "fixed for every test image; polarity read as the default selection reads it.", ""]
    styles = [result.source, *result.targets]
    parts += ["## Styles", "", *[f"- `{s}`: {DOMAINS[s].description}" for s in styles if s in DOMAINS], "",
              "## Training curves", "", *[f"![{p.parent.name}]({p.relative_to(out)})" for p in curves], "",
              "## Overlays (green found, red false positive, yellow missed)", "",
              *[f"![{p.stem}]({p.relative_to(out)})" for p in overlays], ""]
    return "\n".join(parts)
