"""Seed 002 training recipe: focal + Dice and HD loss values on known masks, copy-paste alignment, geometric and
intensity augmentation, the tile-sampler wrapper and the epoch schedule of the HD fine-tuning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from MLNNetLib.errors import InputError
from MLNNetLib.training.data import Case, TileSampler
from MLNNetLib.training.losses import LOSSES, compute_loss
from MLNNetLib.training.recipe import (
    RecipeOptions, RecipeSampler, affine, boundary_distance, copy_paste, dice_loss, focal_dice, focal_loss,
    gaussian_blur, grayscale_transform, hausdorff_dt_loss, hd_finetune, histogram_transform, loss_for_epoch,
    scale_then_crop, sharpen,
)
from MLNNetLib.training.recipe.losses import FOCAL_WEIGHT, HD_SCALE_PX

torch.set_num_threads(1)


def _disc_mask(shape=(32, 32), centre=(16, 16), r=4) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) <= r * r).astype(np.float32)


# ---------------------------------------------------------------- losses


def test_focal_and_dice_known_values_at_half_probability() -> None:
    target = torch.zeros(1, 1, 4, 5)
    target[0, 0, 1, 1:4] = 1  # 3 of 20 pixels
    logits = torch.zeros_like(target)  # p = 0.5 everywhere
    n1, n = 3, 20
    focal = (0.75 * n1 + 0.25 * (n - n1)) * 0.25 * math.log(2) / n
    dice = 1 - (2 * 0.5 * n1 + 1) / (0.5 * n + n1 + 1)
    assert float(focal_loss(logits, target)) == pytest.approx(focal, rel=1e-6)
    assert float(dice_loss(torch.sigmoid(logits), target)) == pytest.approx(dice, rel=1e-6)
    total = focal_dice(logits, target, torch.zeros(1, dtype=torch.long), 1)
    assert float(total) == pytest.approx(dice + FOCAL_WEIGHT * focal, rel=1e-6)
    assert float(compute_loss("focal_dice", logits, target, torch.zeros(1, dtype=torch.long), 1, 20.0)) == \
        pytest.approx(float(total))
    perfect = (target * 2 - 1) * 30
    assert float(focal_dice(perfect, target, torch.zeros(1, dtype=torch.long), 1)) < 1e-6


def test_focal_dice_sums_dice_over_branches() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 1, 8, 8)
    target = (torch.rand(4, 1, 8, 8) > 0.8).float()
    d = torch.tensor([0, 1, 1, 0])
    p = torch.sigmoid(logits)
    expected = dice_loss(p[d == 0], target[d == 0]) + dice_loss(p[d == 1], target[d == 1])
    expected = expected + FOCAL_WEIGHT * focal_loss(logits, target)
    torch.testing.assert_close(focal_dice(logits, target, d, 2), expected)


def test_hd_loss_is_zero_for_identical_masks_and_grows_with_shift() -> None:
    ref = torch.from_numpy(_disc_mask())[None, None]
    assert float(hausdorff_dt_loss(ref.clone(), ref)) == 0.0
    losses = [float(hausdorff_dt_loss(torch.roll(ref, s, dims=-1), ref)) for s in (1, 3, 6)]
    assert 0 < losses[0] < losses[1] < losses[2]
    # one-sided, hand-computed: a single reference pixel, an empty prediction of zeros
    g = torch.zeros(1, 1, 5, 5)
    g[0, 0, 2, 2] = 1
    assert float(hausdorff_dt_loss(torch.zeros_like(g), g)) == pytest.approx((1 / HD_SCALE_PX) ** 2 / 25, rel=1e-6)


def test_hd_loss_gradient_flows_and_finetune_objective_adds_it() -> None:
    ref = torch.from_numpy(_disc_mask())[None, None]
    logits = torch.zeros_like(ref, requires_grad=True)
    loss = hd_finetune(logits, ref, torch.zeros(1, dtype=torch.long), 1)
    loss.backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0
    p = torch.sigmoid(logits.detach())
    expected = focal_dice(logits.detach(), ref, torch.zeros(1, dtype=torch.long), 1) + hausdorff_dt_loss(p, ref)
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6)
    assert "hd" in LOSSES and "focal_dice" in LOSSES and "paper" in LOSSES


def test_boundary_distance_values() -> None:
    m = np.zeros((5, 7), dtype=bool)
    assert not boundary_distance(m).any() and not boundary_distance(~m).any()
    m[2, 3] = True
    d = boundary_distance(m)
    assert d[2, 3] == 1.0 and d[2, 5] == 2.0 and d[0, 3] == 2.0 and d[0, 0] == pytest.approx(math.hypot(2, 3))


def test_hd_finetune_schedule() -> None:
    assert [loss_for_epoch("focal_dice", 5, 2, e) for e in range(5)] == ["focal_dice"] * 3 + ["hd"] * 2
    assert [loss_for_epoch("paper", 3, 0, e) for e in range(3)] == ["paper"] * 3
    with pytest.raises(InputError, match="finetune_hd_epochs"):
        loss_for_epoch("focal_dice", 3, 4, 0)


# ---------------------------------------------------------------- copy-paste


def _source(rng: np.random.Generator, n: int = 5, background: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Blurred bright spots (calcifications with their rim) on flat tissue; the mask is where the spot is
    above half its peak, as a level-tracing label would be."""
    spots = np.zeros((48, 48))
    for i in range(n):  # separated spots
        spots[5 + 8 * i, 6 + 7 * i] = 1.0
    spots = ndimage.gaussian_filter(ndimage.binary_dilation(spots, iterations=1).astype(float), 1.0)
    spots *= 0.25 / spots.max()
    img = (background + spots).astype(np.float32)
    return img, (spots > 0.125).astype(np.uint8)


