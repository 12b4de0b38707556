"""Named training recipes: one option (``train --recipe NAME``, ``TrainConfig.recipe``) that sets everything a
paper's recipe changes, so a row named after that paper trains with that paper's recipe.

``pro_unext`` (seed 002 §2.1-2.4): the Pro_UNeXt network with the seed's channel widths (64 ... 2048, not the
0.8 M-parameter ``pro_unext-small``), focal + Dice loss, then the HD loss to fine-tune (the seed gives no length:
the last ``HD_FRACTION`` of the epochs, at least one), and the calcification-aware augmentation with copy-paste.
The tile size stays the one of the requested ``--config`` (512 px for ``paper``, 128 for ``small``, 64 for
``tiny``): the seed trains on 512-px crops, the CPU profiles use smaller tiles. Domain branches (K) and the
Bézier/inversion augmentation stay as the variant sets them (Pro_UNeXt: K=1; Pro_UNeXt-MLN: K=2).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)

HD_FRACTION = 0.2
DEFAULT_LOSS = "paper"  # TrainConfig's default: a recipe may replace it, not an explicitly different loss


@dataclass(frozen=True)
class Recipe:
    name: str
    arch: str
    config_by_tile: dict[int, str]  # tile size of the requested config -> the recipe's network preset
    loss: str
    hd_fraction: float
    recipe_augment: bool
    source: str  # where the recipe comes from, for logs and headers


RECIPES: dict[str, Recipe] = {
    "pro_unext": Recipe(
        name="pro_unext", arch="pro_unext", config_by_tile={512: "pro_unext", 128: "pro_unext-128", 64: "pro_unext-64"},
        loss="focal_dice", hd_fraction=HD_FRACTION, recipe_augment=True,
        source="seed 002 (Tong et al. 2024) §2.1-2.4: Pro_UNeXt, focal + Dice then HD fine-tuning, "
               "calcification-aware augmentation with copy-paste"),
}


def hd_epochs(epochs: int, fraction: float) -> int:
    """Fine-tuning epochs of a run of ``epochs``: ``fraction`` of them, at least 1 (0 for a 1-epoch run)."""
    if epochs <= 1:
        return 0
    return min(epochs - 1, max(1, round(fraction * epochs)))


def resolve_recipe(cfg):
    """``cfg`` (a TrainConfig) with its recipe's settings filled in; unchanged when ``cfg.recipe`` is None.

    Idempotent (resolving a resolved config changes nothing), so callers that compare saved settings with a
    requested run resolve both. A loss other than the default that contradicts the recipe is refused.
    """
    from MLNNetLib.model import get_config

    if not cfg.recipe:
        return cfg
    if cfg.recipe not in RECIPES:
        raise InputError(None, f"unknown recipe {cfg.recipe!r}; choose one of {sorted(RECIPES)}")
    r = RECIPES[cfg.recipe]
    if cfg.loss not in (DEFAULT_LOSS, r.loss):
        raise InputError(None, f"recipe {r.name!r} trains with loss {r.loss!r}; drop --loss {cfg.loss} or the recipe")
    tile = get_config(cfg.config).img_size
    if tile not in r.config_by_tile:
        raise InputError(None, f"recipe {r.name!r} has networks for tiles of {sorted(r.config_by_tile)} px; "
                               f"config {cfg.config!r} uses {tile} px")
    finetune = cfg.finetune_hd_epochs or hd_epochs(cfg.epochs, r.hd_fraction)
    resolved = dataclasses.replace(cfg, arch=r.arch, config=r.config_by_tile[tile], loss=r.loss,
                                   finetune_hd_epochs=finetune, recipe_augment=r.recipe_augment)
    if resolved != cfg:
        log.info("recipe %s (%s): network %s, loss %s with the last %d of %d epochs fine-tuned with the HD loss, "
                 "calcification-aware augmentation %s", r.name, r.source, resolved.config, r.loss, finetune,
                 cfg.epochs, "on" if r.recipe_augment else "off")
    return resolved
