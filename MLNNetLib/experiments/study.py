"""One study = synthetic data, trained variants and baselines, every (method, selection) row scored on every
scanner style with bootstrap intervals, plus the selection and OOD checks.

The ablation, the generalisation benchmark and the demo are all studies; re-running one reuses finished data
and models (idempotent). A K=2 model is run at most once per branch per image, whatever the number of
selection rows it appears in: the rows' selections are made first, then only the branches some row chose
are predicted (the union row takes the maximum of both).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from MLNNetLib.atomic import write_text
from MLNNetLib.experiments.evaluation import ImageScore
from MLNNetLib.experiments.profiles import Profile
from MLNNetLib.log import get_logger
from MLNNetLib.training import VARIANTS, TrainConfig

log = get_logger(__name__)

TOPHAT = "tophat"  # the classical floor; not a training variant


@dataclass(frozen=True)
class Row:
    label: str  # name in the tables
    variant: str  # key of training.VARIANTS, or TOPHAT
    selection: str = "cosine"  # branch selection at test time (ignored for K=1 and the top-hat)
    adapt: bool = True  # test-time BatchNorm adaptation as the inference options say; False: stored statistics only
    tta: bool = False  # test-time augmentation as the inference options say; False: each tile once, as published


# The paper's Table 3, the baselines of its Table 2 that we can build (BigAug), the classical floor,
# seed 002's network, and our selections. The default (DEFAULT_ROW) is chosen by the benchmark's numbers.
ABLATION_ROWS = [
    Row("Top-hat floor", TOPHAT, "-"),
    Row("Basenet", "basenet"),
    Row("Basenet-S", "basenet-s"),
    Row("BigAug", "bigaug"),
    Row("MLN-net-R", "mln-net", "union"),
    Row("MLN-net-E", "mln-net", "euclidean"),
    Row("MLN-net", "mln-net", "cosine"),
    Row("MLN-net+", "mln-net", "plus"),
    Row("MLN-net (response)", "mln-net", "response"),
    Row("MLN-net (polarity)", "mln-net", "polarity"),
    Row("Pro_UNeXt", "pro_unext"),
    Row("Pro_UNeXt-MLN", "pro_unext-mln", "cosine"),
    Row("Pro_UNeXt-MLN (polarity)", "pro_unext-mln", "polarity"),
    Row("Pro_UNeXt-MLN + BigAug (cosine)", "pro_unext-mln-bigaug", "cosine"),
    Row("Pro_UNeXt-MLN + BigAug (polarity)", "pro_unext-mln-bigaug", "polarity"),
    Row("Pro_UNeXt + LCN", "pro_unext-lcn"),  # local contrast normalisation, one branch, the image as stored
    Row("Pro_UNeXt-MLN + LCN (cosine)", "pro_unext-mln-lcn", "cosine"),
    Row("Pro_UNeXt-MLN + LCN (polarity)", "pro_unext-mln-lcn", "polarity"),
    Row("Pro_UNeXt-MLN + BigAug + LCN (polarity)", "pro_unext-mln-bigaug-lcn", "polarity"),
    Row("Pro_UNeXt + BigAug + LCN (polarity)", "pro_unext-bigaug-lcn", "polarity"),
    Row("Pro_UNeXt + LCN + random curves (polarity)", "pro_unext-lcn-curves", "polarity", tta=True),
    Row("Pro_UNeXt + LCN (polarity), stored BN statistics", "pro_unext-lcn", "polarity", adapt=False),
    Row("Pro_UNeXt + LCN (polarity), no test-time augmentation", "pro_unext-lcn", "polarity"),
    Row("Pro_UNeXt + LCN (polarity)", "pro_unext-lcn", "polarity", tta=True),
]
# The default: one Pro_UNeXt with LCN, the image inverted back when its polarity reads inverted. On the quick
# benchmark it beat the same network with the norm branches (K = 2, polarity-selected) on 7 of 8 unseen styles
# (docs/decisions.md, "Generalisation"): with LCN the branches were needed only for inversion, and the polarity
# reading undoes inversion without costing the other styles anything.
DEFAULT_VARIANT, DEFAULT_SELECTION = "pro_unext-lcn", "polarity"
DEFAULT_ROW = "Pro_UNeXt + LCN (polarity)"
NO_ADAPT_ROW = "Pro_UNeXt + LCN (polarity), stored BN statistics"  # without test-time BN adaptation (nor augmentation)
NO_TTA_ROW = "Pro_UNeXt + LCN (polarity), no test-time augmentation"  # the default minus the averaged transforms
MLN_ROW = "Pro_UNeXt-MLN + LCN (polarity)"  # the best network with MLN-net's norm branches
# The rows a 2-core CPU can afford (the demo and `ablation --profile quick`): the default, the best MLN-net
# design, the paper's method as published, and the baselines the default must beat. `--rows all` adds the rest.
QUICK_ROWS = [
    Row("Top-hat floor", TOPHAT, "-"),
    Row("Basenet", "basenet"),
    Row("BigAug", "bigaug"),
    Row("MLN-net", "mln-net", "cosine"),  # the paper's method, as published
    Row(MLN_ROW, "pro_unext-mln-lcn", "polarity"),
    Row(NO_TTA_ROW, DEFAULT_VARIANT, DEFAULT_SELECTION),
    Row(DEFAULT_ROW, DEFAULT_VARIANT, DEFAULT_SELECTION, tta=True),
]
BASELINE_ROWS = ("Top-hat floor", "BigAug", "Basenet", "Basenet-S")


@dataclass
class StudyResult:
    source: str
    targets: list[str]
    rows: list[Row]
    scores: dict[tuple[str, str], list[ImageScore]] = field(default_factory=dict)  # (row label, style) -> images
    models: dict[str, Path] = field(default_factory=dict)
    checks: dict[str, list] = field(default_factory=dict)  # variant -> [SelectionCheck] (polarity x brightness)
    tophat: dict | None = None
    seconds: float = 0.0
    table: str = ""

    def values(self, label: str, style: str, metric: str = "dice") -> list[float | None]:
        return [s.metrics.get(metric) for s in self.scores.get((label, style), [])]


def ensure_dataset(domain: str, count: int, seed: int, out: Path, profile: Profile) -> list[dict]:
    """Generate (or reuse, when the same request made it) one synthetic dataset; return its items."""
    return ensure_datasets([domain], count, seed, out, profile, subfolders=False)[domain]


def ensure_datasets(domains: list[str], count: int, seed: int, out: Path, profile: Profile,
                    subfolders: bool = True) -> dict[str, list[dict]]:
    """One dataset per style holding the same scenes (so styles differ only in how they are acquired)."""
    from MLNNetLib.synth import write_datasets
    from MLNNetLib.training.data import find_items

    def folder(d: str) -> Path:
        return out / d if subfolders else out

    missing = []
    for d in domains:
        manifest = folder(d) / "manifest.json"
        if not manifest.exists():
            missing.append(d)
            continue
        m = json.loads(manifest.read_text())
        if len(m.get("items", [])) != count or m.get("seed") != seed or list(m.get("shape", [])) != list(profile.shape):
            raise FileExistsError(f"{folder(d)}: holds a different dataset; remove it or choose another --out")
        log.info("reusing %s (%d %s images)", folder(d), count, d)
    if missing:
        write_datasets(missing, count, seed, out, shape=profile.shape, spacing_mm=profile.spacing_mm,
                       subfolders=subfolders)
    return {d: find_items(folder(d), d) for d in domains}


def train_config(variant: str, data: Path, out: Path, profile: Profile, source: str, seed: int, device: str) -> TrainConfig:
    from MLNNetLib.model import config_for_arch

    v = VARIANTS[variant]
    arch = v.get("arch", "swin_unet")
    return TrainConfig(
        data=str(data), out=str(out), source_domain=source, config=config_for_arch(profile.config, arch), arch=arch,
        num_domains=v["num_domains"], augment=v["augment"], stacked_augment=v.get("stacked_augment", False),
        curve_augment=v.get("curve_augment", False),
        input_norm=v.get("input_norm"),
        epochs=profile.epochs, steps_per_epoch=profile.steps_per_epoch, batch_size=profile.batch_size, lr=profile.lr,
        warmup_steps=profile.warmup_steps, loss=profile.loss, seed=seed, device=device,
    )


def ensure_model(variant: str, data: Path, out: Path, profile: Profile, source: str, seed: int, device: str) -> Path:
    from MLNNetLib.training import train

    final = out / "model.safetensors"
    cfg = train_config(variant, data, out, profile, source, seed, device)
    if final.exists():
        saved = json.loads(final.with_suffix(".json").read_text())["training"]["settings"]
        defaults = TrainConfig(data="", out="").to_dict()  # settings added later count as their default
        same = all(saved.get(k, defaults[k]) == v for k, v in cfg.to_dict().items() if k not in ("resume", "overwrite", "device"))
        if same:
            log.info("reusing trained %s model %s", variant, final)
            return final
        log.info("%s: settings changed since it was trained; training again", final)
        cfg.overwrite = True
    elif (out / "last.safetensors").exists():
        cfg.resume = True
    log.info("training %s (%s)", variant, "; ".join(f"{k}={v}" for k, v in VARIANTS[variant].items()))
    return train(cfg)


class ScoreCache:
    """Per-image scores of one model, by selection and style, kept beside the study (``scores/VARIANT.json``).

    A row's scores depend only on the model, its run key (selection, test-time BatchNorm adaptation) and the
    test images, so a second study in the same
    folder (``ablation --rows all`` after the quick rows) scores only what is new. Keyed by the checkpoint's
    sha256 and the test images' ids: a retrained model or other test data starts empty."""

    def __init__(self, path: Path, model_sha: str | None, items: dict[str, list[dict]]) -> None:
        self.path, self.sha = path, model_sha
        self.items = {style: [it["id"] for it in its] for style, its in items.items()}
        self.rows: dict[str, dict[str, list[ImageScore]]] = {}
        self._fresh: dict[str, dict[str, list[ImageScore]]] = {}
        if model_sha and path.exists():
            saved = json.loads(path.read_text())
            if saved.get("sha256") == model_sha and saved.get("items") == self.items:
                self.rows = {sel: {style: [ImageScore(**d) for d in scores] for style, scores in by_style.items()}
                             for sel, by_style in saved["rows"].items()}

    def has(self, selection: str) -> bool:  # selection: a run key (scoring.run_key)
        return set(self.rows.get(selection, {})) >= set(self.items)

    def put(self, selection: str, style: str, scores: list[ImageScore]) -> None:
        self._fresh.setdefault(selection, {})[style] = scores

    def get(self, selection: str, style: str) -> list[ImageScore]:
        return self._fresh.get(selection, {}).get(style) or self.rows[selection][style]

    def save(self) -> None:
        if not self.sha:
            return
        rows = {sel: {st: [{"id": s.id, "domain": s.domain, "metrics": s.metrics, "summary": s.summary} for s in sc]
                      for st, sc in by_style.items()} for sel, by_style in {**self.rows, **self._fresh}.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text(self.path, json.dumps({"sha256": self.sha, "items": self.items, "rows": rows}, default=float),
                   overwrite=True)


def _fit_tophat(train_dir: Path, source: str, seed: int) -> "object":
    """The floor's threshold, chosen on the same held-out source images the models validate on."""
    from MLNNetLib.baselines import fit_threshold
    from MLNNetLib.io import read_image, read_mask
    from MLNNetLib.training.data import find_items, split_items

    _, val = split_items(find_items(train_dir, source), TrainConfig(data="", out="").val_fraction, seed)
    samples = []
    for item in val:
        image = read_image(item["image"])
        samples.append((image.array, read_mask(item["mask"], like=image).array, image.spacing))
    detector = fit_threshold(samples)
    log.info("top-hat floor: threshold %.3f chosen on %d held-out source images (their mean DSC %.3f)",
             detector.threshold, detector.fitted_on, detector.fitted_dice)
    return detector


def _score_tophat(detector, items: list[dict], keep: bool) -> list[ImageScore]:
    from MLNNetLib.baselines import detect
    from MLNNetLib.experiments.scoring import score
    from MLNNetLib.io import read_image, read_mask

    scores = []
    for item in items:
        image = read_image(item["image"])
        ref = read_mask(item["mask"], like=image)
        mask, inverted = detect(detector, image.array, image.spacing)
        scores.append(score(item, image, ref, mask, {"branch": None, "inverted": inverted}, keep))
    return scores


def run_study(
    out: Path, rows: list[Row], profile: Profile, source: str, targets: list[str], seed: int = 0,
    device: str = "auto", overlays: set[str] | None = None, check_images: int = 8, progress=None,
    workers: int | None = None,
) -> StudyResult:
    """Train what the rows need, score every row on every style, run the polarity x brightness check.

    ``workers``: processes that score the test images (None: one per core on a CPU, none on a GPU; 0: this
    process; scoring.py says why)."""
    from MLNNetLib.experiments.scoring import Scorer, scoring_workers
    from MLNNetLib.progress import ensure
    from MLNNetLib.training.distributed import resolve_device

    progress = ensure(progress)
    labels = [r.label for r in rows]
    if len(set(labels)) != len(labels):
        raise ValueError(f"study rows need distinct labels, got {labels}")
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    train_dir = out / "data" / "train" / source
    ensure_dataset(source, profile.train_images, seed, train_dir, profile)
    styles = [source, *targets]
    test_items = ensure_datasets(styles, profile.test_images, seed + 10_000, out / "data" / "test", profile)
    result = StudyResult(source, list(targets), list(rows))
    keep = overlays or set()
    variants = list(dict.fromkeys(r.variant for r in rows))
    scorer = Scorer(scoring_workers(device) if workers is None else workers, resolve_device(device).type)
    with scorer:
        _train_and_score(variants, rows, styles, test_items, train_dir, out, profile, source, seed, device, keep,
                         check_images, progress, scorer, result)
    progress.step(len(variants), len(variants), "scored")
    if overlays:
        for row in rows:
            if row.label in overlays:
                for style in styles:
                    _write_overlays(out / "overlays", row.label, test_items[style][:1], result.scores[(row.label, style)][:1])
    result.seconds = time.time() - t0
    write_text(out / "results.json", json.dumps(results_json(result), indent=1, default=float), overwrite=True)
    return result


def _train_and_score(variants: list[str], rows: list[Row], styles: list[str], test_items: dict[str, list[dict]],
                     train_dir: Path, out: Path, profile: Profile, source: str, seed: int, device: str, keep: set[str],
                     check_images: int, progress, scorer, result: StudyResult) -> None:
    """Each variant in turn: train it (or reuse it), score the rows not in its score cache, run the 2x2 check."""
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.experiments.scoring import run_key, selection_key
    from MLNNetLib.experiments.selection_check import check_selection
    from MLNNetLib.inference.norm_adapt import has_batchnorm
    from MLNNetLib.io import read_image

    for i, variant in enumerate(variants):
        progress.step(i, len(variants), f"model {variant}")
        if variant == TOPHAT:
            detector = _fit_tophat(train_dir, source, seed)
            result.tophat = detector.to_dict()
            for style in styles:
                label = next(r.label for r in rows if r.variant == TOPHAT)
                result.scores[(label, style)] = _score_tophat(detector, test_items[style], label in keep)
            continue
        result.models[variant] = ensure_model(variant, train_dir, out / "models" / variant, profile, source, seed, device)
        ckpt = load_checkpoint(result.models[variant])
        own = [r for r in rows if r.variant == variant]
        cache = ScoreCache(out / "scores" / f"{variant}.json", ckpt.header.get("sha256"), test_items)
        k = int(getattr(ckpt.model, "num_domains", 1))
        adapts = has_batchnorm(ckpt.model)
        todo = [r for r in own if not cache.has(run_key(r, k, adapts))]
        if len(todo) < len(own):
            log.info("%s: reusing the scores of %s (same model, same test images)", variant,
                     ", ".join(r.label for r in own if r not in todo))
        fresh = scorer.score(ckpt, result.models[variant], todo, {s: test_items[s] for s in styles}, keep, progress) if todo else {}
        for style in styles:
            for label, scores in fresh.get(style, {}).items():
                cache.put(next(run_key(r, k, adapts) for r in todo if r.label == label), style, scores)
            for r in own:
                result.scores[(r.label, style)] = cache.get(run_key(r, k, adapts), style)
        cache.save()
        # union selects nothing; K = 1: only polarity decides anything (whether to invert the image back)
        selecting = [m for m in dict.fromkeys(selection_key(r, k) for r in own) if m != "union" and (k > 1 or m == "polarity")]
        if selecting and check_images > 0:
            images = [read_image(it["image"]) for it in test_items[source][:check_images]]
            result.checks[variant] = check_selection(ckpt, images, selecting)


def results_json(result: StudyResult) -> dict:
    """Every image's metrics and selection facts, per row and style (the tables are computed from this)."""
    return {
        "source": result.source, "targets": result.targets, "seconds": result.seconds, "tophat": result.tophat,
        "rows": [{"label": r.label, "variant": r.variant, "selection": r.selection} for r in result.rows],
        "images": [{"method": label, "style": style, "id": s.id, **s.metrics,
                    **{k: s.summary.get(k) for k in ("branch", "ood", "ood_score", "polarity", "selection", "inverted", "norm_adapt")}}
                   for (label, style), scores in result.scores.items() for s in scores],
        "selection_checks": {v: [{"method": c.method, "correct": c.correct, "total": c.total} for c in checks]
                             for v, checks in result.checks.items()},
    }


def _write_overlays(folder: Path, label: str, items: list[dict], scores: list[ImageScore]) -> None:
    from MLNNetLib.experiments.overlays import save_overlay
    from MLNNetLib.io import read_image, read_mask

    for item, score in zip(items, scores):
        if score.mask is None:
            continue
        image = read_image(item["image"])
        ref = read_mask(item["mask"], like=image)
        stem = re.sub(r"[^A-Za-z0-9-]+", "_", label.replace("+", "plus")).strip("_")  # safe in file names and links
        name = f"{stem}_{item['domain']}_{item['id']}.png"
        title = f"{label} on {item['domain']} ({item['id']}): DSC {100 * score.metrics['dice']:.1f} %, branch {score.summary.get('branch')}"
        save_overlay(folder / name, image.array, score.mask, ref.array > 0, title)
