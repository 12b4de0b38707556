"""One prepared image, many choices and predictions (``PlannedImage``): what the benchmark relies on to score
several selection rows of a model without preparing each image again must give exactly what separate
``segment_image`` calls give, compute the selection tiles' norm moments once, and never alter the kept plane.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from MLNNetLib.augment import invert
from MLNNetLib.image import Geometry, Image
from MLNNetLib.inference import InferenceOptions, segment_image
from MLNNetLib.inference.segment import PlannedImage
from MLNNetLib.preprocess import prepare_image

OPTS = InferenceOptions(batch_size=16)


@pytest.fixture(scope="module")
def setup():
    from MLNNetLib.inference.planes import tissue_tiles
    from MLNNetLib.model import build_model
    from MLNNetLib.selection import calibrate_ood, record_domain_statistics
    from MLNNetLib.synth import generate_case

    raw, _, _ = generate_case("ffdm", 90_011, shape=(640, 512))  # large enough for a decisive polarity
    x, breast = prepare_image(raw)
    geometry = Geometry.identity((0.1, 0.1))
    images = {"normal": Image(raw, geometry, path="normal.nrrd"),
              "inverted": Image(invert(x, breast), geometry, path="wrongtag.nrrd")}
    torch.manual_seed(0)
    model = build_model("tiny", num_domains=1).eval()
    tiles = torch.from_numpy(np.stack(tissue_tiles(x, breast, model.config.img_size, 16))[:, None])
    stats = record_domain_statistics(model, [(tiles, torch.zeros(len(tiles), dtype=torch.long))])
    calibrate_ood(model, stats, [tiles], "cosine")
    ckpt = SimpleNamespace(model=model, header={"spacing_mm": [0.1, 0.1]}, stats=stats, path="k1.safetensors")
    return ckpt, images


@pytest.mark.parametrize("name", ["normal", "inverted"])
def test_choices_and_predictions_from_one_plan_equal_separate_calls(setup, name):
    ckpt, images = setup
    planned = PlannedImage(ckpt, images[name], OPTS, reuse=True)
    for selection in ("polarity", "cosine", 0, "polarity"):  # the kept plane serves every prediction
        shared = planned.segment(planned.choose(selection))
        alone = segment_image(ckpt, images[name], selection=selection, options=OPTS)
        np.testing.assert_array_equal(shared.probability, alone.probability)
        assert (shared.branch, shared.inverted, shared.ood, shared.selection) == \
               (alone.branch, alone.inverted, alone.ood, alone.selection)
        assert shared.ood_score == alone.ood_score
    assert planned.choose("polarity").inverted == (name == "inverted")


def test_the_selection_forward_pass_is_made_once_per_input_sense(setup, monkeypatch):
    from MLNNetLib.selection import branch as branch_mod

    ckpt, images = setup
    calls = []
    real = branch_mod.branch_moments
    monkeypatch.setattr(branch_mod, "branch_moments", lambda *a, **k: calls.append(1) or real(*a, **k))
    planned = PlannedImage(ckpt, images["inverted"], OPTS)
    planned.choose("cosine"), planned.choose("euclidean"), planned.choose(0)
    assert len(calls) == 1  # cosine and euclidean share the as-stored tiles; a fixed branch makes no pass
    planned.choose("polarity")
    assert len(calls) == 2  # the inverted-back tiles are another input
