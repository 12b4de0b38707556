"""Known-answer tests of calcification measurements, clusters, image features and the quantify command."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from MLNNetLib.cli import main
from MLNNetLib.errors import InputError
from MLNNetLib.quantify import (
    COLUMNS, DENSITY_UNIT, FEATURE_NAMES, crofton_perimeter, find_clusters, kernel_shape_for, measure_calcifications,
    min_area_rectangle, quantify,
)


def disc(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def dots(shape, positions, size=2):
    m = np.zeros(shape, np.uint8)
    for r, c in positions:
        m[r : r + size, c : c + size] = 1
    return m


# ---------------------------------------------------------------- per calcification

def test_area_and_sides_in_mm_with_anisotropic_spacing():
    m = np.zeros((10, 12), np.uint8)
    m[2:5, 3:7] = 1  # 3 rows x 4 cols
    (row,) = measure_calcifications(m, None, (0.05, 0.1))
    assert row["area_px"] == 12
    assert row["area_mm2"] == pytest.approx(12 * 0.05 * 0.1)
    assert row["long_side_mm"] == pytest.approx(0.4) and row["short_side_mm"] == pytest.approx(0.15)
    assert row["long_side_px"] == pytest.approx(4) and row["short_side_px"] == pytest.approx(3)
    assert row["rectangularity"] == pytest.approx(1.0)


def test_disc_roundness_is_about_one():
    rng = np.random.default_rng(0)
    values = []
    for radius in (6.3, 12.0, 20.5):
        for _ in range(4):
            m = disc((64, 64), 32 + rng.random(2), radius)
            per = crofton_perimeter(m)
            assert per == pytest.approx(2 * math.pi * radius, rel=0.06)
            (row,) = measure_calcifications(m, None, (0.07, 0.07))
            values.append(row["roundness"])
    assert np.mean(values) == pytest.approx(1.0, abs=0.03)
    assert min(values) > 0.93


def test_square_rectangularity_is_one_and_roundness_below_disc():
    m = np.zeros((30, 30), np.uint8)
    m[5:25, 5:25] = 1
    (row,) = measure_calcifications(m, None, (0.1, 0.1))
    assert row["rectangularity"] == pytest.approx(1.0, abs=1e-9)
    assert row["aspect_ratio"] == pytest.approx(1.0, abs=1e-9)
    assert row["long_side_mm"] == pytest.approx(2.0)
    assert 0.85 < row["roundness"] < 0.95  # pi/4 for a true square, plus the 4-direction Crofton error


def test_bar_aspect_ratio_and_rotated_rectangle():
    m = np.zeros((7, 7), np.uint8)
    m[3, 2:5] = 1  # 1 x 3 bar
    (row,) = measure_calcifications(m, None, (0.05, 0.05))
    assert row["aspect_ratio"] == pytest.approx(3.0)
    assert row["long_side_px"] == pytest.approx(3.0) and row["short_side_px"] == pytest.approx(1.0)
    # a diagonal line of 10 pixels: the minimum rectangle is the tilted one, sqrt(2) wide
    rr = cc = np.arange(10)
    long_side, short_side = min_area_rectangle(rr, cc)
    assert long_side == pytest.approx(10 * math.sqrt(2)) and short_side == pytest.approx(math.sqrt(2))


def test_densities_and_surrounding_rings_use_physical_radii():
    spacing = (0.068, 0.068)
    img = np.full((120, 120), 0.2, np.float32)
    m = np.zeros((120, 120), np.uint8)
    m[58:62, 58:62] = 1
    img[m > 0] = 0.9
    # a bright band ~1 mm from the calcification: inside the 32-px (2.18 mm) field, outside the 8-px (0.54 mm) one
    img[:, 75:78] = 0.8
    (row,) = measure_calcifications(m, img, spacing)
    assert row["density"] == pytest.approx(0.9)
    assert row["density_8"] == pytest.approx(0.2)
    assert row["density_32"] > 0.2 + 0.01
    assert set(row) == set(COLUMNS)


# ---------------------------------------------------------------- clusters

def test_six_calcifications_form_a_cluster_five_do_not():
    spacing = (0.068, 0.068)
    six = dots((60, 120), [(20, 10 + 12 * i) for i in range(6)])  # gaps of 10 px < 16 px kernel
    c6 = find_clusters(six, spacing)
    assert c6.n_components == 6 and c6.n_clusters == 1
    assert c6.cluster_of_component.tolist() == [1] * 6
    assert int((c6.cluster_labels > 0).sum()) == int(six.sum())
    five = dots((60, 120), [(20, 10 + 12 * i) for i in range(5)])
    c5 = find_clusters(five, spacing)
    assert c5.n_components == 5 and c5.n_clusters == 0
    assert c5.cluster_of_component.tolist() == [-1] * 5 and not c5.cluster_labels.any()


def test_cluster_distance_scales_with_spacing():
    assert kernel_shape_for((0.068, 0.068)) == (16, 16)
    assert kernel_shape_for((0.136, 0.034)) == (8, 32)
    # the same six dots 10 px apart are 1.36 mm apart at 0.136 mm: farther than the 1.09 mm kernel
    six = dots((60, 120), [(20, 10 + 12 * i) for i in range(6)])
    assert find_clusters(six, (0.136, 0.136)).n_clusters == 0
    # ... and one cluster of eight at a finer spacing, plus a far-away lone dot outside it
    eight = dots((200, 200), [(20, 10 + 12 * i) for i in range(8)] + [(150, 150)])
    c = find_clusters(eight, (0.068, 0.068))
    assert c.n_clusters == 1 and c.counts().tolist() == [8] and c.cluster_of_component[-1] == -1


# ---------------------------------------------------------------- image features

def _raster(spacing: float, extent_mm: float = 12.0):
    """One physical layout: a cluster of 7 discs (r 0.18 mm, 0.7 mm apart) and 2 lone bigger discs.

    Radii keep every measurement away from the bin cuts, so both rasterisations must bin alike.
    """
    n = int(round(extent_mm / spacing))
    yy, xx = (np.mgrid[:n, :n] + 0.5) * spacing
    m = np.zeros((n, n), bool)
    centres = [(3.0, 2.0 + 0.7 * i, 0.18) for i in range(7)] + [(8.0, 3.0, 0.45), (9.0, 9.0, 0.6)]
    for cy, cx, r in centres:
        m |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    img = np.where(m, 0.9, 0.2).astype(np.float32)
    return m.astype(np.uint8), img


def test_same_physical_layout_gives_same_mm_features_at_two_spacings():
    q1 = quantify(*_raster(0.05), (0.05, 0.05), density_units="as_given")  # known-answer intensities 0.9 / 0.2
    q2 = quantify(*_raster(0.1), (0.1, 0.1), density_units="as_given")
    f1, f2 = q1.features, q2.features
    for key in ("calc_num", "clu_num", "clu_max_num", "clu_Density_l", "size_10", "size_10_30", "size_30",
                "long_l", "long_m", "long_s", "perimeter_l", "perimeter_m", "perimeter_s"):
        assert f1[key] == f2[key], key
    assert f1["calc_num"] == 9 and f1["clu_num"] == 1 and f1["clu_max_num"] == 7
    for f in (f1, f2):  # known bins: 7 small discs (0.36 mm) and 2 coarse ones (0.9, 1.2 mm), all round
        assert (f["long_s"], f["long_m"], f["long_l"]) == (0, 7, 2)
        assert (f["size_10_30"], f["size_30"], f["round_l"], f["perimeter_m"], f["perimeter_l"]) == (7, 2, 9, 7, 2)
    assert f1["calc_area"] == pytest.approx(f2["calc_area"], rel=0.1)
    assert f1["calc_area"] == pytest.approx(7 * math.pi * 0.18**2 + math.pi * (0.45**2 + 0.6**2), rel=0.1)
    assert f1["clu_max_area"] == pytest.approx(f2["clu_max_area"], rel=0.15)
    assert f1["density"] == pytest.approx(0.9) and f2["density_32"] == pytest.approx(0.2)
    for a, b in zip(sorted(q1.calcifications, key=lambda r: r["area_mm2"]), sorted(q2.calcifications, key=lambda r: r["area_mm2"])):
        assert a["long_side_mm"] == pytest.approx(b["long_side_mm"], abs=0.12)
        assert a["perimeter_mm"] == pytest.approx(b["perimeter_mm"], rel=0.15)


def test_size_classes_follow_the_seeds_pixel_counts_in_mm2():
    for spacing, scale in ((0.068, 1), (0.034, 2)):  # at half the spacing every seed pixel is 2 x 2 pixels
        m = np.zeros((200, 200), np.uint8)
        for j, n_px in enumerate((9, 10, 30, 31)):
            m[20 : 20 + n_px * scale, 20 + 40 * j : 20 + 40 * j + scale] = 1
        f = quantify(m, None, (spacing, spacing)).features
        assert (f["size_10"], f["size_10_30"], f["size_30"]) == (1, 2, 1), spacing


def test_feature_names_and_empty_mask():
    assert FEATURE_NAMES[:11] == ["calc_num", "density", "density_32", "density_8", "size_10", "size_10_30",
                                  "size_30", "calc_area", "clu_num", "clu_max_num", "clu_max_area"]
    assert len(FEATURE_NAMES) == 11 + 3 + 7 * 3 + 1 and FEATURE_NAMES[-1] == "blurriness"
    q = quantify(np.zeros((40, 40), np.uint8), np.ones((40, 40), np.float32), (0.07, 0.07))
    assert q.calcifications == [] and q.clusters == []
    assert list(q.features) == FEATURE_NAMES and all(v == 0 for v in q.features.values())


def test_bad_input_is_an_input_error():
    with pytest.raises(InputError, match="does not match"):
        quantify(np.zeros((10, 10)), np.zeros((10, 11)), (0.1, 0.1), path="m.nrrd")
    with pytest.raises(InputError, match="spacing"):
        quantify(np.zeros((10, 10)), None, (0.1, -1.0))
    with pytest.raises(InputError, match="2-D"):
        find_clusters(np.zeros((2, 10, 10)), (0.1, 0.1))


# ---------------------------------------------------------------- command line

def _write(array, path, spacing=(0.07, 0.07)):
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return str(path)


def test_quantify_command_writes_table_and_prints_features(tmp_path, capsys):
    m = dots((80, 100), [(20, 10 + 10 * i) for i in range(6)] + [(70, 90)])
    img = np.where(m > 0, 900.0, 100.0).astype(np.float32)
    img[:, :3] = img[:, -3:] = img[:3] = img[-3:] = 0.0  # air around the "breast"
    image = _write(img, tmp_path / "img.nrrd")
    mask = _write(m, tmp_path / "mask.nrrd")
    out = tmp_path / "calcs.csv"
    assert main(["quantify", "--image", image, "--mask", mask, "--out", str(out)]) == 0
    feats = json.loads(capsys.readouterr().out)
    assert list(feats) == [*FEATURE_NAMES, "density_unit"] and feats["density_unit"] == DENSITY_UNIT
    assert feats["calc_num"] == 7 and feats["clu_num"] == 1 and feats["clu_max_num"] == 6
    assert feats["density"] == pytest.approx(1.0)  # the brightest breast pixels, on the normalised scale
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 7 and list(rows[0]) == COLUMNS
    assert float(rows[0]["area_mm2"]) == pytest.approx(4 * 0.07 * 0.07)
    # no silent overwrite; mismatched and empty masks
    assert main(["quantify", "--image", image, "--mask", mask, "--out", str(out)]) == 2
    bad = _write(m[:40], tmp_path / "bad.nrrd")
    assert main(["quantify", "--image", image, "--mask", bad]) == 2
    assert "does not match" in capsys.readouterr().err
    empty = _write(np.zeros_like(m), tmp_path / "empty.nrrd")
    assert main(["quantify", "--image", image, "--mask", empty]) == 0
    assert json.loads(capsys.readouterr().out)["calc_num"] == 0


def _canonical(groups):
    seen: dict = {}
    return [seen.setdefault(g, len(seen)) for g in groups]


def test_grouping_equals_the_box_distance_rule_everywhere_including_borders():
    """Two calcifications join when some of their pixels are <= k px apart on both axes (k = kernel side)."""
    rng = np.random.default_rng(5)
    for _ in range(25):
        k = (int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        m = rng.random((40, 45)) > 0.985
        c = find_clusters(m, (1.0 / k[0], 1.0 / k[1]), kernel_px=1, kernel_spacing_mm=1.0, min_calcifications=1)
        assert c.kernel_shape == k
        pts, lab = np.argwhere(m), c.component_labels[m]
        parent = list(range(c.n_components + 1))

        def find(a):
            while parent[a] != a:
                a = parent[a]
            return a

        for i in range(len(pts)):
            d = np.abs(pts - pts[i])
            for j in np.flatnonzero((d[:, 0] <= k[0]) & (d[:, 1] <= k[1])):
                parent[find(lab[i])] = find(lab[j])
        expected = [find(i) for i in range(1, c.n_components + 1)]
        assert _canonical(expected) == _canonical(c.cluster_of_component.tolist())


def test_quantify_command_on_one_slice_of_a_stack_with_cluster_table(tmp_path, capsys):
    m = np.zeros((3, 60, 90), np.uint8)
    m[1] = dots((60, 90), [(20, 5 + 12 * i) for i in range(7)])
    img = np.where(m > 0, 1.0, 0.1).astype(np.float32)
    image = _write(img, tmp_path / "stack.nrrd", (0.068, 0.068, 1.0))
    mask = _write(m, tmp_path / "stack_mask.nrrd", (0.068, 0.068, 1.0))
    assert main(["quantify", "--image", image, "--mask", mask]) == 2
    assert "--slice" in capsys.readouterr().err
    out = tmp_path / "clusters.csv"
    assert main(["quantify", "--image", image, "--mask", mask, "--slice", "1", "--clusters-out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["clu_max_num"] == 7
    (row,) = list(csv.DictReader(out.open()))
    assert int(row["count"]) == 7 and float(row["centroid_row"]) == pytest.approx(20.5)
    assert float(row["calc_area_mm2"]) == pytest.approx(7 * 4 * 0.068**2)
