"""Volume node <-> Image on real slicer-core MRML nodes: voxels and geometry (LPS <-> RAS) survive."""

from __future__ import annotations

import numpy as np
import pytest

from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry, Image
from MLNNetLib.scene import add_volume_from_image, ijk_to_ras, image_from_volume, ijk_to_ras_matrix, ras_to_ijk


def test_2d_image_is_single_slice_volume_with_ras_matrix(mrml):
    # LPS: x spacing 0.07, y spacing 0.1 and flipped (direction y = -1), origin (3, 4)
    geometry = Geometry((0.07, 0.1), (3.0, 4.0), (1.0, 0.0, 0.0, -1.0))
    array = np.arange(12 * 17, dtype=np.float32).reshape(12, 17)
    node = add_volume_from_image(mrml.scene, Image(array, geometry), "mammo")
    assert node.GetImageData().GetDimensions() == (17, 12, 1)
    m = ijk_to_ras_matrix(node)
    # RAS = diag(-1, -1, 1) * LPS: L axis flips sign, the already flipped P axis becomes +
    np.testing.assert_allclose(m[:3, :3], np.diag([-0.07, 0.1, 1.0]))
    np.testing.assert_allclose(m[:3, 3], [-3.0, -4.0, 0.0])
    back = image_from_volume(node)
    assert back.array.shape == (12, 17) and back.array.dtype == np.float32
    np.testing.assert_array_equal(back.array, array)
    np.testing.assert_allclose(back.geometry.spacing_xyz, geometry.spacing_xyz)
    np.testing.assert_allclose(back.geometry.origin_xyz, geometry.origin_xyz)
    np.testing.assert_allclose(back.geometry.direction, geometry.direction)
    assert back.spacing == pytest.approx((0.1, 0.07))  # array order: rows, cols


def test_3d_dbt_anisotropic_oblique_round_trip(mrml):
    c, s = np.cos(0.3), np.sin(0.3)
    direction = (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, -1.0)  # rotated in-plane, slices going down
    geometry = Geometry((0.085, 0.085, 1.0), (10.0, -5.0, 30.0), direction)
    array = np.random.default_rng(0).random((4, 9, 11)).astype(np.float32)
    node = add_volume_from_image(mrml.scene, Image(array, geometry), "dbt")
    assert node.GetImageData().GetDimensions() == (11, 9, 4)
    back = image_from_volume(node)
    assert back.array.shape == (4, 9, 11)
    np.testing.assert_array_equal(back.array, array)
    np.testing.assert_allclose(back.geometry.spacing_xyz, geometry.spacing_xyz, atol=1e-12)
    np.testing.assert_allclose(back.geometry.origin_xyz, geometry.origin_xyz, atol=1e-12)
    np.testing.assert_allclose(back.geometry.direction, direction, atol=1e-12)
    assert back.spacing == pytest.approx((1.0, 0.085, 0.085))
    # voxel (slice 2, row 3, col 5): LPS = origin + D @ (spacing * ijk); RAS flips x and y
    ijk = np.array([5, 3, 2]) * np.array(geometry.spacing_xyz)
    lps = np.array(geometry.origin_xyz) + np.array(direction).reshape(3, 3) @ ijk
    np.testing.assert_allclose(ijk_to_ras(node, [[2, 3, 5]])[0], lps * [-1, -1, 1], atol=1e-9)
    np.testing.assert_allclose(ras_to_ijk(node, lps * [-1, -1, 1])[0], [5, 3, 2], atol=1e-9)


def test_single_slice_kept_3d_on_request_and_bad_input_refused(mrml):
    node = add_volume_from_image(mrml.scene, Image(np.ones((5, 6), np.float32), Geometry.identity((0.1, 0.1))), "one")
    assert image_from_volume(node, keep_slice_axis=True).array.shape == (1, 5, 6)
    empty = mrml.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty")
    with pytest.raises(InputError, match="no image data"):
        image_from_volume(empty)
    with pytest.raises(InputError, match="scalar volume"):
        image_from_volume(mrml.scene.AddNewNodeByClass("vtkMRMLTableNode", "t"))


def test_scene_package_imports_slicer_and_torch_lazily():
    import subprocess
    import sys

    code = "import sys, MLNNetLib.scene; assert not {'slicer', 'vtk', 'torch'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
