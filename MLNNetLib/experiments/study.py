"""One study = synthetic data, a few trained variants, every (variant, selection) row scored on every domain.

The ablation and the demo are both studies; re-running one reuses finished data and models (idempotent).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from MLNNetLib.atomic import write_text
from MLNNetLib.experiments.evaluation import ImageScore, branch_counts, evaluate_checkpoint, markdown_table, summarize
from MLNNetLib.experiments.profiles import Profile
from MLNNetLib.log import get_logger
from MLNNetLib.training import VARIANTS, TrainConfig

log = get_logger(__name__)


@dataclass(frozen=True)
class Row:
    label: str  # name in the paper's Table 3
    variant: str  # key of training.VARIANTS
    selection: str  # branch selection at test time


ABLATION_ROWS = [
    Row("Basenet", "basenet", "cosine"),
    Row("Basenet-S", "basenet-s", "cosine"),
    Row("MLN-net-R", "mln-net", "union"),
    Row("MLN-net-E", "mln-net", "euclidean"),
    Row("MLN-net", "mln-net", "cosine"),
    Row("MLN-net+", "mln-net", "plus"),
    Row("MLN-net (response)", "mln-net", "response"),  # ours: branch with the strongest calcification response
    Row("Pro_UNeXt", "pro_unext", "cosine"),  # seed 002's network, K=1, source images only
    Row("Pro_UNeXt-MLN", "pro_unext-mln", "cosine"),  # the same with per-domain BN/LN branches, cosine selection
]


@dataclass
class StudyResult:
    table: str
    rows: list[dict] = field(default_factory=list)
    scores: dict[tuple[str, str], list[ImageScore]] = field(default_factory=dict)
    models: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def ensure_dataset(domain: str, count: int, seed: int, out: Path, profile: Profile) -> list[dict]:
    """Generate (or reuse, when the same request made it) one synthetic dataset; return its items."""
    from MLNNetLib.synth import write_dataset
    from MLNNetLib.training.data import find_items

    manifest = out / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if len(m.get("items", [])) == count and m.get("seed") == seed and list(m.get("shape", [])) == list(profile.shape):
            log.info("reusing %s (%d %s images)", out, count, domain)
            return find_items(out, domain)
        raise FileExistsError(f"{out}: holds a different dataset; remove it or choose another --out")
    write_dataset(domain, count, seed, out, shape=profile.shape, spacing_mm=profile.spacing_mm)
    return find_items(out, domain)


def ensure_model(variant: str, data: Path, out: Path, profile: Profile, source: str, seed: int, device: str) -> Path:
    from MLNNetLib.model import config_for_arch
    from MLNNetLib.training import train

    final = out / "model.safetensors"
    arch = VARIANTS[variant].get("arch", "swin_unet")
    cfg = TrainConfig(
        data=str(data), out=str(out), source_domain=source, config=config_for_arch(profile.config, arch), arch=arch,
        num_domains=VARIANTS[variant]["num_domains"], augment=VARIANTS[variant]["augment"],
        stacked_augment=VARIANTS[variant].get("stacked_augment", False), epochs=profile.epochs,
        steps_per_epoch=profile.steps_per_epoch, batch_size=profile.batch_size, lr=profile.lr,
        warmup_steps=profile.warmup_steps, loss=profile.loss, seed=seed, device=device,
    )
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


def run_study(
    out: Path, rows: list[Row], profile: Profile, source: str, targets: list[str], seed: int = 0,
    device: str = "auto", overlays: set[str] | None = None,
) -> StudyResult:
    from MLNNetLib.checkpoint import load_checkpoint

    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    train_items_dir = out / "data" / "train" / source
    ensure_dataset(source, profile.train_images, seed, train_items_dir, profile)
    test_items = {
        dom: ensure_dataset(dom, profile.test_images, seed + 10_000 + i, out / "data" / "test" / dom, profile)
        for i, dom in enumerate([source, *targets])
    }
    result = StudyResult(table="")
    for variant in dict.fromkeys(r.variant for r in rows):
        result.models[variant] = ensure_model(variant, train_items_dir, out / "models" / variant, profile, source, seed, device)
    table_rows = []
    for row in rows:
        ckpt = load_checkpoint(result.models[row.variant])
        for dom, items in test_items.items():
            scores = evaluate_checkpoint(ckpt, items, row.selection, keep_masks=overlays is not None and row.label in overlays)
            result.scores[(row.label, dom)] = scores
            summary = summarize(scores)
            target = f"{dom} (source)" if dom == source else dom
            table_rows.append((row.label, target, summary))
            result.rows.append({"method": row.label, "variant": row.variant, "selection": row.selection, "target": dom,
                                "mean_std": summary, "branches": branch_counts(scores),
                                "images": [{"id": s.id, **s.metrics, "branch": s.summary.get("branch")} for s in scores]})
            if overlays is not None and row.label in overlays:
                _write_overlays(out / "overlays", row.label, items[:1], scores[:1])
    result.table = markdown_table(table_rows)
    result.seconds = time.time() - t0
    write_text(out / "results.json", json.dumps(result.rows, indent=1, default=float), overwrite=True)
    return result


def _write_overlays(folder: Path, label: str, items: list[dict], scores: list[ImageScore]) -> None:
    from MLNNetLib.experiments.overlays import save_overlay
    from MLNNetLib.io import read_image, read_mask

    for item, score in zip(items, scores):
        image = read_image(item["image"])
        ref = read_mask(item["mask"], like=image)
        stem = re.sub(r"[^A-Za-z0-9-]+", "_", label.replace("+", "plus")).strip("_")  # safe in file names and links
        name = f"{stem}_{item['domain']}_{item['id']}.png"
        title = f"{label} on {item['domain']} ({item['id']}): DSC {100 * score.metrics['dice']:.1f} %, branch {score.summary.get('branch')}"
        save_overlay(folder / name, image.array, score.mask, ref.array > 0, title)
