"""The README's main job: synthetic data -> the default model, the paper's MLN-net and the baselines ->
every unseen scanner style with intervals -> the eight real CBIS-DDSM films -> report.md."""

from __future__ import annotations

import shutil
from pathlib import Path

from MLNNetLib.atomic import atomic_path, write_text
from MLNNetLib.experiments.profiles import PROFILES
from MLNNetLib.experiments.reports import study_report
from MLNNetLib.experiments.study import DEFAULT_ROW, DEFAULT_VARIANT, MLN_ROW, NO_TTA_ROW, QUICK_ROWS, StudyResult, run_study
from MLNNetLib.log import get_logger

log = get_logger(__name__)

# The quick benchmark's rows on fewer test images, less the K = 2 Pro_UNeXt (MLN_ROW, in `ablation --profile
# quick`): the demo keeps to what its 15-minute budget allows, the default, the paper's method and the baselines.
DEMO_ROWS = [r for r in QUICK_ROWS if r.label != MLN_ROW]
BASELINES = ["Top-hat floor", "BigAug", "Basenet", "MLN-net", NO_TTA_ROW]  # the last: the default without test-time augmentation


def _publish(src: Path, dst: Path) -> None:
    """Copy a checkpoint pair (.safetensors + .json) to the run folder's top level, atomically."""
    for suffix in (".safetensors", ".json"):
        with atomic_path(dst.with_suffix(suffix), overwrite=True) as tmp:
            shutil.copyfile(src.with_suffix(suffix), tmp)


def run_demo(out: Path, profile: str = "demo", source: str = "ffdm", seed: int = 0, device: str = "auto") -> StudyResult:
    from MLNNetLib.experiments.real_images import real_image_section
    from MLNNetLib.synth import DOMAINS

    targets = [d for d in DOMAINS if d != source]
    prof = PROFILES[profile]
    result = run_study(out, DEMO_ROWS, prof, source, targets, seed, device, overlays={"Basenet", DEFAULT_ROW})
    _publish(result.models[DEFAULT_VARIANT], out / "model.safetensors")
    _publish(result.models["mln-net"], out / "mlnnet_paper.safetensors")
    _publish(result.models["basenet"], out / "basenet.safetensors")
    intro = (
        f"Every model was trained on the synthetic `{source}` style only and applied to whole images of the "
        f"{len(targets)} unseen scanner styles. `{DEFAULT_ROW}` is the default of `mlnnet segment` and the Slicer "
        "module: seed 002's Pro_UNeXt with local contrast normalisation of the network input (LCN, 1.5 mm window) "
        "and one norm branch; an image whose tissue polarity reads inverted is inverted back (inside the breast) "
        "before it is segmented; on an image its OOD flag calls unlike the source, the network's BatchNorm "
        "statistics are moved a quarter of the way to the image's own (test-time adaptation), and every tile is "
        "predicted in four of its rotations and mirrors and averaged (test-time augmentation; the row 'no test-time "
        "augmentation' is the same model and adaptation without it, the default until then). "
        "`MLN-net` is the paper's method as published (Swin-Unet, K=2, Bézier/inversion branches, cosine selection); "
        "the same branches on the default's network are a row of `ablation --profile quick`. Baselines: the top-hat "
        "floor, Basenet (the Swin-Unet, K=1, source images only) and BigAug (Basenet with stacked transformations). "
        "Models: `model.safetensors` (default), `mlnnet_paper.safetensors`, `basenet.safetensors`."
    )
    report = study_report("MLNNet demo", intro, result, prof, out, default=DEFAULT_ROW, baselines=BASELINES)
    report += "\n" + real_image_section(out, out / "model.safetensors")
    write_text(out / "report.md", report, overwrite=True)
    log.info("report written to %s", out / "report.md")
    return result
