"""Metrics: equal to medpy on non-empty masks (2-D, 3-D, anisotropic), hand-computed values, empty policy, lesions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from medpy.metric import binary as mb
from scipy import ndimage

from MLNNetLib.errors import InputError
from MLNNetLib.metrics import (
    METRIC_KEYS, cluster_detection, dice, evaluate_masks, image_diagonal_mm, lesion_detection, precision,
    surface_distances, surface_points, tpr,
)


def _medpy(pred, ref, spacing):
    """Our keys -> medpy: the paper's ASD (eq. 24, both surfaces) is medpy's assd; the directed one its asd."""
    return {"hd": mb.hd(pred, ref, spacing), "hd95": mb.hd95(pred, ref, spacing),
            "asd": mb.assd(pred, ref, spacing), "asd_directed": mb.asd(pred, ref, spacing)}


def _assert_like_medpy(pred, ref, spacing):
    ours = evaluate_masks(pred, ref, spacing, clusters=False)
    for key, value in _medpy(pred, ref, spacing).items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key
    assert ours["dice"] == pytest.approx(mb.dc(pred, ref), abs=1e-12)
    assert ours["tpr"] == pytest.approx(mb.recall(pred, ref), abs=1e-12)
    assert ours["precision"] == pytest.approx(mb.precision(pred, ref), abs=1e-12)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.07, 0.1), (0.3, 0.05)])
def test_random_2d_masks_equal_medpy(rng, spacing):
    for density in (0.02, 0.3):
        pred = rng.random((37, 53)) < density
        ref = rng.random((37, 53)) < density
        _assert_like_medpy(pred, ref, spacing)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (1.0, 0.1, 0.13), (0.05, 0.4, 0.2)])
def test_random_3d_masks_equal_medpy(rng, spacing):
    pred = rng.random((9, 21, 17)) < 0.1
    ref = ndimage.binary_dilation(rng.random((9, 21, 17)) < 0.03)
    _assert_like_medpy(pred, ref, spacing)


def test_structured_masks_touching_the_border_equal_medpy():
    yy, xx = np.mgrid[:40, :60]
    ref = ((yy - 20) ** 2 / 81 + (xx - 30) ** 2 / 200 <= 1) | (xx < 3) | ((yy > 35) & (xx > 50))
    pred = np.roll(ref, (2, -3), axis=(0, 1)) & ~((yy - 20) ** 2 + (xx - 30) ** 2 < 9)  # shifted, with a hole
    pred[0, :] = True  # a line along the image edge
    _assert_like_medpy(pred, ref, (0.085, 0.07))
    zz = np.arange(6)[:, None, None]
    vol_ref = np.broadcast_to(ref, (6, 40, 60)) & (zz > 0) & (zz < 5)
    vol_pred = np.broadcast_to(pred, (6, 40, 60)) & (zz < 4)
    _assert_like_medpy(vol_pred, vol_ref, (1.0, 0.085, 0.07))


def test_hand_computed_values():
    ref = np.zeros((10, 10), bool)
    ref[2, 2] = True
    pred = np.zeros_like(ref)
    pred[2, 5] = True  # 3 columns away
    r = evaluate_masks(pred, ref, (0.5, 2.0), clusters=False)
    assert r["hd"] == pytest.approx(6.0) and r["asd"] == pytest.approx(6.0) and r["asd_directed"] == pytest.approx(6.0)
    assert r["dice"] == 0.0 and r["tpr"] == 0.0 and r["precision"] == 0.0 and r["empty"] is None
    # a 3x3 square: surface = its 8 outer pixels; pred = the square one row lower. Of pred's surface, the
    # bottom row is 1.5 mm (one row) from ref's, pred's top-centre (3,3) is 1 mm (one column) from ref's
    # (3,2)/(3,4) because ref's centre (3,3) is not surface; the other 4 lie on ref's surface.
    ref = np.zeros((8, 8), bool)
    ref[2:5, 2:5] = True
    pred = np.roll(ref, 1, axis=0)
    sd = surface_distances(pred, ref, (1.5, 1.0))
    assert sorted(sd.pred_to_ref.tolist()) == pytest.approx([0.0] * 4 + [1.0] + [1.5] * 3)
    assert sd.hd == pytest.approx(1.5) and sd.asd == pytest.approx(5.5 / 8)
    assert dice(pred, ref) == pytest.approx(2 * 6 / 18) and tpr(pred, ref) == pytest.approx(6 / 9)
    assert precision(pred, ref) == pytest.approx(6 / 9)
    assert len(surface_points(ref)) == 8 and surface_points(ref, 2.0)[0].tolist() == [4.0, 4.0]


def test_empty_mask_policy():
    z = np.zeros((30, 40), bool)
    one = z.copy()
    one[5:8, 5:8] = True
    both = evaluate_masks(z, z, (0.1, 0.2))
    assert both["empty"] == "both"
    assert (both["dice"], both["tpr"], both["precision"]) == (1.0, 1.0, 1.0)
    assert (both["hd"], both["hd95"], both["asd"], both["asd_directed"]) == (0.0, 0.0, 0.0, 0.0)
    for key in ("lesion_sensitivity", "lesion_precision", "cluster_sensitivity", "cluster_precision"):
        assert both[key] is None, key  # nothing to find, nothing predicted: undefined, not a perfect score
    diag = math.hypot(30 * 0.1, 40 * 0.2)
    assert image_diagonal_mm((30, 40), (0.1, 0.2)) == pytest.approx(diag)
    for pred, ref, flag in ((z, one, "pred"), (one, z, "ref")):
        r = evaluate_masks(pred, ref, (0.1, 0.2))
        assert r["empty"] == flag and r["dice"] == 0.0 and r["tpr"] == 0.0 and r["precision"] == 0.0
        assert r["hd"] == r["hd95"] == r["asd"] == r["asd_directed"] == pytest.approx(diag)
        if flag == "pred":  # calcifications missed; no prediction to be precise about
            assert r["lesion_sensitivity"] == 0.0 and r["lesion_precision"] is None
        else:  # nothing to find; every predicted object is a false positive
            assert r["lesion_sensitivity"] is None and r["lesion_precision"] == 0.0
    with pytest.raises(ValueError, match="non-empty"):
        surface_distances(z, one)


def test_all_keys_and_bad_input():
    a = np.zeros((12, 12), bool)
    a[3:5, 3:5] = True
    r = evaluate_masks(a, a, 0.07)
    assert set(METRIC_KEYS) <= set(r)
    assert r["dice"] == 1.0 and r["hd"] == 0.0 and r["lesion_sensitivity"] == 1.0 and r["empty"] is None
    with pytest.raises(InputError, match="shape"):
        evaluate_masks(a, a[:-1], 0.07)
    b = np.roll(a, 2, axis=1)
    flat, single = evaluate_masks(b, a, (0.1, 0.2)), evaluate_masks(b[None], a[None], (1.0, 0.1, 0.2))
    assert single["hd"] == flat["hd"] and single["asd"] == flat["asd"] and single["spacing"] == [0.1, 0.2]
    with pytest.raises(InputError, match="spacing"):
        evaluate_masks(a, a, (0.07, 0.07, 0.07))
    with pytest.raises(InputError, match="spacing"):
        evaluate_masks(a, a, (0.07, -1.0))


def test_lesion_detection_on_hand_built_masks():
    ref = np.zeros((20, 20), bool)
    ref[2:4, 2:4] = True      # found (overlapped by one pixel)
    ref[10, 10] = True
    ref[11, 11] = True        # diagonal neighbour: one 8-connected calcification, found
    ref[15:17, 2:4] = True    # missed
    pred = np.zeros_like(ref)
    pred[3, 3:6] = True       # overlaps the first
    pred[11, 11] = True       # overlaps the diagonal pair
    pred[18, 18] = True       # false positive
    det = lesion_detection(pred, ref, 0.1)  # 0.1 mm pixels: the 3-px blob lies within 0.5 mm of its calcification
    assert (det.n_ref, det.n_pred, det.found, det.matched) == (3, 3, 2, 2)
    r = evaluate_masks(pred, ref, 0.1, clusters=False)
    assert r["lesion_sensitivity"] == pytest.approx(2 / 3) and r["lesion_precision"] == pytest.approx(2 / 3)
    assert r["cluster_sensitivity"] is None
    # 3-D: a diagonal (26-connected) chain across slices is one calcification
    vol = np.zeros((3, 5, 5), bool)
    vol[0, 0, 0] = vol[1, 1, 1] = vol[2, 2, 2] = True
    assert lesion_detection(vol, vol).n_ref == 1


def _cluster_mask(shape, origins, n=6, step=4):
    """Clusters of ``n`` single-pixel calcifications ``step`` px apart in a row at each origin."""
    m = np.zeros(shape, bool)
    for r, c in origins:
        for k in range(n):
            m[r, c + k * step] = True
    return m


def test_cluster_detection_on_hand_built_masks():
    ref = _cluster_mask((120, 120), [(10, 10), (60, 10), (100, 70)])
    pred = _cluster_mask((120, 120), [(10, 10), (60, 70)])       # one hit, one false cluster
    pred |= _cluster_mask((120, 120), [(100, 70)], n=5)          # only 5 calcifications: not a cluster
    det = cluster_detection(pred, ref, (0.068, 0.068))
    assert (det.n_ref, det.n_pred, det.found, det.matched) == (3, 2, 1, 1)
    r = evaluate_masks(pred, ref, (0.068, 0.068))
    assert r["cluster_sensitivity"] == pytest.approx(1 / 3) and r["cluster_precision"] == pytest.approx(1 / 2)
    assert r["counts"]["clusters"]["found"] == 1
    # 3-D: slice by slice, pooled
    vol_det = cluster_detection(np.stack([pred, pred]), np.stack([ref, ref]), (1.0, 0.068, 0.068))
    assert (vol_det.n_ref, vol_det.n_pred, vol_det.found, vol_det.matched) == (6, 4, 2, 2)


def test_cluster_detection_crop_gives_the_uncropped_answer(rng):
    """The bounding-box crop is an optimisation only: counts equal find_clusters on the full image."""
    from MLNNetLib.metrics.lesions import match_labels
    from MLNNetLib.quantify.clusters import find_clusters

    for corner in ((1, 1), (150, 200), (290, 230)):
        pred = np.zeros((300, 240), bool)
        ref = np.zeros_like(pred)
        for _ in range(40):
            y = int(np.clip(corner[0] + rng.integers(-25, 25), 0, 299))
            x = int(np.clip(corner[1] + rng.integers(-25, 25), 0, 239))
            (pred if rng.random() < 0.5 else ref)[y, x] = True
            if rng.random() < 0.4:
                pred[y, x] = ref[y, x] = True
        pc, rc = find_clusters(pred, (0.07, 0.07)), find_clusters(ref, (0.07, 0.07))
        full = match_labels(pc.cluster_labels, pc.n_clusters, rc.cluster_labels, rc.n_clusters)
        assert full.n_ref + full.n_pred > 0
        assert cluster_detection(pred, ref, (0.07, 0.07)) == full


def test_surface_is_medpys_xor_erosion(rng):
    from MLNNetLib.metrics import surface_indices

    for shape in ((23, 31), (7, 11, 13)):
        mask = rng.random(shape) < 0.6
        mask[0] = True  # touches the image edge
        footprint = ndimage.generate_binary_structure(mask.ndim, 1)
        expected = np.argwhere(mask ^ ndimage.binary_erosion(mask, structure=footprint, iterations=1))
        np.testing.assert_array_equal(surface_indices(mask), expected)
        np.testing.assert_array_equal(surface_indices(np.asfortranarray(mask)), expected)
