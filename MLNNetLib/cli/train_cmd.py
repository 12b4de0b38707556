"""``mlnnet train``: one model from one labelled source domain."""

from __future__ import annotations

import argparse
import json

from MLNNetLib.model import ARCHITECTURES, config_for_arch, get_config
from MLNNetLib.model.configs import SKIP_WIRINGS
from MLNNetLib.training import VARIANTS, TrainConfig, train
from MLNNetLib.training.losses import LOSSES
from MLNNetLib.training.recipe.presets import RECIPES

HELP = "Train an MLN-net (K=2) or Basenet (K=1) model (Swin-Unet or Pro_UNeXt) on one source domain."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="a manifest (from `mlnnet prepare` or `mlnnet synth`) or a folder holding "
                                                  "manifest.json files")
    p.add_argument("--source-domain", help="domain of the labelled source images (default: the only domain in the "
                                           "data; the demo's synthetic folders hold several, e.g. ffdm)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, metrics.csv, curves.png")
    p.add_argument("--config", default="small", help="network config: small | paper | tiny | small-stem | paper-stem | "
                                                      "pro_unext | pro_unext-small | pro_unext-tiny")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), help="network: swin_unet (MLN-net) or pro_unext (seed 002); "
                                                                "maps --config to that architecture's config of the same size")
    p.add_argument("--variant", choices=sorted(VARIANTS), help="paper variant; sets --num-domains and augmentation")
    p.add_argument("--num-domains", type=int, default=2, help="LayerNorm branches K (1 = Basenet)")
    p.add_argument("--no-augment", action="store_true", help="train on source images only (Basenet)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps-per-epoch", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=4, help="tiles per step (each gives one sample per domain)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=50)
    p.add_argument("--ema-decay", type=float, default=0.0, metavar="D", help="validate, keep and ship an exponential "
                   "moving average of the weights (decay D, e.g. 0.99, from the end of the warm-up); default 0 = off: "
                   "measured worse on the 300-step CPU profiles, where the model is still improving at the last step")
    p.add_argument("--loss", default="paper", choices=sorted(LOSSES), help="paper = summed soft Dice over branches (eq. 14-15); "
                   "focal_dice = seed 002's focal + Dice; hd = focal + Dice + Hausdorff-distance loss")
    p.add_argument("--finetune-hd-epochs", type=int, default=0, help="seed 002: the last N epochs fine-tune with the HD loss")
    p.add_argument("--recipe-augment", action="store_true", help="seed 002 calcification-aware augmentation "
                   "(scale+crop, blur, sharpen, grayscale, histogram, affine, copy-paste)")
    p.add_argument("--stacked-augment", action="store_true", help="BigAug deep stacked transformations of every tile "
                   "(rotation, scaling, resolution, blur, sharpen, noise, brightness, contrast, gamma; p=0.5 each)")
    p.add_argument("--random-curves", dest="curve_augment", action="store_true", help="each tile through a random "
                   "monotone Bézier intensity curve (p = 2/3; for single-branch networks, no inversion; the variant "
                   "pro_unext-lcn-curves sets it)")
    p.add_argument("--recipe", choices=sorted(RECIPES), help="a paper's whole training recipe; pro_unext = seed 002: "
                   "Pro_UNeXt with the paper's widths, focal + Dice then HD fine-tuning, calcification-aware augmentation")
    p.add_argument("--init", metavar="PATH", help="start the Swin-Unet from local timm/Microsoft Swin weights "
                   "(.safetensors or .pth; nothing is downloaded)")
    p.add_argument("--skip", choices=SKIP_WIRINGS, help="Swin-Unet skip taps: stage_input (official Swin-Unet, the "
                   "config default) or stage_output")
    p.add_argument("--input-norm", choices=("none", "local"), help="network input normalisation: local = local contrast "
                   "normalisation of each tile (1.5 mm Gaussian window), none = the [0, 1] tile as it is (config default)")
    p.add_argument("--grad-checkpointing", action="store_true", help="recompute Swin blocks in backward: less GPU "
                   "memory for the paper config, same results")
    p.add_argument("--val-whole-every", type=int, default=2, metavar="N", help="validate on whole held-out images "
                   "(false positives count) every N epochs and at the last; the best epoch is chosen by it (0 = tiles only)")
    p.add_argument("--pos-weight", type=float, default=20.0, help="BCE weight of calcification pixels (dice_bce)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--max-images", type=int, help="use only the first N source images")
    p.add_argument("--folds", type=int, help="cross-validation by patient: K folds (with --fold)")
    p.add_argument("--fold", type=int, help="0-based fold used for validation (with --folds)")
    p.add_argument("--split", dest="split_file", help='split file {"train": [patient ids], "validation": [patient ids]} '
                                                     "(every run writes the split it used to RUN/split.json)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="share of patients held out for validation (default 0.2)")
    p.add_argument("--cache", help="prepare-once cache folder (memory-mapped arrays at the training spacing; built or "
                                   "completed on first use); without it the images are held in memory")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for tile sampling (default 0)")
    p.add_argument("--spacing", type=float, metavar="MM", help="training pixel spacing (default: the images' own; their "
                                                               "median when they differ, the others resampled)")
    p.add_argument("--region-labels", default="refuse", choices=("refuse", "detect", "skip"),
                   help="what region labels (loose outlines, e.g. CBIS-DDSM) become: detect = calcifications found inside "
                        "by the library's classical detector (approximate), skip = left out; refuse (default) stops")
    p.add_argument("--points-labels", default="trace", choices=("trace", "skip"),
                   help="point labels (e.g. INbreast): trace = level-tracing masks (default), skip = left out")
    p.add_argument("--max-memory-gb", type=float, default=8.0, help="largest data held in memory without --cache")
    p.add_argument("--resume", action="store_true", help="continue the run in --out after its last completed epoch")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    num_domains, augment = args.num_domains, not args.no_augment
    stacked = getattr(args, "stacked_augment", False)
    curves = getattr(args, "curve_augment", False)
    arch = getattr(args, "arch", None)
    if args.variant:
        num_domains, augment = VARIANTS[args.variant]["num_domains"], VARIANTS[args.variant]["augment"]
        stacked = stacked or VARIANTS[args.variant].get("stacked_augment", False)
        curves = curves or VARIANTS[args.variant].get("curve_augment", False)
        if getattr(args, "input_norm", None) is None:
            args.input_norm = VARIANTS[args.variant].get("input_norm")
        if arch is None and VARIANTS[args.variant].get("arch", "swin_unet") != "swin_unet":
            arch = VARIANTS[args.variant]["arch"]  # pro_unext variants pin their network; the others keep --config's
    config = config_for_arch(args.config, arch) if arch else args.config
    return TrainConfig(
        data=args.data, out=args.out, source_domain=args.source_domain, config=config, arch=get_config(config).arch,
        num_domains=num_domains, finetune_hd_epochs=getattr(args, "finetune_hd_epochs", 0),
        recipe_augment=getattr(args, "recipe_augment", False), stacked_augment=stacked, curve_augment=curves,
        augment=augment, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        lr=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_steps, loss=args.loss,
        ema_decay=getattr(args, "ema_decay", 0.0),
        pos_weight=args.pos_weight, seed=args.seed, device=args.device, resume=args.resume,
        overwrite=args.overwrite, max_images=args.max_images, recipe=getattr(args, "recipe", None),
        init=getattr(args, "init", None), skip=getattr(args, "skip", None), input_norm=getattr(args, "input_norm", None),
        val_whole_every=getattr(args, "val_whole_every", 2), grad_checkpointing=getattr(args, "grad_checkpointing", False),
        folds=getattr(args, "folds", None),
        fold=getattr(args, "fold", None), split_file=getattr(args, "split_file", None),
        val_fraction=getattr(args, "val_fraction", 0.2), cache=getattr(args, "cache", None),
        workers=getattr(args, "workers", 0), spacing=getattr(args, "spacing", None),
        region_labels=getattr(args, "region_labels", "refuse"), points_labels=getattr(args, "points_labels", "trace"),
        max_memory_gb=getattr(args, "max_memory_gb", 8.0),
    )


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.outputs import OutputPlan

    config = config_from_args(args)
    plan = OutputPlan(args.overwrite, inputs=[args.data])
    plan.folder(args.out, option="--out")
    with plan:  # --out checked writable before the data is read; removed again if a failed run left it empty
        final = train(config)
    print(json.dumps({"model": str(final), "header": str(final.with_suffix(".json"))}))
    return 0
