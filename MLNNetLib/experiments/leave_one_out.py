"""Leave-one-style-out: the default and Basenet trained on each style in turn, tested on all the others.

One source style can favour a method by chance (its processing may sit in the middle of the others); the
matrix shows whether the default's advantage holds whichever style it learns from. It trains two models
per style, so it belongs to the ``full`` profile (a GPU).
"""

from __future__ import annotations

from pathlib import Path

from MLNNetLib.experiments.intervals import bootstrap_mean
from MLNNetLib.experiments.profiles import Profile
from MLNNetLib.experiments.study import DEFAULT_ROW, DEFAULT_SELECTION, DEFAULT_VARIANT, Row, run_study

ROWS = [Row(DEFAULT_ROW, DEFAULT_VARIANT, DEFAULT_SELECTION), Row("Basenet", "basenet")]


def leave_one_style_out(out: Path, profile: Profile, styles: list[str], seed: int = 0, device: str = "auto") -> str:
    """Markdown: one matrix per row (trained on the row's style, DSC % [95 % interval] on each column's style)."""
    results = {}
    for source in styles:
        others = [s for s in styles if s != source]
        results[source] = run_study(out / source, ROWS, profile, source, others, seed, device, check_images=0)
    parts = ["## Leave one style out", "",
             "Rows: the style trained on; columns: the style tested on; DSC in %, mean [95 % bootstrap interval].", ""]
    for row in ROWS:
        parts += [f"### {row.label}", "", "| trained on | " + " | ".join(styles) + " |", "|---|" + "---|" * len(styles)]
        for source in styles:
            r = results[source]
            cells = ["(source)" if s == source else bootstrap_mean(r.values(row.label, s)).cell() for s in styles]
            parts.append(f"| {source} | " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)