def _boundary_jump(img: np.ndarray, mask: np.ndarray) -> float:
    """Mean |inside - outside| over 4-neighbour pairs that cross the label boundary."""
    m = mask.astype(bool)
    jumps = [np.abs(img[:, 1:] - img[:, :-1])[m[:, 1:] != m[:, :-1]], np.abs(img[1:] - img[:-1])[m[1:] != m[:-1]]]
    return float(np.concatenate(jumps).mean())


def test_copy_paste_transfers_the_calcification_not_its_background_and_labels_exactly_its_pixels() -> None:
    rng = np.random.default_rng(0)
    src_img, src_mask = _source(rng)  # on bright dense tissue (0.7)
    dst_img = np.full((48, 48), 0.2, dtype=np.float32)  # onto fatty tissue (0.2)
    dst_mask = np.zeros((48, 48), dtype=np.uint8)
    res = copy_paste(dst_img, dst_mask, src_img, src_mask, rng, ratio=1.0)
    assert res.components == [1, 2, 3, 4, 5]
    dr, dc = res.offset
    rows, cols = np.nonzero(src_mask)
    expected = np.zeros_like(res.mask)
    expected[rows + dr, cols + dc] = 1
    np.testing.assert_array_equal(res.mask, expected)  # the label is exactly the pasted mask pixels
    # each calcification keeps its contrast over the tissue it now lies on ...
    np.testing.assert_allclose(res.image[rows + dr, cols + dc] - 0.2, src_img[rows, cols] - 0.7, atol=1e-6)
    # ... and no step appears on the label boundary: the edge looks like the source's own edge
    # (the exact pixel copy made it a 0.5 cliff, the source tissue meeting the destination's)
    assert abs(_boundary_jump(res.image, res.mask) - _boundary_jump(src_img, src_mask)) < 0.02
    assert res.pasted.sum() > src_mask.sum()  # the rim came along, fading
    np.testing.assert_array_equal(res.image[~res.pasted], dst_img[~res.pasted])  # nothing else changed
    assert res.image[res.pasted].max() <= 0.2 + 0.25 + 1e-6 and res.image.min() >= 0.2 - 1e-6
    assert dst_mask.sum() == 0 and not np.shares_memory(res.image, dst_img)  # inputs untouched


def test_copy_paste_random_share_of_components_lands_on_breast() -> None:
    rng = np.random.default_rng(1)
    src_img, src_mask = _source(rng)
    dst_img = np.zeros((64, 64), dtype=np.float32)
    dst_mask = np.zeros((64, 64), dtype=np.uint8)
    dst_mask[60:62, 1:3] = 1  # an existing calcification stays
    breast = np.zeros((64, 64), dtype=bool)
    breast[:, :40] = True
    res = copy_paste(dst_img, dst_mask, src_img, src_mask, rng, dst_breast=breast, ratio=0.4)
    assert len(res.components) == 2  # round(0.4 * 5)
    new = res.mask.astype(bool) & ~dst_mask.astype(bool)
    labels, n = ndimage.label(new, structure=np.ones((3, 3)))
    assert n == 2 and new.sum() == sum(int((ndimage.label(src_mask, np.ones((3, 3)))[0] == k).sum()) for k in res.components)
    centre = np.round(np.argwhere(new).mean(0)).astype(int)
    assert breast[centre[0], centre[1]]
    assert res.mask[60:62, 1:3].all()
    # the components left behind leave nothing of themselves: no unlabelled bright pixels away from the labels
    far = ~ndimage.binary_dilation(res.mask.astype(bool), iterations=4)
    assert np.abs(res.image[far]).max() < 1e-3
    empty = copy_paste(dst_img, dst_mask, src_img, np.zeros_like(src_mask), rng)
    assert not empty.pasted.any() and np.array_equal(empty.mask, dst_mask)


