"""Normalisation that clips, markers and macrocalcifications cannot set (issue 12 item 6): the same function for
training and inference, unchanged on images without such objects."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from MLNNetLib.augment.tissue_range import non_tissue_objects
from MLNNetLib.preprocess import prepare_image
from MLNNetLib.synth import generate_case

SPACING = (0.1, 0.1)


@pytest.fixture(scope="module")
def mammogram():
    img, mask, _ = generate_case("ffdm", 3, shape=(768, 640), spacing_mm=SPACING[0])
    return img.astype(np.float32), mask > 0


def _clip_mask(shape, breast, calc) -> np.ndarray:
    """A surgical clip: two 0.8 mm wide, 5 mm long metal limbs (an L) in the breast, away from calcifications."""
    far = ndimage.distance_transform_edt(~calc) > 80
    inner = ndimage.binary_erosion(breast, iterations=60) & far
    r, c = np.argwhere(inner)[len(np.argwhere(inner)) // 2]
    clip = np.zeros(shape, dtype=bool)
    clip[r:r + 50, c:c + 8] = True
    clip[r + 42:r + 50, c:c + 50] = True
    return clip


def test_a_metal_clip_does_not_set_the_scale(mammogram) -> None:
    img, calc = mammogram
    clean01, breast = prepare_image(img, SPACING)
    clip = _clip_mask(img.shape, breast, calc)
    with_clip = img.copy()
    with_clip[clip] = 4095.0  # saturated 12-bit detector value: metal
    clipped01, breast2 = prepare_image(with_clip, SPACING)
    assert np.array_equal(breast, breast2)
    away = breast & ~ndimage.binary_dilation(clip, iterations=6)
    # tissue and calcifications look exactly as without the clip (before: the clip was the 99.99th percentile)
    assert np.abs(clipped01[away] - clean01[away]).max() < 2e-3
    assert np.abs(clipped01[calc] - clean01[calc]).max() < 2e-3
    assert clipped01[clip].min() == 1.0  # the clip itself saturates
    assert non_tissue_objects(with_clip, breast, SPACING)[clip].all()


def test_a_dark_clip_in_an_inverted_image_and_a_macrocalcification(mammogram) -> None:
    img, calc = mammogram
    _, breast = prepare_image(img, SPACING)
    clip = _clip_mask(img.shape, breast, calc)
    inverted = (4095.0 - img).astype(np.float32)  # MONOCHROME1-style: calcifications and metal are dark
    clean01, _ = prepare_image(inverted, SPACING)
    dark = inverted.copy()
    dark[clip] = 0.0
    dark01, _ = prepare_image(dark, SPACING)
    away = breast & ~ndimage.binary_dilation(clip, iterations=6)
    assert np.abs(dark01[away] - clean01[away]).max() < 2e-3
    # a 3 mm coarse calcification as bright as the brightest microcalcification: out of the pool as well
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    r, c = np.argwhere(clip)[0]
    macro = (yy - r - 20) ** 2 + (xx - c - 30) ** 2 <= 15 ** 2
    bright = img.copy()
    bright[macro] = img[calc].max() * 1.3
    base01, _ = prepare_image(img, SPACING)
    macro01, _ = prepare_image(bright, SPACING)
    away = breast & ~ndimage.binary_dilation(macro, iterations=6)
    assert np.abs(macro01[away] - base01[away]).max() < 2e-3


def test_microcalcifications_stay_in_the_pool_and_clean_images_keep_their_scale(mammogram) -> None:
    """The objects left out are larger than 1 mm: no calcification of the synthetic cases is one of them."""
    from MLNNetLib.augment import normalize

    img, calc = mammogram
    out01, breast = prepare_image(img, SPACING)
    assert not non_tissue_objects(img, breast, SPACING).any()
    expected = normalize(img, breast, low=0.01, high=99.99)  # as before on this image
    np.testing.assert_array_equal(out01[breast], expected[breast])
    assert not out01[~breast].any()  # the air is 0 (preprocess.prepare_image)
    assert np.median(out01[calc]) < 1.0  # calcifications keep their contrast, not clipped
