"""Seed 002's training recipe for calcifications: focal + Dice, HD-loss fine-tuning, calcification-aware
augmentation with copy-paste. Usable by both architectures through TrainConfig (loss="focal_dice",
finetune_hd_epochs=N, recipe_augment=True)."""

from MLNNetLib.errors import InputError
from MLNNetLib.training.recipe.augment import (
    affine, gaussian_blur, grayscale_transform, histogram_transform, scale_then_crop, sharpen,
)
from MLNNetLib.training.recipe.copy_paste import PasteResult, copy_paste
from MLNNetLib.training.recipe.losses import (
    RECIPE_LOSSES, boundary_distance, dice_loss, focal_dice, focal_loss, hausdorff_dt_loss, hd_finetune,
)
from MLNNetLib.training.recipe.precise_bn import PRECISE_BN_BATCHES, precise_bn_batches
from MLNNetLib.training.recipe.sampler import RecipeOptions, RecipeSampler

HD_LOSS = "hd"


def loss_for_epoch(loss: str, epochs: int, finetune_hd_epochs: int, epoch: int) -> str:
    """The loss of 0-based ``epoch``: ``loss``, except the last ``finetune_hd_epochs`` fine-tune with HD."""
    if not 0 <= finetune_hd_epochs <= epochs:
        raise InputError(None, f"finetune_hd_epochs={finetune_hd_epochs} must be between 0 and epochs={epochs}")
    return HD_LOSS if epoch >= epochs - finetune_hd_epochs else loss


__all__ = [
    "HD_LOSS", "PRECISE_BN_BATCHES", "PasteResult", "RECIPE_LOSSES", "RecipeOptions", "RecipeSampler", "affine",
    "boundary_distance", "copy_paste", "dice_loss", "focal_dice", "focal_loss", "gaussian_blur",
    "grayscale_transform", "hausdorff_dt_loss", "hd_finetune", "histogram_transform", "loss_for_epoch",
    "precise_bn_batches", "scale_then_crop", "sharpen",
]
