"""The generalisation benchmark: the paper's Table 3 rows, the baselines (top-hat floor, BigAug), seed 002's
network and our selections, trained on one source style and scored on every other, with intervals.

``full`` adds the leave-one-style-out matrix of the default (train on each style, test on all others);
it is meant for a GPU.
"""

from __future__ import annotations

from pathlib import Path

from MLNNetLib.atomic import write_text
from MLNNetLib.experiments.profiles import PROFILES
from MLNNetLib.experiments.reports import study_report
from MLNNetLib.experiments.study import ABLATION_ROWS, BASELINE_ROWS, DEFAULT_ROW, NO_ADAPT_ROW, NO_TTA_ROW, QUICK_ROWS, StudyResult, run_study

ROW_SETS = {"quick": QUICK_ROWS, "all": ABLATION_ROWS}

INTRO = (
    "Trained on the synthetic `{source}` style only; every other style is unseen. Top-hat floor = white top-hat + "
    "one threshold chosen on held-out source images; Basenet = Swin-Unet (K=1) on source images; Basenet-S = K=1 "
    "with the Bézier + inversion augmentation; BigAug = Basenet with deep stacked transformations (the paper's "
    "strongest Table 2 baseline); MLN-net-R = K=2, union of branches; MLN-net-E = Euclidean selection; MLN-net = "
    "cosine selection (argmax); MLN-net+ = cosine + correctional mean; (response) = the branch with the strongest "
    "calcification response; (polarity) = the branch whose tissue polarity matches the image's (ordinal "
    "subcutaneous-band cue, ours); Pro_UNeXt = seed 002's network (K=1), Pro_UNeXt-MLN = with per-domain norm "
    "branches; + BigAug = the stacked transformations under the branches; + LCN = local contrast normalisation of "
    "the network input (1.5 mm window, ours). Pro_UNeXt rows adapt their BatchNorm statistics a quarter of the way "
    "to an image the OOD flag calls unlike the source (test-time adaptation, ours); 'stored BN statistics' = the "
    "default without it. The default also averages each tile over four of its rotations and mirrors (test-time "
    "augmentation); 'no test-time augmentation' = the default without it. Baselines are scored without it, as "
    "published."
)


def run_ablation(out: Path, profile: str = "quick", source: str = "ffdm", targets: list[str] | None = None,
                 seed: int = 0, device: str = "auto", rows: str | None = None) -> StudyResult:
    """``rows``: "quick" (the default, the paper's method and the baselines) or "all" (every ablation row);
    default: quick for the quick profile, all otherwise. Both reuse the same folder's data and models."""
    from MLNNetLib.synth import DOMAINS

    targets = targets if targets is not None else [d for d in DOMAINS if d != source]
    prof = PROFILES[profile]
    chosen = ROW_SETS[rows or ("quick" if profile == "quick" else "all")]
    result = run_study(out, chosen, prof, source, targets, seed, device,
                       overlays={"Basenet", "MLN-net", DEFAULT_ROW})
    report = study_report("MLN-net ablation and generalisation benchmark", INTRO.format(source=source), result, prof,
                          out, default=DEFAULT_ROW, baselines=[b for b in [*BASELINE_ROWS, "MLN-net", NO_ADAPT_ROW, NO_TTA_ROW] if b in {r.label for r in chosen}])
    if profile == "full":
        from MLNNetLib.experiments.leave_one_out import leave_one_style_out

        report += "\n" + leave_one_style_out(out / "leave_one_style_out", prof, [source, *targets], seed, device)
    write_text(out / "ablation.md", report, overwrite=True)
    return result
