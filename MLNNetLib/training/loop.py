"""The training loop: sampling, loss, validation, checkpoints, resume, DDP; then the exact statistics pass."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from MLNNetLib.atomic import write_text
from MLNNetLib.datasets.splits import split_document
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress
from MLNNetLib.training import distributed
from MLNNetLib.training.batches import make_batch
from MLNNetLib.training.config import TrainConfig
from MLNNetLib.training.data import TileSampler
from MLNNetLib.training.datasource import TrainingData, data_header, open_data, plan_data, resolve_domain
from MLNNetLib.training.loader import make_loader
from MLNNetLib.training.history import plot_history, read_history, write_history
from MLNNetLib.training.losses import compute_loss
from MLNNetLib.training.recipe import RecipeSampler, loss_for_epoch, precise_bn_batches
from MLNNetLib.training.recipe.presets import resolve_recipe
from MLNNetLib.training.recipe.weight_average import WeightAverage, check_decay
from MLNNetLib.training.state import check_resume, load_train_state, save_train_state
from MLNNetLib.training.validation import (
    best_score, build_validation, empty_row, selection_score, validate, validate_whole, whole_due,
)

log = get_logger(__name__)

FINAL, BEST, LAST, STATE = "model.safetensors", "best.safetensors", "last.safetensors", "last_state.safetensors"
LAST_AVERAGE = "last_average.safetensors"  # the weight average at the last epoch (resume); LAST holds the iterate


def _curves(cfg: TrainConfig) -> list:
    from MLNNetLib.augment import PAPER_CURVES

    curves = cfg.curves if cfg.curves is not None else PAPER_CURVES
    return [tuple(tuple(p) for p in pair) for pair in curves]


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up (transformers need it, DESIGN §3) then cosine decay to 5 %."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _per_domain(row: dict, key: str, domains: list[int]) -> str:
    values = [row.get(f"{key}_d{d}", float("nan")) for d in domains]
    return "n/a" if all(v != v for v in values) else " / ".join(f"{v:.3f}" for v in values)


def _check_out_dir(out: Path, cfg: TrainConfig) -> None:
    existing = [p for p in (FINAL, LAST) if (out / p).exists()]
    if existing and not (cfg.resume or cfg.overwrite):
        raise FileExistsError(f"{out}: already holds a training run ({', '.join(existing)}); pass --resume to continue it or --overwrite to start again")


def _best_epoch(history: list, every: int) -> dict:
    """Which epoch the best checkpoint is, and by what (training/validation.py)."""
    scored = [(selection_score(r, every), int(r["epoch"])) for r in history]
    scored = [(s, e) for s, e in scored if math.isfinite(s)]
    best = max(scored, key=lambda se: (se[0], -se[1]), default=(None, None))
    return {"best_epoch": best[1], "best_score": best[0],
            "best_by": "mean whole-image Dice over the validated domains" if every > 0 else "mean tile Dice"}


def _model_config(cfg: TrainConfig):
    """The network config of a run: the named preset, with the input-normalisation and Swin-Unet skip overrides."""
    from MLNNetLib.model import get_config

    config = get_config(cfg.config)
    if cfg.input_norm is not None:
        config = config.replace(input_norm=cfg.input_norm)
    if cfg.skip is not None:
        if config.arch != "swin_unet":
            raise InputError(None, f"skip={cfg.skip!r} is a Swin-Unet option; config {cfg.config!r} is {config.arch}")
        config = config.replace(skip=cfg.skip)
    return config


def _header(cfg: TrainConfig, model: torch.nn.Module, spacing, data: TrainingData, epoch: int, history: list,
            init: dict | None = None) -> dict:
    import timm

    from MLNNetLib import __version__

    return {
        "arch": cfg.arch,
        "config": model.config.to_dict(),
        "num_domains": cfg.num_domains,
        "spacing_mm": list(spacing),
        "augmentation": {"enabled": cfg.augment, "curves": [list(map(list, c)) for c in _curves(cfg)], "inversion": "inside breast, background kept", "recipe": cfg.recipe_augment, "stacked": cfg.stacked_augment, "random_curves": cfg.curve_augment},
        "training": {
            "source_domain": data.plan.domain,
            "data": str(cfg.data),
            "train_images": len(data.plan.train_items),
            "val_images": len(data.plan.val_items),
            "data_summary": data_header(data, cfg),
            "epochs_done": epoch,
            "settings": cfg.to_dict(),
            "best_val_dice": max((r["val_dice"] for r in history), default=None),
            **_best_epoch(history, cfg.val_whole_every),
            "init": init,
        },
        "versions": {"MLNNetLib": __version__, "torch": torch.__version__, "timm": timm.__version__},
    }


def train(cfg: TrainConfig, progress: Progress | None = None) -> Path:
    """Train one model; return the path of the final checkpoint (with domain statistics)."""
    from MLNNetLib.checkpoint import load_checkpoint, save_checkpoint
    from MLNNetLib.model import build_model

    cfg = resolve_recipe(cfg)
    if cfg.num_domains not in (1, 2):
        raise InputError(None, f"num_domains={cfg.num_domains}: training supports K=1 (Basenet) or K=2 (source-similar, source-dissimilar)")
    out = Path(cfg.out)
    model_config = _model_config(cfg)  # bad settings fail before anything is created
    if cfg.init and model_config.arch != "swin_unet":
        raise InputError(cfg.init, f"--init loads Swin Transformer weights; config {model_config.name!r} is a {model_config.arch} network")
    if cfg.init and not Path(cfg.init).is_file():
        raise InputError(cfg.init, "pretrained weights file not found")
    check_decay(cfg.ema_decay)
    if cfg.grad_checkpointing and model_config.arch != "swin_unet":
        raise InputError(None, f"gradient checkpointing is a Swin-Unet option; config {model_config.name!r} is {model_config.arch}")
    d = distributed.setup(cfg.device)
    if d.is_main:
        _check_out_dir(out, cfg)
    if cfg.source_domain is None:  # "the only domain of the data", recorded as that domain (and so compared on --resume)
        cfg = dataclasses.replace(cfg, source_domain=resolve_domain(cfg.data))
    if cfg.resume and (out / STATE).exists():
        check_resume(out / LAST, cfg.to_dict())  # before any data is read: say which setting differs
    plan = plan_data(cfg)  # every input is checked before the run folder exists
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "split.json", json.dumps(split_document(plan.split), indent=1), overwrite=True)
    torch.manual_seed(cfg.seed + d.rank)
    log.info("source domain %r: %d training and %d validation images", plan.domain, len(plan.train_items), len(plan.val_items))
    data = open_data(plan, cfg, d.is_main, lambda: distributed.barrier(d), progress=None)
    spacing = plan.spacing
    val_cases = [data.val.case(i) for i in range(len(data.val))]  # whole images: validation counts false positives

    model = build_model(model_config, num_domains=cfg.num_domains).to(d.device)
    if cfg.grad_checkpointing:
        model.set_grad_checkpointing(True)
        log.info("gradient checkpointing on: Swin blocks are recomputed in backward")
    init = None
    if cfg.init and not (cfg.resume and (out / STATE).exists()):  # a resumed run continues its own weights
        from MLNNetLib.model.pretrained import initialise_from

        init = initialise_from(model, cfg.init)
    tile = model.config.img_size
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = cfg.epochs * cfg.steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg.warmup_steps, total_steps))

    start_epoch, history = 0, []
    average = WeightAverage(model, cfg.ema_decay, start=cfg.warmup_steps) if cfg.ema_decay > 0 else None
    if cfg.resume and (out / STATE).exists():
        ckpt = load_checkpoint(out / LAST)
        model.load_state_dict(ckpt.model.state_dict())
        meta = load_train_state(out / STATE, opt)
        sched.load_state_dict(meta["scheduler"])
        start_epoch, history = int(meta["epoch"]), read_history(out / "metrics.csv")[: int(meta["epoch"])]
        init = (ckpt.header.get("training") or {}).get("init", init)
        if average is not None:
            average.restore(out / LAST_AVERAGE, int(meta.get("average_updates", 0)))
        log.info("resuming %s after epoch %d", out, start_epoch)
    elif cfg.resume:
        log.info("--resume: no saved state in %s, starting from scratch", out)

    net = torch.nn.parallel.DistributedDataParallel(model) if d.enabled else model
    sampler = TileSampler(data.train, tile, cfg.positive_fraction)
    if cfg.recipe_augment:  # seed 002 §2.1: calcification-aware augmentation of each tile, before the domain versions
        sampler = RecipeSampler(sampler)
    if cfg.stacked_augment:  # BigAug stacked transforms; the domain versions are made from the transformed tile
        from MLNNetLib.training.bigaug import BigAugSampler

        sampler = BigAugSampler(sampler)
    if cfg.curve_augment:  # a random Bézier curve per tile, for single-branch networks (no inversion)
        from MLNNetLib.training.curve_sampler import CurveSampler

        sampler = CurveSampler(sampler)
    loss_for_epoch(cfg.loss, cfg.epochs, cfg.finetune_hd_epochs, 0)  # refuse a bad fine-tuning length early
    vset = build_validation(val_cases, tile, cfg.val_tiles, cfg.seed, cfg.num_domains, cfg.augment)
    curves = _curves(cfg)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if d.device.type == "cuda" else contextlib.nullcontext
    best = best_score(history, cfg.val_whole_every)
    batches = iter(make_loader(sampler, cfg.batch_size, cfg.steps_per_epoch, cfg.epochs, start_epoch, cfg.num_domains,
                               cfg.augment, curves, cfg.seed, d.rank, cfg.workers))
    log.info(
        "training %s K=%d (%s) on %s: %d epochs x %d steps, batch %d tiles of %d px, loss %s",
        model.config.name, cfg.num_domains, "augmented" if cfg.augment else "no augmentation", d.device,
        cfg.epochs, cfg.steps_per_epoch, cfg.batch_size, tile, cfg.loss,
    )
    if average is not None:
        log.info("weight averaging: EMA with decay %g from step %d; the average is validated, selected and shipped",
                 cfg.ema_decay, cfg.warmup_steps)
    evaluated = average.module if average is not None else model  # what is validated, kept as best, shipped
    from tqdm import tqdm

    for epoch in range(start_epoch, cfg.epochs):
        loss_name = loss_for_epoch(cfg.loss, cfg.epochs, cfg.finetune_hd_epochs, epoch)  # seed 002: HD fine-tuning
        net.train()
        t0, losses = time.time(), []
        bar = tqdm(range(cfg.steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not d.is_main, leave=False)
        for step in bar:
            if progress is not None:
                progress.step(epoch * cfg.steps_per_epoch + step, total_steps, f"epoch {epoch + 1}")
            x, y, dom = next(batches)  # per-item streams (loader.py) make a resumed run identical
            x, y, dom = x.to(d.device), y.to(d.device), dom.to(d.device)
            with autocast():
                logits = net(x, dom)
            loss = compute_loss(loss_name, logits, y, dom, cfg.num_domains, cfg.pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            if average is not None:
                average.update(model, epoch * cfg.steps_per_epoch + step)
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        # Pro_UNeXt: BatchNorm running statistics recomputed with this epoch's final weights (precise BN)
        precise_bn_batches(evaluated, make_batch, sampler, cfg, curves, np.random.default_rng([cfg.seed, d.rank, epoch, 1]))
        row = {**empty_row(), **validate(evaluated, vset, cfg.loss, cfg.pos_weight, d.device)}
        if whole_due(epoch + 1, cfg.epochs, cfg.val_whole_every):
            row.update(validate_whole(evaluated, vset, d.device))
        row.update({
            "epoch": epoch + 1, "step": (epoch + 1) * cfg.steps_per_epoch,
            "train_loss": distributed.all_reduce_mean(float(np.mean(losses)), d),
            "lr": sched.get_last_lr()[0], "seconds": time.time() - t0,
        })
        row["score"] = selection_score(row, cfg.val_whole_every)
        history.append(row)
        if d.is_main:
            log.info("epoch %d: train loss %.4f, val loss %.4f, tile Dice %s, whole-image Dice %s (%.0f s)", epoch + 1,
                     row["train_loss"], row["val_loss"], _per_domain(row, "val_dice", vset.domains),
                     _per_domain(row, "whole_dice", vset.domains), row["seconds"])
            header = _header(cfg, model, spacing, data, epoch + 1, history, init)
            save_checkpoint(out / LAST, model, header, overwrite=True)
            if average is not None:
                save_checkpoint(out / LAST_AVERAGE, average.module, header, overwrite=True)
            save_train_state(out / STATE, opt, {"epoch": epoch + 1, "scheduler": sched.state_dict(),
                                                "average_updates": average.updates if average is not None else 0})
            if math.isfinite(row["score"]) and row["score"] > best:
                best = row["score"]
                log.info("epoch %d is the best so far (%s %.3f)", epoch + 1,
                         "whole-image Dice" if cfg.val_whole_every > 0 else "tile Dice", best)
                save_checkpoint(out / BEST, evaluated, header, overwrite=True)
            write_history(out / "metrics.csv", history)
            plot_history(out / "curves.png", history, f"{model.config.name} K={cfg.num_domains} on {cfg.source_domain}")
        distributed.barrier(d)

    final = out / FINAL
    if d.is_main:
        fallback = out / (LAST_AVERAGE if average is not None else LAST)
        best_model = load_checkpoint(out / BEST if (out / BEST).exists() else fallback).model.to(d.device)
        from MLNNetLib.training.finalize import finalize

        header = _header(cfg, best_model, spacing, data, cfg.epochs, history, init)
        finalize(best_model, header, data.cases, cfg, curves, final, val_cases=val_cases if plan.val_items else None)
    distributed.barrier(d)
    distributed.teardown(d)
    return final
