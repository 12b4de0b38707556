"""The library's level tracing (MLNNetLib.labels) against Slicer's own vtkITKLevelTracingImageFilter (slicer-core),
and points files turned into calcification masks without Slicer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from MLNNetLib.errors import InputError
from MLNNetLib.labels.level_tracing import relative_level_region, trace_level
from MLNNetLib.labels.points import points_to_mask, read_points, write_points


def _vtkitk_filled(plane: np.ndarray, seed_rc: tuple[int, int]) -> np.ndarray:
    """What Slicer's Level tracing effect paints: the vtkITK filter's outline, filled."""
    import slicer
    import vtk
    from vtk.util import numpy_support

    rows, cols = plane.shape
    image = vtk.vtkImageData()
    image.SetDimensions(cols, rows, 1)
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(np.ascontiguousarray(plane, np.float32).ravel(), deep=True))
    tracer = slicer.vtkITKLevelTracingImageFilter()
    tracer.SetInputData(image)
    tracer.SetSeed(int(seed_rc[1]), int(seed_rc[0]), 0)
    tracer.SetPlaneToIJ()
    tracer.Update()
    points = tracer.GetOutput().GetPoints()
    outline = np.zeros(plane.shape, bool)
    if points is not None and points.GetNumberOfPoints():
        xyz = np.rint(numpy_support.vtk_to_numpy(points.GetData())).astype(int)
        outline[xyz[:, 1], xyz[:, 0]] = True
    return ndimage.binary_fill_holes(outline)


def test_same_outline_as_the_vtkitk_filter_on_random_smooth_images():
    rng = np.random.default_rng(1)
    compared = 0
    for _ in range(150):
        img = ndimage.gaussian_filter(rng.normal(size=(40, 40)), 2.0).astype(np.float32)
        r, c = (int(v) for v in rng.integers(3, 37, 2))
        ref, mine = _vtkitk_filled(img, (r, c)), trace_level(img, (r, c))
        if ref.sum() == 0:  # the filter returns no points for a lone pixel; the effect then labels the seed
            assert mine.sum() <= 1
            continue
        np.testing.assert_array_equal(mine, ref)
        compared += 1
    assert compared > 100


def test_seed_on_region_edge_of_binary_windows_matches_the_filter():
    rng = np.random.default_rng(0)
    for _ in range(100):
        binary = (ndimage.gaussian_filter(rng.normal(size=(30, 30)), 1.5) > 0.3).astype(np.float32)
        labels, n = ndimage.label(binary, structure=np.ones((3, 3)))
        if n == 0:
            continue
        r, c = np.argwhere(labels == rng.integers(1, n + 1))[0]
        padded = np.pad(binary, 1)
        ref, mine = _vtkitk_filled(padded, (r + 1, c + 1)), trace_level(padded, (r + 1, c + 1))
        if ref.sum() == 0:  # lone pixel: no chain code from the filter
            assert mine.sum() == 1
            continue
        np.testing.assert_array_equal(mine, ref)


def test_relative_level_is_half_maximum_and_click_position_independent():
    rr, cc = np.mgrid[:41, :41]
    img = (100 + 60 * np.exp(-((rr - 20) ** 2 + (cc - 20) ** 2) / (2 * 2.0**2))).astype(np.float32)
    a, level, peak = relative_level_region(img, (20, 20), 0.5, 10, 2)
    b, _, _ = relative_level_region(img, (21, 19), 0.5, 10, 2)
    assert peak == (20, 20) and level == pytest.approx(130.0, abs=0.5)
    np.testing.assert_array_equal(a, b)
    expected = np.pi * (2.0 * np.sqrt(2 * np.log(2))) ** 2
    assert 0.7 * expected < a.sum() < 1.4 * expected


def test_points_file_round_trip_and_points_to_mask_on_a_synthetic_case(tmp_path):
    from MLNNetLib.synth import generate_case

    image, truth, _ = generate_case("ffdm", 3, shape=(384, 320), spacing_mm=0.1)
    labels, n = ndimage.label(truth, structure=np.ones((3, 3)))
    centres = np.array(ndimage.center_of_mass(truth, labels, range(1, n + 1)))
    path = write_points(tmp_path / "p.json", centres)
    back = read_points(path)
    np.testing.assert_allclose(back, centres)
    mask, results = points_to_mask(image.astype(np.float32), back, (0.1, 0.1))
    assert len(results) == n and all(r.pixels > 0 for r in results)
    dice = 2 * np.count_nonzero(mask & truth) / (mask.sum() + truth.sum())
    assert dice > 0.75, dice


def test_points_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"points": [[1, 2]]}')
    with pytest.raises(InputError, match="bad.json.*not a points file"):
        read_points(bad)
    bad.write_text('{"format": "mlnnet-points", "points": [[1, 2, 3]]}')
    with pytest.raises(InputError, match="pairs"):
        read_points(bad)


def test_region_detector_finds_the_calcifications_inside_a_loose_outline():
    """CBIS-DDSM-like loose outline (the cluster dilated by 1.75 mm) on synthetic cases with exact masks."""
    from MLNNetLib.labels.regions import detect_in_regions
    from MLNNetLib.metrics import lesion_detection
    from MLNNetLib.preprocess import prepare_image
    from MLNNetLib.synth import generate_case

    sens, prec = [], []
    for domain, seed in (("ffdm", 3), ("film", 2)):
        image, truth, _ = generate_case(domain, seed, shape=(512, 416), spacing_mm=0.07)
        img01, breast = prepare_image(image)
        region = ndimage.binary_fill_holes(ndimage.binary_dilation(truth > 0, iterations=25))
        mask, info = detect_in_regions(img01, breast, region, (0.07, 0.07))
        assert info["approximate"] is True and info["regions"] >= 1
        assert ndimage.distance_transform_edt(~region)[mask > 0].max() <= 1.0 / 0.07 + 0.5  # within the 1 mm margin
        d = lesion_detection(mask, truth)
        sens.append(d.sensitivity)
        prec.append(d.precision)
    assert np.mean(sens) > 0.8 and np.mean(prec) > 0.5, (sens, prec)
