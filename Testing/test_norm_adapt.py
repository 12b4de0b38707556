"""Test-time BatchNorm adaptation (inference/norm_adapt.py) on a real Pro_UNeXt: the image statistics are
the BatchNorm inputs' own, weight 1 reproduces batch normalisation of the tiles, the stored statistics always
come back, only OOD-flagged images are adapted by default, and a LayerNorm model is left alone."""

from __future__ import annotations

import argparse
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.inference import InferenceOptions
from MLNNetLib.inference.norm_adapt import adapted, has_batchnorm, image_statistics
from MLNNetLib.inference.segment import PlannedImage
from MLNNetLib.model.domain_batchnorm import batchnorms

CPU = torch.device("cpu")


def _stored(model):
    return [(bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked)) for bn in batchnorms(model)]


def _same(a, b) -> bool:
    return all(torch.equal(m1, m2) and torch.equal(v1, v2) and n1 == n2 for (m1, v1, n1), (m2, v2, n2) in zip(a, b))


@pytest.fixture(scope="module")
def setup():
    from MLNNetLib.inference.planes import tissue_tiles
    from MLNNetLib.model import build_model
    from MLNNetLib.preprocess import prepare_image
    from MLNNetLib.synth import generate_case

    raw, _, _ = generate_case("ffdm", 90_011, shape=(640, 512))
    x, breast = prepare_image(raw)
    torch.manual_seed(0)
    model = build_model("pro_unext-tiny", num_domains=1).eval()
    tiles = tissue_tiles(x, breast, model.config.img_size, 16)
    ckpt = SimpleNamespace(model=model, header={"spacing_mm": [0.1, 0.1]}, stats=None, path="bn.safetensors")
    return ckpt, Image(raw, Geometry.identity((0.1, 0.1)), path="ffdm.nrrd"), tiles


