"""Polarity selection on a single-branch model: the image is inverted back when it reads inverted.

A K = 1 network has no inverted branch; on a wrongly tagged image (air and breast inverted) it sees the
opposite of what it was trained on. The same polarity reading that picks MLN-net's branch decides whether
the breast is inverted before prediction. The test double is an identity network (its probability is its
input), so what the model saw is visible in the output; images are held-out synthetic source images.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from MLNNetLib.augment import invert
from MLNNetLib.image import Geometry, Image
from MLNNetLib.inference import InferenceOptions, segment_image
from MLNNetLib.preprocess import prepare_image

SHAPE = (640, 512)  # 64 x 51 mm at 0.1 mm: the polarity cue has a skin line and a centre


class Identity(torch.nn.Module):
    """K = 1, sigmoid(output) == input: the probability map is the image the model was given."""

    num_domains = 1
    config = SimpleNamespace(img_size=64)

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
        assert (torch.as_tensor(domain) == 0).all()
        p = x.clamp(1e-6, 1 - 1e-6).double()
        return self.conv(torch.log(p / (1 - p)).float())


@pytest.fixture(scope="module")
def images() -> dict[str, Image]:
    from MLNNetLib.synth import generate_case

    raw, _, _ = generate_case("ffdm", 90_011, shape=SHAPE)
    x, breast = prepare_image(raw)
    geometry = Geometry.identity((0.1, 0.1))
    return {"normal": Image(raw, geometry, path="normal.nrrd"),
            "inverted": Image(invert(x, breast), geometry, path="wrongtag.nrrd")}


def _ckpt(model: torch.nn.Module, stats=None) -> SimpleNamespace:
    return SimpleNamespace(model=model.eval(), header={"spacing_mm": [0.1, 0.1]}, stats=stats, path="k1.safetensors")


OPTS = InferenceOptions(batch_size=32, blend="cosine")


def test_an_inverted_image_is_inverted_back_and_a_normal_one_is_left_alone(images):
    ckpt = _ckpt(Identity())
    x, breast = prepare_image(images["inverted"].array)
    res = segment_image(ckpt, images["inverted"], selection="polarity", options=OPTS)
    assert res.inverted and res.selection == "polarity" and res.branch == 0 and res.polarity < 0
    np.testing.assert_allclose(res.probability[breast], np.clip(1 - x[breast], 1e-6, 1 - 1e-6), atol=2e-5)
    assert any("inverted back" in d for d in res.decisions) and res.summary()["inverted"] is True

    plain = segment_image(ckpt, images["inverted"], selection="cosine", options=OPTS)  # the paper's name: no polarity
    assert not plain.inverted and plain.selection == "single"
    np.testing.assert_allclose(plain.probability[breast], np.clip(x[breast], 1e-6, 1 - 1e-6), atol=2e-5)

    fixed = segment_image(ckpt, images["inverted"], selection=0, options=OPTS)  # a fixed branch: as stored
    assert not fixed.inverted and fixed.selection == "fixed"

    normal = segment_image(ckpt, images["normal"], selection="polarity", options=OPTS)
    assert not normal.inverted and normal.polarity > 0


def test_the_air_stays_as_stored_when_the_breast_is_inverted_back(images):
    x, breast = prepare_image(images["inverted"].array)
    res = segment_image(_ckpt(Identity()), images["inverted"], selection="polarity",
                        options=InferenceOptions(batch_size=32, blend="cosine"))
    assert float(x[~breast].max()) < 1e-3  # the preparation made the air dark...
    assert float(res.probability[~breast].max()) < 1e-3  # ...and it was not inverted to bright with the breast


def test_two_by_two_check_of_the_inversion_decision(images):
    """Brightness does not move the decision; polarity does (the check the study reports for K = 1 rows)."""
    from MLNNetLib.experiments.selection_check import CONDITIONS, check_selection

    (check,) = check_selection(_ckpt(Identity()), [images["normal"]], ["polarity"], OPTS)
    assert check.correct == {name: 1 for name, _ in CONDITIONS}, check.correct


def test_single_branch_models_get_an_ood_score_and_a_flag_once_calibrated(images):
    from MLNNetLib.model import build_model
    from MLNNetLib.selection import calibrate_ood, record_domain_statistics
    from MLNNetLib.inference.planes import tissue_tiles

    torch.manual_seed(0)
    model = build_model("tiny", num_domains=1).eval()
    x, breast = prepare_image(images["normal"].array)
    tiles = torch.from_numpy(np.stack(tissue_tiles(x, breast, model.config.img_size, 16))[:, None])
    stats = record_domain_statistics(model, [(tiles, torch.zeros(len(tiles), dtype=torch.long))])
    uncalibrated = segment_image(_ckpt(model, stats), images["normal"], selection="polarity", options=OPTS)
    assert uncalibrated.ood_score is not None and math.isfinite(uncalibrated.ood_score) and not uncalibrated.ood
    assert any("no calibrated threshold" in d for d in uncalibrated.decisions)

    calibrate_ood(model, stats, [tiles], "cosine", margin=1.0)
    seen = segment_image(_ckpt(model, stats), images["normal"], selection="polarity", options=OPTS)
    assert not seen.ood  # the very tiles the threshold came from
    noise = Image(np.random.default_rng(0).uniform(0, 4000, SHAPE).astype(np.float32), images["normal"].geometry,
                  path="noise.nrrd")
    far = segment_image(_ckpt(model, stats), noise, selection="cosine",
                        options=InferenceOptions(batch_size=32, require_breast=False))
    assert far.ood_score > seen.ood_score
