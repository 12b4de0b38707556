"""Whole-image inference: tiling coverage, blending, skipping, ROI, DBT, selection, spacing, cancel, paper mode.

The test double is a real torch module with the model's call signature whose output is known in advance:
``logit(x)`` passed through a 1x1 convolution (weight 1, bias 0) is the identity on probabilities, a fixed
logit gives a constant, and a per-branch sign flip makes branch 1 return ``1 - x``.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from MLNNetLib.errors import Cancelled, InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.inference import (
    InferenceOptions, blend_window, plan_tiles, quarter_boxes, segment_image, sliding_window, tile_starts,
)
from MLNNetLib.preprocess import prepare_image
from MLNNetLib.progress import Progress


class ToyModel(torch.nn.Module):
    """forward(x, domain) -> logits; "identity": sigmoid(out) == x; "constant": sigmoid(out) == value.

    Branch 1 of an identity model returns 1 - x, so the branch that ran is visible in the output.
    Every domain index it is called with is recorded.
    """

    def __init__(self, kind: str = "identity", img_size: int = 32, num_domains: int = 1, value: float = 0.3):
        super().__init__()
        self.kind, self.value = kind, value
        self.config = SimpleNamespace(img_size=img_size)
        self.num_domains = num_domains
        self.conv = torch.nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.conv.bias.zero_()
        self.seen: list[int] = []
        self.calls = 0

    def forward(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == 1 and domain.shape == (x.shape[0],)
        self.seen.extend(domain.tolist())
        self.calls += 1
        if self.kind == "constant":
            return torch.full_like(x, math.log(self.value / (1 - self.value)))
        p = x.clamp(1e-6, 1 - 1e-6).double()
        flip = (domain == 1).view(-1, 1, 1, 1)
        p = torch.where(flip, 1 - p, p)
        return self.conv(torch.log(p / (1 - p)).float())


def ckpt_of(model: torch.nn.Module, spacing=(0.1, 0.1), stats=None) -> SimpleNamespace:
    return SimpleNamespace(model=model, header={"spacing_mm": list(spacing)}, stats=stats, path="toy.safetensors")


def phantom(rows: int = 96, cols: int = 120, seed: int = 0) -> np.ndarray:
    """A breast-like half ellipse on the left over dark air, smooth texture, a few bright specks."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:rows, 0:cols]
    inside = ((r - rows / 2) / (rows * 0.45)) ** 2 + (c / (cols * 0.55)) ** 2 < 1
    texture = 0.5 + 0.15 * np.sin(r / 7.0) * np.cos(c / 9.0)
    img = np.where(inside, 800 + 600 * texture, 60.0) + rng.normal(0, 2, (rows, cols))
    for _ in range(6):
        y, x = rng.integers(rows // 4, 3 * rows // 4), rng.integers(2, cols // 3)
        img[y : y + 2, x : x + 2] += 500
    return img.astype(np.float32)


def image_of(array: np.ndarray, spacing=(0.1, 0.1)) -> Image:
    return Image(array.astype(np.float32), Geometry.identity(tuple(spacing)), path="phantom.nrrd", meta={"spacing_source": "header"})


# --- tiling and blending ---------------------------------------------------------------------------------

@pytest.mark.parametrize("length,tile,overlap", [(100, 32, 0.25), (32, 32, 0.5), (33, 32, 0.0), (257, 64, 0.75), (40, 8, 0.0)])
def test_tile_starts_cover_every_pixel_and_end_on_the_border(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    cover = np.zeros(length, dtype=int)
    for s in starts:
        cover[s : s + tile] += 1
    assert cover.min() >= 1
    assert starts[0] == 0 and starts[-1] == length - tile
    assert all(b > a for a, b in zip(starts, starts[1:]))
    assert max(np.diff(starts), default=0) <= max(1, round(tile * (1 - overlap)))


def test_tile_starts_refuses_an_axis_smaller_than_the_tile():
    with pytest.raises(ValueError, match="smaller than the tile"):
        tile_starts(20, 32, 0.25)


@pytest.mark.parametrize("kind", ["gaussian", "cosine", "constant"])
def test_blend_window_is_positive_symmetric_and_peaks_at_one(kind):
    w = blend_window(17, kind)
    assert w.dtype == np.float32 and w.shape == (17, 17)
    assert w.min() > 0 and w.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(w, w.T)
    np.testing.assert_array_equal(w, w[::-1, ::-1])
    if kind != "constant":
        assert w[8, 8] == w.max() and w[0, 0] < 0.05


@pytest.mark.parametrize("kind", ["gaussian", "cosine"])
def test_constant_prediction_blends_to_the_same_constant_everywhere(kind):
    stack = np.random.default_rng(1).random((2, 70, 90), dtype=np.float32)
    res = sliding_window(lambda b: np.full((len(b), 32, 32), 0.37, np.float32), stack, 32, 0.25, blend=kind, batch_size=3)
    np.testing.assert_allclose(res.probability, 0.37, rtol=1e-5)
    per_plane = len(tile_starts(70, 32, 0.25)) * len(tile_starts(90, 32, 0.25))
    assert res.tiles == 2 * per_plane and res.skipped == 0


def test_identity_prediction_reproduces_the_input_exactly():
    stack = np.random.default_rng(2).random((1, 50, 77), dtype=np.float32)
    res = sliding_window(lambda b: b[:, 0], stack, 16, 0.5, batch_size=5)
    np.testing.assert_allclose(res.probability, stack, rtol=1e-5, atol=1e-6)


def test_tiles_without_mask_pixels_are_skipped():
    mask = np.zeros((64, 96), bool)
    mask[5:20, 5:20] = True
    plan = plan_tiles((64, 96), 32, 0.0, mask)
    assert plan.tiles == [(0, 0)] and len(plan.skipped) == 5
    for r, c in plan.skipped:
        assert not mask[r : r + 32, c : c + 32].any()


# --- segment_image ---------------------------------------------------------------------------------------

def test_constant_model_gives_the_constant_on_every_covered_pixel_and_zero_elsewhere():
    arr = phantom()
    res = segment_image(ckpt_of(ToyModel("constant", value=0.7)), image_of(arr))
    assert res.probability.shape == arr.shape and res.probability.dtype == np.float32
    assert res.mask.dtype == np.uint8 and set(np.unique(res.mask)) <= {0, 1}
    _, breast = prepare_image(arr)
    covered = res.probability > 0
    assert covered[breast].all()  # every breast pixel was predicted
    np.testing.assert_allclose(res.probability[covered], 0.7, rtol=1e-5)
    assert res.skipped_tiles > 0 and not covered.all()  # tiles in the air were skipped
    np.testing.assert_array_equal(res.mask, covered.astype(np.uint8))
    plan = plan_tiles(arr.shape, 32, 0.25, breast)
    assert (res.tiles, res.skipped_tiles) == (len(plan.tiles), len(plan.skipped))
    for r, c in plan.skipped:
        assert not breast[r : r + 32, c : c + 32].any()


def test_identity_model_reproduces_the_normalised_image_inside_the_breast():
    arr = phantom()
    res = segment_image(ckpt_of(ToyModel("identity")), image_of(arr), options=InferenceOptions(blend="cosine"))
    img01, breast = prepare_image(arr)
    np.testing.assert_allclose(res.probability[breast], np.clip(img01[breast], 1e-6, 1 - 1e-6), atol=2e-5)
    np.testing.assert_array_equal(res.mask[breast], (res.probability[breast] > 0.5).astype(np.uint8))
    # the default selection is polarity; a single-branch model gets no branch choice, only the inversion check
    assert res.branch == 0 and res.selection == "polarity" and not res.inverted and res.scores == []


def test_roi_restricts_the_work_and_the_output():
    arr = phantom()
    model = ToyModel("identity")
    full = segment_image(ckpt_of(model), image_of(arr))
    calls_full = model.calls
    model.calls = 0
    roi = (20, 10, 60, 50)
    part = segment_image(ckpt_of(model), image_of(arr), roi=roi)
    assert part.probability.shape == arr.shape
    outside = np.ones(arr.shape, bool)
    outside[20:60, 10:50] = False
    assert not part.probability[outside].any() and not part.mask[outside].any()
    inside = (slice(20, 60), slice(10, 50))
    np.testing.assert_allclose(part.probability[inside], full.probability[inside], atol=2e-5)  # identity: tiling-independent
    assert model.calls < calls_full and part.tiles < full.tiles
    assert any("ROI" in d for d in part.decisions)
    with pytest.raises(InputError, match="outside the image"):
        segment_image(ckpt_of(model), image_of(arr), roi=(0, 0, 200, 10))


def test_dbt_stack_equals_slice_by_slice_2d_and_selects_once(monkeypatch):
    from MLNNetLib import selection as selection_pkg

    planes = [phantom(seed=s) for s in range(3)]
    calls = []

    def select_branch(model, tiles, stats, method="cosine", input_mean=None, **kwargs):  # records how often it is asked
        calls.append((tuple(tiles.shape), method, input_mean))
        return SimpleNamespace(branch=1, scores=[0.2, 0.9], ood=False, method=method)

    monkeypatch.setattr(selection_pkg, "select_branch", select_branch, raising=False)
    model = ToyModel("identity", num_domains=2)
    vol = Image(np.stack(planes), Geometry.identity((1.0, 0.1, 0.1)), path="dbt.nrrd")
    res3 = segment_image(ckpt_of(model, stats=object()), vol, selection="cosine", options=InferenceOptions(batch_size=3))
    assert len(calls) == 1  # one selection for the whole series
    assert calls[0][0][0] <= InferenceOptions().selection_tiles and calls[0][0][1:] == (1, 32, 32) and 0 < calls[0][2] < 1
    assert set(model.seen) == {1}  # only the chosen branch ran over the tiles
    assert res3.branch == 1 and res3.scores == [0.2, 0.9] and res3.mask.shape == (3, 96, 120)
    for z, plane in enumerate(planes):
        res2 = segment_image(ckpt_of(model), image_of(plane), selection=1)
        np.testing.assert_array_equal(res3.probability[z], res2.probability)
        np.testing.assert_array_equal(res3.mask[z], res2.mask)
    assert res3.tiles == sum(segment_image(ckpt_of(model), image_of(p), selection=1).tiles for p in planes)


def test_selection_without_statistics_is_refused_but_union_and_fixed_branches_work():
    arr = phantom()
    model = ToyModel("identity", num_domains=2)
    with pytest.raises(InputError, match="no domain statistics"):
        segment_image(ckpt_of(model), image_of(arr), selection="cosine")
    union = segment_image(ckpt_of(model), image_of(arr), selection="union")
    one = segment_image(ckpt_of(model), image_of(arr), selection=1)
    zero = segment_image(ckpt_of(model), image_of(arr), selection=0)
    _, breast = prepare_image(arr)
    np.testing.assert_allclose(one.probability[breast], 1 - zero.probability[breast], atol=2e-5)
    np.testing.assert_allclose(union.probability, np.maximum(zero.probability, one.probability), atol=2e-5)
    assert union.branch is None and union.selection == "union"
    with pytest.raises(InputError, match="does not exist"):
        segment_image(ckpt_of(model), image_of(arr), selection=2)
    with pytest.raises(InputError, match="unknown selection"):
        segment_image(ckpt_of(model), image_of(arr), selection="argmin")


def test_spacing_far_from_training_is_resampled_back_to_the_input_shape():
    arr = phantom(80, 100)
    res = segment_image(ckpt_of(ToyModel("identity"), spacing=(0.05, 0.05)), image_of(arr, (0.1, 0.1)))
    assert res.probability.shape == arr.shape and res.mask.shape == arr.shape
    assert any("resampling by 2.000 x 2.000" in d for d in res.decisions)
    img01, breast = prepare_image(arr)
    interior = breast & np.roll(breast, 3, 0) & np.roll(breast, -3, 0) & np.roll(breast, 3, 1) & np.roll(breast, -3, 1)
    err = np.abs(res.probability - img01)[interior]
    assert np.median(err) < 0.01 and err.max() < 0.25  # linear up and down: smooth texture kept, specks blurred
    same = segment_image(ckpt_of(ToyModel("identity"), spacing=(0.105, 0.095)), image_of(arr, (0.1, 0.1)))
    assert any("no resampling" in d for d in same.decisions)


def test_spacing_far_from_training_is_refused_under_the_refuse_policy():
    opts = InferenceOptions(spacing_policy="refuse")
    with pytest.raises(InputError, match=r"phantom.nrrd: pixel spacing .* differs by 100%"):
        segment_image(ckpt_of(ToyModel(), spacing=(0.05, 0.05)), image_of(phantom(), (0.1, 0.1)), options=opts)


def test_image_smaller_than_a_tile_is_padded_and_cropped_back():
    arr = phantom(20, 27)
    res = segment_image(ckpt_of(ToyModel("identity")), image_of(arr))
    assert res.probability.shape == (20, 27) and res.tiles == 1
    assert any("padded" in d for d in res.decisions)
    img01, breast = prepare_image(arr)
    np.testing.assert_allclose(res.probability[breast], np.clip(img01[breast], 1e-6, 1 - 1e-6), atol=2e-5)


def test_cancel_raises_cancelled_before_and_during_the_work():
    arr = phantom()
    model = ToyModel("identity")
    pre = Progress()
    pre.cancel()
    with pytest.raises(Cancelled):
        segment_image(ckpt_of(model), image_of(arr), progress=pre)
    assert model.calls == 0
    steps = []
    mid = Progress(lambda done, total, msg: (steps.append(done), done >= 1 and mid.cancel()))
    with pytest.raises(Cancelled):
        segment_image(ckpt_of(model), image_of(arr), options=InferenceOptions(batch_size=1), progress=mid)
    assert model.calls == 1 and steps == [0, 1]


def test_progress_reports_every_batch():
    seen = []
    res = segment_image(ckpt_of(ToyModel()), image_of(phantom()), options=InferenceOptions(batch_size=2),
                        progress=Progress(lambda d, t, m: seen.append((d, t))))
    batches = -(-res.tiles // 2)
    assert seen == [(i, batches) for i in range(batches + 1)]


def test_paper_mode_predicts_four_quarters_resized_to_the_model_size():
    arr = phantom(90, 110)
    model = ToyModel("constant", img_size=32, value=0.8)
    res = segment_image(ckpt_of(model, spacing=(0.5, 0.5)), image_of(arr), options=InferenceOptions(mode="paper"))
    assert (res.tiles, res.skipped_tiles) == (4, 0) and model.calls == 1  # one batch of four quarters
    np.testing.assert_allclose(res.probability, 0.8, rtol=1e-5)
    assert any("paper mode" in d for d in res.decisions) and not any("resampling" in d for d in res.decisions)
    assert quarter_boxes(90, 110) == [(0, 45, 0, 55), (0, 45, 55, 110), (45, 90, 0, 55), (45, 90, 55, 110)]
    ident = segment_image(ckpt_of(ToyModel("identity")), image_of(arr), options=InferenceOptions(mode="paper"))
    img01, breast = prepare_image(arr)
    assert np.median(np.abs(ident.probability - img01)[breast]) < 0.02


def test_summary_is_json_and_options_are_validated():
    res = segment_image(ckpt_of(ToyModel("constant", value=0.9)), image_of(phantom()))
    s = json.loads(json.dumps(res.summary()))
    assert s["branch"] == 0 and s["tiles"] == res.tiles and s["foreground_pixels"] == int(res.mask.sum())
    assert s["options"]["overlap"] == 0.25 and s["decisions"] == res.decisions
    with pytest.raises(InputError, match="overlap"):
        InferenceOptions(overlap=1.0)
    with pytest.raises(InputError, match="mode"):
        InferenceOptions(mode="fast")
    with pytest.raises(InputError, match="non-numeric, NaN"):
        bad = phantom()
        bad[3, 3] = np.nan
        segment_image(ckpt_of(ToyModel()), image_of(bad))


def test_real_tiny_swin_unet_runs_one_branch_and_the_union():
    from MLNNetLib.model import build_model

    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    arr = phantom(100, 130)
    ck = ckpt_of(model)
    b1 = segment_image(ck, image_of(arr), selection=1)
    un = segment_image(ck, image_of(arr), selection="union")
    b0 = segment_image(ck, image_of(arr), selection=0)
    assert b1.probability.shape == arr.shape and np.isfinite(b1.probability).all()
    np.testing.assert_allclose(un.probability, np.maximum(b0.probability, b1.probability), atol=1e-5)


def test_saved_tiny_checkpoint_selects_once_with_recorded_statistics(tmp_path, monkeypatch):
    from MLNNetLib import selection as selection_pkg
    from MLNNetLib.augment import expand_domains
    from MLNNetLib.checkpoint import load_checkpoint, save_checkpoint
    from MLNNetLib.model import build_model
    from MLNNetLib.selection import record_domain_statistics

    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    img01, breast = prepare_image(phantom(64, 64))
    batches = [(torch.from_numpy(im)[None, None], torch.tensor([d])) for im, d in expand_domains(img01, breast, 2)]
    stats = record_domain_statistics(model, batches)
    path = save_checkpoint(tmp_path / "tiny.safetensors", model, {"spacing_mm": [0.1, 0.1]}, stats)
    ck = load_checkpoint(path)
    real = selection_pkg.select_branch
    calls = []
    monkeypatch.setattr(selection_pkg, "select_branch", lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    vol = Image(np.stack([phantom(100, 130, s) for s in range(2)]), Geometry.identity((1.0, 0.1, 0.1)), path="dbt.nrrd")
    res = segment_image(ck, vol, selection="cosine")
    assert len(calls) == 1 and calls[0][1:] == (1, 64, 64)
    assert res.branch in (0, 1) and len(res.scores) == 2 and all(isinstance(s, float) for s in res.scores)
    assert res.scores[res.branch] == max(res.scores)  # cosine: the most similar branch wins
    assert res.mask.shape == (2, 100, 130)
    union = segment_image(ck, image_of(phantom(100, 130)), selection="union")
    assert union.branch is None and len(union.scores) == 2  # union still reports cosine scores / OOD
    json.dumps(union.summary())


def test_a_tile_size_the_network_cannot_take_is_refused_before_any_work():
    from MLNNetLib.model import build_model

    ck = ckpt_of(build_model("tiny", num_domains=1))
    with pytest.raises(InputError, match="cannot take 48x48 tiles"):
        segment_image(ck, image_of(phantom()), options=InferenceOptions(tile=48))
    toy = ToyModel("constant", value=0.6)  # a fully convolutional model takes any tile size
    res = segment_image(ckpt_of(toy), image_of(phantom()), options=InferenceOptions(tile=40))
    assert any("differs from the model's training size" in d for d in res.decisions)
    np.testing.assert_allclose(res.probability[res.probability > 0], 0.6, rtol=1e-5)


def test_series_progress_counts_batches_over_all_slices_in_order():
    seen = []
    vol = Image(np.stack([phantom(seed=s) for s in range(3)]), Geometry.identity((1.0, 0.1, 0.1)), path="dbt.nrrd")
    res = segment_image(ckpt_of(ToyModel()), vol, options=InferenceOptions(batch_size=3),
                        progress=Progress(lambda d, t, m: seen.append((d, t))))
    per_plane = [-(-segment_image(ckpt_of(ToyModel()), image_of(phantom(seed=s))).tiles // 3) for s in range(3)]
    total = sum(per_plane)
    assert seen == [(i, total) for i in range(total + 1)] and res.tiles > 0
    quarters = []
    segment_image(ckpt_of(ToyModel()), vol, options=InferenceOptions(mode="paper", batch_size=3),
                  progress=Progress(lambda d, t, m: quarters.append((d, t))))
    assert quarters == [(i, 6) for i in range(7)]  # 4 quarters per slice in batches of 3 -> 2 batches x 3 slices
