"""Markdown reports for the ablation and the demo (tables, branch choices, links to the PNGs)."""

from __future__ import annotations

from pathlib import Path

from MLNNetLib.experiments.profiles import Profile
from MLNNetLib.experiments.study import StudyResult


def _branch_lines(result: StudyResult) -> list[str]:
    lines = []
    for row in result.rows:
        if row["variant"] == "mln-net":
            lines.append(f"- {row['method']} on {row['target']}: branches chosen {row['branches']}")
    return lines


def study_report(title: str, intro: str, result: StudyResult, profile: Profile, out: Path) -> str:
    overlays = sorted((out / "overlays").glob("*.png")) if (out / "overlays").exists() else []
    curves = sorted((out / "models").glob("*/curves.png"))
    parts = [
        f"# {title}", "", intro, "",
        f"Profile `{profile.name}`: config `{profile.config}`, {profile.train_images} source images "
        f"{profile.shape[0]}x{profile.shape[1]} px at {profile.spacing_mm} mm, {profile.test_images} test images per domain, "
        f"{profile.epochs} epochs x {profile.steps_per_epoch} steps, batch {profile.batch_size}, loss `{profile.loss}`. "
        f"Wall time {result.seconds / 60:.1f} min.", "",
        "TPR, Pr and DSC in %, HD and ASD in mm, mean ± std over images (whole-image sliding-window inference).", "",
        result.table, "",
        "## Branch selection", "", *(_branch_lines(result) or ["(no multi-branch model in this study)"]), "",
        "## Training curves", "", *[f"![{p.parent.name}]({p.relative_to(out)})" for p in curves], "",
        "## Overlays (green found, red false positive, yellow missed)", "",
        *[f"![{p.stem}]({p.relative_to(out)})" for p in overlays], "",
    ]
    return "\n".join(parts)
