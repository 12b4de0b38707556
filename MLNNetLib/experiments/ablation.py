"""The paper's Table 3 on synthetic domains: Basenet, Basenet-S, MLN-net-R/-E, MLN-net, MLN-net+."""

from __future__ import annotations

from pathlib import Path

from MLNNetLib.atomic import write_text
from MLNNetLib.experiments.profiles import PROFILES
from MLNNetLib.experiments.reports import study_report
from MLNNetLib.experiments.study import ABLATION_ROWS, StudyResult, run_study


def run_ablation(out: Path, profile: str = "quick", source: str = "ffdm", targets: list[str] | None = None, seed: int = 0, device: str = "auto") -> StudyResult:
    from MLNNetLib.synth import DOMAINS

    targets = targets if targets is not None else [d for d in DOMAINS if d != source]
    prof = PROFILES[profile]
    result = run_study(out, ABLATION_ROWS, prof, source, targets, seed, device, overlays={"Basenet", "MLN-net", "MLN-net (response)"})
    intro = (f"Trained on the synthetic `{source}` domain only; every other domain is unseen. "
             "Basenet = Swin-Unet (K=1) on source images; Basenet-S = K=1 with the Bézier + inversion augmentation; "
             "MLN-net-R = K=2, union of branches; MLN-net-E = Euclidean selection; MLN-net = cosine selection (argmax); "
             "MLN-net+ = cosine + correctional mean; MLN-net (response) = the branch with the strongest calcification "
             "response (ours); Pro_UNeXt = seed 002's network (K=1), Pro_UNeXt-MLN = with per-domain BN/LN branches.")
    write_text(out / "ablation.md", study_report("MLN-net ablation (paper Table 3)", intro, result, prof, out), overwrite=True)
    return result