# ---------------------------------------------------------------- augmentation


def _spots_tile() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mask = np.zeros((64, 64), dtype=np.uint8)
    for r, c in [(10, 12), (30, 40), (45, 20), (50, 50)]:
        mask[r - 1:r + 2, c - 1:c + 2] = 1
    img = (0.2 + 0.7 * mask).astype(np.float32)
    return img, mask, np.ones((64, 64), dtype=bool)


@pytest.mark.parametrize("transform", ["affine", "scale"])
def test_geometric_transforms_move_image_and_mask_together(transform: str) -> None:
    img, mask, breast = _spots_tile()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        if transform == "affine":
            out_img, out_mask, out_breast = affine(img, mask, breast, rng, degrees=30, scale=(0.8, 1.2), shear=0.2)
        else:
            out_img, out_mask, out_breast = scale_then_crop(img, mask, breast, rng, scale_range=(0.7, 1.6))
        assert out_img.shape == out_mask.shape == out_breast.shape == (64, 64)
        assert set(np.unique(out_mask)) <= {0, 1} and out_mask.any()
        on = out_img[out_mask > 0]
        assert (on > 0.5).mean() >= 0.9  # calcification pixels of the mask are bright in the image
        off = out_img[(out_mask == 0) & out_breast]
        assert (off > 0.85).mean() < 0.01
    ident = affine(img, mask, breast, np.random.default_rng(0), degrees=0, scale=(1, 1), shear=0)
    np.testing.assert_allclose(ident[0], img, atol=1e-6)
    assert np.array_equal(ident[1], mask)
    same = scale_then_crop(img, mask, breast, np.random.default_rng(0), scale_range=(1, 1))
    np.testing.assert_allclose(same[0], img, atol=1e-6)


def test_intensity_transforms_keep_range_and_background() -> None:
    rng = np.random.default_rng(3)
    img = np.zeros((40, 40), dtype=np.float32)
    breast = np.zeros((40, 40), dtype=bool)
    breast[:, :25] = True
    img[breast] = rng.uniform(0.2, 0.8, breast.sum())
    for out in (grayscale_transform(img, breast, rng), histogram_transform(img, breast, rng)):
        assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
        assert not out[~breast].any()
        assert not np.allclose(out, img)
    equalised = histogram_transform(img, breast, rng, strength=(1.0, 1.0))
    q = np.quantile(equalised[breast], [0.25, 0.5, 0.75])
    np.testing.assert_allclose(q, [0.25, 0.5, 0.75], atol=0.03)  # full equalisation: uniform values
    blurred, sharp = gaussian_blur(img, rng), sharpen(img, rng)
    lap = lambda a: float(np.abs(ndimage.laplace(a[:, :20])).mean())  # noqa: E731
    assert lap(blurred) < lap(img) < lap(sharp)


def _cases(rng: np.random.Generator, n: int = 3) -> list[Case]:
    cases = []
    for i in range(n):
        img, mask, breast = _spots_tile()
        img = np.clip(img + 0.05 * rng.standard_normal(img.shape), 0, 1).astype(np.float32)
        cases.append(Case(f"c{i}", img, mask, breast, (0.1, 0.1), np.argwhere(mask > 0), np.argwhere(breast)))
    return cases


