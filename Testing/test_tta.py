"""Test-time augmentation: the average over a tile's dihedral transforms, each mapped back (inference/predictor.py)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from MLNNetLib.errors import InputError
from MLNNetLib.inference.options import InferenceOptions
from MLNNetLib.inference.predictor import _TRANSFORMS, _forward, _inverse, dihedral_average, make_predictor


def _numpy_transforms(a: np.ndarray) -> list[np.ndarray]:
    """The eight dihedral transforms of the last two axes, written independently of the module's table."""
    t = np.swapaxes(a, -1, -2)
    return [a, a[..., ::-1], a[..., ::-1, :], a[..., ::-1, ::-1], t, t[..., ::-1], t[..., ::-1, :], t[..., ::-1, ::-1]]


def test_every_transform_is_undone_by_its_inverse():
    x = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(2, 1, 5, 5)
    images = set()
    for t in _TRANSFORMS:
        y = _forward(x, t)
        images.add(tuple(y.flatten().tolist()))
        assert torch.equal(_inverse(y, t), x)
    assert len(images) == 8  # eight distinct transforms: the whole dihedral group of the square


@pytest.mark.parametrize("tta", [1, 2, 4, 8])
def test_the_average_is_the_mean_of_the_mapped_back_predictions(tta):
    """An orientation-dependent 'network' (a cumulative sum along the columns) against a direct computation."""
    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 6, 6)).astype(np.float32)

    def run(t: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(t[:, 0], dim=-1)

    got = dihedral_average(run, torch.from_numpy(x), tta).numpy()
    per = []
    for i, xt in enumerate(_numpy_transforms(x[:, 0])[:tta]):
        y = np.cumsum(xt, axis=-1)
        # undo: mirrors first, then the transpose (the table's order is transpose, then mirrors)
        undo = [y, y[..., ::-1], y[..., ::-1, :], y[..., ::-1, ::-1]][i % 4]
        per.append(np.swapaxes(undo, -1, -2) if i >= 4 else undo)
    np.testing.assert_allclose(got, np.mean(per, axis=0), rtol=1e-6, atol=1e-6)
    if tta > 1:
        assert not np.allclose(got, np.cumsum(x[:, 0], axis=-1))  # it did average something


def test_a_pointwise_network_is_unchanged_by_the_average():
    x = torch.rand(2, 1, 8, 8)
    for tta in (2, 4, 8):
        torch.testing.assert_close(dihedral_average(torch.sigmoid, x, tta), torch.sigmoid(x))


def test_the_predictor_runs_every_transform_in_one_forward_pass():
    calls = []

    class Net(torch.nn.Module):
        def forward(self, x, d):
            calls.append(x.shape[0])
            return x[:, :1] * 0 + x.flip(-1)[:, :1]

    predict = make_predictor(Net(), 0, 1, torch.device("cpu"), tta=4)
    out = predict(np.random.default_rng(1).random((3, 1, 8, 8)).astype(np.float32))
    assert calls == [12] and out.shape == (3, 8, 8)


@pytest.mark.parametrize("bad", [0, 3, 16])
def test_a_bad_tta_count_is_refused(bad):
    with pytest.raises(InputError, match="tta must be one of"):
        InferenceOptions(tta=bad)


def test_the_segment_command_passes_tta():
    from MLNNetLib.cli import segment_cmd

    parser = argparse.ArgumentParser()
    segment_cmd.add_arguments(parser)
    assert parser.parse_args(["--model", "m", "--input", "x", "--tta", "1"]).tta == 1
    assert parser.parse_args(["--model", "m", "--input", "x"]).tta == InferenceOptions().tta
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "m", "--input", "x", "--tta", "3"])


def test_segmentation_reports_and_applies_the_averaging():
    """Whole-image inference: tta=4 changes the probability map of an untrained network, says so in the
    decisions and the summary; tta=1 is the single pass."""
    from types import SimpleNamespace

    from MLNNetLib.image import Geometry, Image
    from MLNNetLib.inference.segment import PlannedImage
    from MLNNetLib.model import build_model
    from MLNNetLib.synth import generate_case

    raw, _, _ = generate_case("ffdm", 90_012, shape=(320, 256))
    torch.manual_seed(0)
    model = build_model("pro_unext-tiny", num_domains=1).eval()
    ckpt = SimpleNamespace(model=model, header={"spacing_mm": [0.1, 0.1]}, stats=None, path="bn.safetensors")
    image = Image(raw, Geometry.identity((0.1, 0.1)), path="ffdm.nrrd")
    planned = PlannedImage(ckpt, image, InferenceOptions(norm_adapt=0.0, batch_size=8), reuse=True)
    choice = planned.choose("polarity")
    one, four = planned.segment(choice, tta=1), planned.segment(choice, tta=4)
    assert one.summary()["tta"] == 1 and four.summary()["tta"] == 4
    assert any("test-time augmentation" in d for d in four.decisions)
    assert not any("test-time augmentation" in d for d in one.decisions)
    assert not np.allclose(one.probability, four.probability)
    assert float(np.abs(one.probability - four.probability).max()) < 1.0
