"""The README's main job: synthetic data -> MLN-net and Basenet -> unseen scanner domains -> report.md."""

from __future__ import annotations

import shutil
from pathlib import Path

from MLNNetLib.atomic import atomic_path, write_text
from MLNNetLib.experiments.profiles import PROFILES
from MLNNetLib.experiments.reports import study_report
from MLNNetLib.experiments.study import Row, StudyResult, run_study
from MLNNetLib.log import get_logger

log = get_logger(__name__)

DEMO_ROWS = [Row("Basenet", "basenet", "cosine"), Row("MLN-net", "mln-net", "cosine")]


def _publish(src: Path, dst: Path) -> None:
    """Copy a checkpoint pair (.safetensors + .json) to the run folder's top level, atomically."""
    for suffix in (".safetensors", ".json"):
        with atomic_path(dst.with_suffix(suffix), overwrite=True) as tmp:
            shutil.copyfile(src.with_suffix(suffix), tmp)


def run_demo(out: Path, profile: str = "quick", source: str = "ffdm", seed: int = 0, device: str = "auto") -> StudyResult:
    from MLNNetLib.synth import DOMAINS

    targets = [d for d in DOMAINS if d != source]
    prof = PROFILES[profile]
    result = run_study(out, DEMO_ROWS, prof, source, targets, seed, device, overlays={"Basenet", "MLN-net"})
    _publish(result.models["mln-net"], out / "model.safetensors")
    _publish(result.models["basenet"], out / "basenet.safetensors")
    intro = (f"MLN-net (K=2 LayerNorm branches, Bézier + inversion augmentation, cosine branch selection) and a Basenet "
             f"(the same Swin-Unet with K=1, no augmentation) were trained on the synthetic `{source}` domain only and "
             f"applied to images of the unseen domains {', '.join(targets)}. Models: `model.safetensors`, `basenet.safetensors`.")
    write_text(out / "report.md", study_report("MLNNet demo", intro, result, prof, out), overwrite=True)
    log.info("report written to %s", out / "report.md")
    return result
