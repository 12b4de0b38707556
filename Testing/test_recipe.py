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


def _source(rng: np.random.Generator, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    img = rng.random((48, 48)).astype(np.float32)
    mask = np.zeros((48, 48), dtype=np.uint8)
    for i in range(n):  # separated 2x3 blobs
        r, c = 4 + 8 * i, 5 + 7 * i
        mask[r:r + 2, c:c + 3] = 1
    return img, mask


def test_copy_paste_keeps_masks_and_images_aligned() -> None:
    rng = np.random.default_rng(0)
    src_img, src_mask = _source(rng)
    dst_img = rng.random((48, 48)).astype(np.float32)
    dst_mask = np.zeros((48, 48), dtype=np.uint8)
    res = copy_paste(dst_img, dst_mask, src_img, src_mask, rng, ratio=1.0)
    assert res.components == [1, 2, 3, 4, 5]
    dr, dc = res.offset
    rows, cols = np.nonzero(src_mask)
    np.testing.assert_array_equal(res.image[rows + dr, cols + dc], src_img[rows, cols])  # pixel for pixel
    assert np.array_equal(res.mask.astype(bool), res.pasted)  # the mask marks exactly the pasted pixels
    assert res.pasted.sum() == src_mask.sum()
    np.testing.assert_array_equal(res.image[~res.pasted], dst_img[~res.pasted])  # nothing else changed
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
    labels, n = ndimage.label(res.pasted, structure=np.ones((3, 3)))
    assert n == 2
    centre = np.round(np.argwhere(res.pasted).mean(0)).astype(int)
    assert breast[centre[0], centre[1]]
    assert res.mask[60:62, 1:3].all() and res.mask.sum() == res.pasted.sum() + 4
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
