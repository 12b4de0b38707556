"""One intensity unit for every density feature, whichever path computes it (issue 12 item 8), and the seed's
blurriness feature, defined and measured on sharp and blurred objects (item 9)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from MLNNetLib.quantify import DENSITY_UNIT, density_image, measure_calcifications, quantify
from MLNNetLib.quantify.calcifications import edge_width_mm
from MLNNetLib.synth import generate_case

DENSITY_KEYS = ("density", "density_8", "density_32", "clu_Density_l", "clu_Density_m", "clu_Density_s",
                "density_l", "density_m", "density_s", "blurriness")


@pytest.fixture(scope="module")
def case():
    img, mask, info = generate_case("ffdm", 5, shape=(768, 640), spacing_mm=0.1)
    return img.astype(np.float32), mask > 0


def test_densities_are_in_one_unit_whatever_the_scanner_scale_and_the_path(case, tmp_path, capsys) -> None:
    from MLNNetLib.cli import main
    from MLNNetLib.experiments.malignancy import density_image as experiment_view
    from MLNNetLib.image import Geometry
    from MLNNetLib.io import write_image

    img, mask = case
    spacing = (0.1, 0.1)
    q12 = quantify(mask, img, spacing)  # 12-bit processed FFDM values
    q16 = quantify(mask, (img * 16.0 + 500.0).astype(np.float32), spacing)  # the same image on a 16-bit scale
    assert q12.density_unit == DENSITY_UNIT
    for key in DENSITY_KEYS:
        assert q16.features[key] == pytest.approx(q12.features[key], rel=1e-4, abs=1e-6), key
    assert 0.0 < q12.features["density"] <= 1.0 and q12.features["density"] > q12.features["density_32"]
    # MONOCHROME1 pixel data that arrive unconverted: the same densities when the interpretation is given
    inverted = quantify(mask, (4095.0 - img).astype(np.float32), spacing, photometric="MONOCHROME1")
    for key in ("density", "density_8", "density_32"):
        assert inverted.features[key] == pytest.approx(q12.features[key], abs=1e-5), key
    # the command line and the analysis experiment measure the same numbers
    p = str(write_image(img, Geometry.identity(spacing), tmp_path / "img.nrrd"))
    m = str(write_image(mask.astype(np.uint8), Geometry.identity(spacing), tmp_path / "mask.nrrd"))
    assert main(["quantify", "--image", p, "--mask", m]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["density_unit"] == DENSITY_UNIT
    for key in DENSITY_KEYS:
        assert printed[key] == pytest.approx(q12.features[key], rel=1e-6), key
    np.testing.assert_array_equal(experiment_view(img, "MONOCHROME2"), density_image(img))


def _disc_image(blur_px: float, contrast: float = 0.5, background: float = 0.2):
    yy, xx = np.mgrid[:64, :64]
    disc = (yy - 32) ** 2 + (xx - 32) ** 2 <= 6 ** 2
    img = background + contrast * disc.astype(float)
    if blur_px:
        img = ndimage.gaussian_filter(img, blur_px)
    return img.astype(np.float32), disc


def test_blurriness_is_the_edge_width_sharp_small_blurred_large_contrast_free() -> None:
    spacing = (0.07, 0.07)
    widths = {}
    for blur in (0.0, 1.0, 2.0):
        img, disc = _disc_image(blur)
        (row,) = measure_calcifications(disc, img, spacing)
        widths[blur] = row["blurriness_mm"]
    assert 2 * 0.07 <= widths[0.0] <= 3 * 0.07  # a step: two to three pixels (central differences, digital outline)
    assert widths[0.0] < widths[1.0] < widths[2.0]
    assert widths[2.0] > 1.4 * widths[0.0]  # measured 3.9 px vs 2.5 px
    img, disc = _disc_image(2.0, contrast=0.25, background=0.6)  # half the contrast, brighter tissue: same width
    (row,) = measure_calcifications(disc, img, spacing)
    assert row["blurriness_mm"] == pytest.approx(widths[2.0], rel=1e-4)
    flat = np.full((64, 64), 0.3, np.float32)
    assert np.isnan(edge_width_mm(disc, disc, flat, spacing, 0.0))  # no contrast: undefined
    q = quantify(disc, _disc_image(1.0)[0], spacing, density_units="as_given")
    assert q.features["blurriness"] == pytest.approx(widths[1.0])
