"""``mlnnet train``: one model from one labelled source domain."""

from __future__ import annotations

import argparse
import json

from MLNNetLib.model import ARCHITECTURES, config_for_arch, get_config
from MLNNetLib.training import VARIANTS, TrainConfig, train
from MLNNetLib.training.losses import LOSSES

HELP = "Train an MLN-net (K=2) or Basenet (K=1) model (Swin-Unet or Pro_UNeXt) on one source domain."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="folder holding manifest.json files (from `mlnnet synth`)")
    p.add_argument("--source-domain", default="ffdm", help="domain of the labelled source images (default: ffdm)")
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
    p.add_argument("--loss", default="paper", choices=sorted(LOSSES), help="paper = summed soft Dice over branches (eq. 14-15); "
                   "focal_dice = seed 002's focal + Dice; hd = focal + Dice + Hausdorff-distance loss")
    p.add_argument("--finetune-hd-epochs", type=int, default=0, help="seed 002: the last N epochs fine-tune with the HD loss")
    p.add_argument("--recipe-augment", action="store_true", help="seed 002 calcification-aware augmentation "
                   "(scale+crop, blur, sharpen, grayscale, histogram, affine, copy-paste)")
    p.add_argument("--pos-weight", type=float, default=20.0, help="BCE weight of calcification pixels (dice_bce)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--max-images", type=int, help="use only the first N source images")
    p.add_argument("--resume", action="store_true", help="continue the run in --out after its last completed epoch")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    num_domains, augment = args.num_domains, not args.no_augment
    arch = getattr(args, "arch", None)
    if args.variant:
        num_domains, augment = VARIANTS[args.variant]["num_domains"], VARIANTS[args.variant]["augment"]
        if arch is None and VARIANTS[args.variant].get("arch", "swin_unet") != "swin_unet":
            arch = VARIANTS[args.variant]["arch"]  # pro_unext variants pin their network; the others keep --config's
    config = config_for_arch(args.config, arch) if arch else args.config
    return TrainConfig(
        data=args.data, out=args.out, source_domain=args.source_domain, config=config, arch=get_config(config).arch,
        num_domains=num_domains, finetune_hd_epochs=getattr(args, "finetune_hd_epochs", 0),
        recipe_augment=getattr(args, "recipe_augment", False),
        augment=augment, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
        lr=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_steps, loss=args.loss,
        pos_weight=args.pos_weight, seed=args.seed, device=args.device, resume=args.resume,
        overwrite=args.overwrite, max_images=args.max_images,
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