def test_recipe_sampler_is_deterministic_and_returns_valid_tiles() -> None:
    sampler = TileSampler(_cases(np.random.default_rng(4)), 32, positive_fraction=1.0)
    recipe = RecipeSampler(sampler, RecipeOptions(copy_paste=1.0, scale_crop=0.5, affine=0.5, blur=0.3,
                                                  sharpen=0.3, grayscale=0.5, histogram=0.5))
    assert recipe.tile == 32
    a = [recipe.sample(np.random.default_rng(7)) for _ in range(2)]
    for x, y in zip(*a):
        np.testing.assert_array_equal(x, y)
    rng = np.random.default_rng(8)
    grew = 0
    for _ in range(12):
        img, mask, breast = recipe.sample(rng)
        assert img.shape == mask.shape == breast.shape == (32, 32)
        assert img.dtype == np.float32 and mask.dtype == np.uint8 and breast.dtype == bool
        assert 0 <= img.min() and img.max() <= 1 and set(np.unique(mask)) <= {0, 1}
        grew += int(mask.sum() > 9)
    assert grew > 0  # copy-paste added calcifications to at least some tiles
    off = RecipeSampler(sampler, RecipeOptions(0, 0, 0, 0, 0, 0, 0))
    ref = sampler.sample(np.random.default_rng(9))
    for x, y in zip(off.sample(np.random.default_rng(9)), ref):
        np.testing.assert_array_equal(x, y)  # all probabilities 0: the plain sampler's tiles


# ---------------------------------------------------------------- wiring into training


def test_training_with_recipe_and_hd_finetune_builds_a_pro_unext_checkpoint(tmp_path) -> None:
    from MLNNetLib.checkpoint import load_checkpoint
    from MLNNetLib.model import ProUNeXt
    from MLNNetLib.synth import write_dataset
    from MLNNetLib.training import TrainConfig, train

    write_dataset("ffdm", 2, 1, tmp_path / "data", shape=(160, 128), spacing_mm=0.2)
    cfg = TrainConfig(data=str(tmp_path / "data"), out=str(tmp_path / "run"), config="pro_unext-tiny", arch="pro_unext",
                      num_domains=2, epochs=2, steps_per_epoch=2, batch_size=2, loss="focal_dice", finetune_hd_epochs=1,
                      recipe_augment=True, val_tiles=2, stats_tiles=2, warmup_steps=1, device="cpu")
    ckpt = load_checkpoint(train(cfg))
    assert isinstance(ckpt.model, ProUNeXt) and ckpt.header["arch"] == "pro_unext"
    assert ckpt.header["augmentation"]["recipe"] is True
    settings = ckpt.header["training"]["settings"]
    assert settings["finetune_hd_epochs"] == 1 and settings["loss"] == "focal_dice"
    assert ckpt.stats is not None and set(ckpt.stats.layers) == set(ckpt.model.norm_names())
    rows = (tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3 and all(math.isfinite(float(v)) for v in rows[-1].split(",")[2:4])


# ---------------------------------------------------------------- the named recipe (train --recipe pro_unext)


def test_pro_unext_recipe_sets_the_seeds_network_loss_schedule_and_augmentation() -> None:
    import argparse

    from MLNNetLib.cli.train_cmd import add_arguments, config_from_args
    from MLNNetLib.model import get_config
    from MLNNetLib.model.pro_unext_config import PAPER_CHANNELS
    from MLNNetLib.training import TrainConfig
    from MLNNetLib.training.recipe.presets import hd_epochs, resolve_recipe

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--data", "d", "--out", "o", "--config", "small", "--variant", "pro_unext-mln",
                         "--recipe", "pro_unext", "--epochs", "10"])
    cfg = resolve_recipe(config_from_args(args))
    assert cfg.recipe == "pro_unext" and cfg.arch == "pro_unext" and cfg.config == "pro_unext-128"
    net = get_config(cfg.config)
    assert net.channels == PAPER_CHANNELS and net.img_size == 128  # the seed's widths, not the 0.8 M variant
    assert cfg.loss == "focal_dice" and cfg.finetune_hd_epochs == 2 and cfg.recipe_augment
    assert cfg.num_domains == 2 and cfg.augment  # K and the domain augmentation stay the variant's
    assert resolve_recipe(cfg) == cfg  # idempotent: saved settings compare equal
    assert resolve_recipe(TrainConfig(data="d", out="o", config="paper", recipe="pro_unext")).config == "pro_unext"
    assert [hd_epochs(e, 0.2) for e in (1, 2, 5, 10, 100)] == [0, 1, 1, 2, 20]
    plain = TrainConfig(data="d", out="o", config="small")
    assert resolve_recipe(plain) is plain
    with pytest.raises(InputError, match="drop --loss"):
        resolve_recipe(TrainConfig(data="d", out="o", config="small", recipe="pro_unext", loss="dice_bce"))
    with pytest.raises(InputError, match="unknown recipe"):
        resolve_recipe(TrainConfig(data="d", out="o", recipe="nnunet"))
