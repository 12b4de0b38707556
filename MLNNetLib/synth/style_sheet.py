"""The README's picture of every style: the same two cases (one benign, one malignant) in every row."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from MLNNetLib.atomic import check_writable
from MLNNetLib.progress import Progress, ensure
from MLNNetLib.synth.contact_sheet import as_read, make_preview, write_style_sheet
from MLNNetLib.synth.dataset import case_seed
from MLNNetLib.synth.domains import DOMAINS, get_domain
from MLNNetLib.synth.generate import DEFAULT_SHAPE, DEFAULT_SPACING_MM, build_scene, check_parameters, render_case


def write_domain_sheet(path: str | os.PathLike, seed: int = 0, domains: Sequence[str] | None = None,
                       shape: tuple[int, int] = DEFAULT_SHAPE, spacing_mm: float = DEFAULT_SPACING_MM,
                       overwrite: bool = False, progress: Progress | None = None) -> Path:
    specs = [get_domain(d) for d in (domains or list(DOMAINS))]
    shape, spacing_mm, _ = check_parameters(shape, spacing_mm, None)
    check_writable(path, overwrite)
    progress = ensure(progress)
    scenes = [build_scene(case_seed(seed, i), shape, spacing_mm, label) for i, label in enumerate(("benign", "malignant"))]
    rows = []
    for k, spec in enumerate(specs):
        progress.step(k, len(specs), spec.name)
        previews = []
        for scene in scenes:
            image, mask, info = render_case(scene, spec)
            title = f"{spec.name}: {spec.file_format.upper()} {spec.photometric}" + (", air bright" if spec.air_bright_when_read else "")
            previews.append(make_preview(title, as_read(image, spec), mask, info))
        rows.append((spec.name, previews))
    progress.step(len(specs), len(specs), "done")
    return write_style_sheet(rows, path, overwrite)