def test_statistics_are_the_first_batchnorms_input_moments(setup):
    ckpt, _, tiles = setup
    model = ckpt.model
    seen = []
    first = batchnorms(model)[0]
    handle = first.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    x = torch.from_numpy(np.stack(tiles)[:, None].astype(np.float32))
    with torch.no_grad():
        model(x, torch.zeros(len(tiles), dtype=torch.long))
    handle.remove()
    before = _stored(model)
    stats = image_statistics(model, tiles, 0, CPU)
    f = seen[0].transpose(0, 1).reshape(seen[0].shape[1], -1).double()
    torch.testing.assert_close(stats[0][0].double(), f.mean(dim=1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(stats[0][1].double(), f.var(dim=1, unbiased=True), rtol=1e-3, atol=1e-5)
    assert _same(before, _stored(model))  # measuring changes nothing the model keeps
    assert not any(bn.training for bn in batchnorms(model))


def test_weight_one_normalises_the_tiles_with_their_own_statistics(setup):
    ckpt, _, tiles = setup
    model = ckpt.model
    x = torch.from_numpy(np.stack(tiles)[:, None].astype(np.float32))
    d = torch.zeros(len(tiles), dtype=torch.long)
    stats = image_statistics(model, tiles, 0, CPU)
    with torch.no_grad():
        stored_out = model(x, d)
        with adapted(model, stats, 1.0) as n:
            adapted_out = model(x, d)
        for bn in batchnorms(model):
            bn.train()
        saved = _stored(model)
        try:
            batch_out = model(x, d)  # plain batch normalisation (biased variance: close, not equal)
        finally:
            for bn, (m, v, t) in zip(batchnorms(model), saved):
                bn.running_mean.copy_(m), bn.running_var.copy_(v), bn.num_batches_tracked.fill_(t)
                bn.eval()
    assert n == len(batchnorms(model))
    torch.testing.assert_close(adapted_out, batch_out, rtol=1e-2, atol=2e-3)
    assert (stored_out - batch_out).abs().max() > 0.1  # random-init statistics are far from the tiles'


def test_a_mixed_weight_and_the_stored_statistics_come_back_even_after_an_error(setup):
    ckpt, _, tiles = setup
    model = ckpt.model
    before = _stored(model)
    stats = image_statistics(model, tiles, 0, CPU)
    with adapted(model, stats, 0.25):
        bn = batchnorms(model)[3]
        torch.testing.assert_close(bn.running_mean, 0.75 * before[3][0] + 0.25 * stats[3][0])
        torch.testing.assert_close(bn.running_var, 0.75 * before[3][1] + 0.25 * stats[3][1])
    assert _same(before, _stored(model))
    with pytest.raises(RuntimeError, match="boom"):
        with adapted(model, stats, 0.5):
            raise RuntimeError("boom")
    assert _same(before, _stored(model))


def test_only_images_flagged_out_of_distribution_are_adapted_by_default(setup):
    ckpt, image, _ = setup
    opts = InferenceOptions(batch_size=16)
    planned = PlannedImage(ckpt, image, opts, reuse=True)
    choice = planned.choose("polarity")
    before = _stored(ckpt.model)
    plain = planned.segment(replace(choice, ood=False))
    ood = planned.segment(replace(choice, ood=True))
    off = PlannedImage(ckpt, image, replace(opts, norm_adapt=0.0)).segment(replace(choice, ood=True))
    always = PlannedImage(ckpt, image, replace(opts, norm_adapt_scope="always")).segment(replace(choice, ood=False))
    assert (plain.norm_adapt, ood.norm_adapt, off.norm_adapt, always.norm_adapt) == (0.0, 0.25, 0.0, 0.25)
    np.testing.assert_array_equal(plain.probability, off.probability)
    np.testing.assert_array_equal(ood.probability, always.probability)
    assert np.abs(ood.probability - plain.probability).max() > 1e-3
    assert any("test-time BatchNorm adaptation" in d for d in ood.decisions)
    assert not any("test-time BatchNorm adaptation" in d for d in plain.decisions)
    assert ood.summary()["norm_adapt"] == 0.25
    again = planned.segment(replace(choice, ood=True))  # the image's statistics are measured once, reused
    np.testing.assert_array_equal(again.probability, ood.probability)
    assert _same(before, _stored(ckpt.model))


def test_a_layernorm_model_is_left_alone():
    from MLNNetLib.model import build_model

    model = build_model("tiny", num_domains=2)
    assert not has_batchnorm(model)
    assert image_statistics(model, [np.zeros((32, 32), np.float32)], 0, CPU) == []
    with adapted(model, [], 0.25) as n:
        assert n == 0


@pytest.mark.parametrize("kw, needle", [({"norm_adapt": 1.5}, "norm_adapt must be in [0, 1]"),
                                        ({"norm_adapt": -0.1}, "norm_adapt must be in [0, 1]"),
                                        ({"norm_adapt_scope": "sometimes"}, "norm_adapt_scope must be one of")])
def test_bad_adaptation_options_are_refused(kw, needle):
    with pytest.raises(InputError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        InferenceOptions(**kw)


def test_the_benchmark_keys_adapted_and_stored_statistics_rows_apart():
    from MLNNetLib.experiments.scoring import run_key
    from MLNNetLib.experiments.study import ABLATION_ROWS, NO_ADAPT_ROW, NO_TTA_ROW

    rows = {r.label: r for r in ABLATION_ROWS}
    default, stored, plain = rows["Pro_UNeXt + LCN (polarity)"], rows[NO_ADAPT_ROW], rows[NO_TTA_ROW]
    assert run_key(stored, 1, True) == "polarity"  # the scores measured before adaptation existed stay valid
    assert run_key(plain, 1, True) == "polarity|bn-adapt 0.25 ood"  # ... and those before test-time augmentation
    assert run_key(default, 1, True) == "polarity|bn-adapt 0.25 ood|tta 4"
    assert run_key(default, 1, False) == "polarity|tta 4"  # a LayerNorm model: adaptation changes nothing


def test_the_segment_command_passes_the_adaptation_options():
    from MLNNetLib.cli import segment_cmd

    parser = argparse.ArgumentParser()
    segment_cmd.add_arguments(parser)
    args = parser.parse_args(["--model", "m.safetensors", "--input", "x.nrrd", "--norm-adapt", "0", "--norm-adapt-scope", "always"])
    assert (args.norm_adapt, args.norm_adapt_scope) == (0.0, "always")
    assert parser.parse_args(["--model", "m", "--input", "x"]).norm_adapt == InferenceOptions().norm_adapt
