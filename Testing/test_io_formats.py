"""Non-DICOM formats, writing, masks, bad input and the info CLI, on small arrays made on the fly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from MLNNetLib.cli import main
from MLNNetLib.errors import InputError
from MLNNetLib.image import Geometry
from MLNNetLib.io import DEFAULT_SPACING_MM, image_info, read_image, read_mask, write_image

GEOM2 = Geometry((0.07, 0.085), (12.5, -3.0), (0.0, 1.0, 1.0, 0.0))
GEOM3 = Geometry((0.1, 0.1, 1.0), (1.0, 2.0, 3.0), (1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0))


def ramp(shape, rng) -> np.ndarray:
    return rng.random(shape, dtype=np.float32) * 1000


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz", ".nii", ".mha"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_round_trip_keeps_values_and_geometry(tmp_path, rng, suffix, ndim):
    geom = GEOM2 if ndim == 2 else GEOM3
    array = ramp((6, 7) if ndim == 2 else (3, 6, 7), rng)
    path = write_image(array, geom, tmp_path / f"img{suffix}")
    img = read_image(path)
    np.testing.assert_array_equal(img.array, array)
    assert img.meta["spacing_source"] == "header" and img.meta["warnings"] == []
    np.testing.assert_allclose(img.geometry.spacing_xyz, geom.spacing_xyz, rtol=1e-6)
    np.testing.assert_allclose(img.geometry.origin_xyz, geom.origin_xyz, atol=1e-5)
    np.testing.assert_allclose(img.geometry.direction, geom.direction, atol=1e-6)
    assert img.spacing == tuple(reversed(img.geometry.spacing_xyz))


def test_unit_header_spacing_kept_but_flagged(tmp_path, rng):
    img = read_image(write_image(ramp((6, 7), rng), Geometry.identity((1.0, 1.0)), tmp_path / "u.nrrd"))
    assert img.spacing == (1.0, 1.0) and img.meta["spacing_source"] == "header"
    assert len(img.meta["warnings"]) == 1 and "not set" in img.meta["warnings"][0]


def test_write_defaults_to_compressed_nrrd_and_refuses_overwrite(tmp_path, rng):
    array = np.zeros((64, 64), np.uint8)
    array[10:20, 10:20] = 1
    path = write_image(array, GEOM2, tmp_path / "mask")
    assert path.name == "mask.nrrd" and path.exists()
    assert path.stat().st_size < array.nbytes  # compressed
    with pytest.raises(FileExistsError):
        write_image(array * 0 + 1, GEOM2, path)
    np.testing.assert_array_equal(read_mask(path).array, array)  # the original survived
    write_image(1 - array, GEOM2, path, overwrite=True)
    np.testing.assert_array_equal(read_mask(path).array, 1 - array)
    assert [p.name for p in tmp_path.iterdir()] == ["mask.nrrd"]  # no temporary files left behind


def test_write_refuses_float_png_and_two_file_formats(tmp_path, rng):
    with pytest.raises(InputError, match="integer pixels"):
        write_image(ramp((4, 4), rng), GEOM2, tmp_path / "a.png")
    with pytest.raises(InputError, match="atomically"):
        write_image(ramp((4, 4), rng), GEOM2, tmp_path / "a.mhd")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix,dtype", [(".png", np.uint8), (".png", np.uint16), (".bmp", np.uint8), (".tif", np.uint16), (".pgm", np.uint8)])
def test_raster_formats_read_with_default_spacing(tmp_path, rng, suffix, dtype):
    array = rng.integers(0, 200, (9, 11)).astype(dtype)
    if suffix == ".pgm":  # SimpleITK cannot write PGM; build the netpbm file by hand
        (tmp_path / "r.pgm").write_bytes(b"P5\n# made by a test\n11 9\n255\n" + array.tobytes())
    else:
        sitk.WriteImage(sitk.GetImageFromArray(array), str(tmp_path / f"r{suffix}"))
    img = read_image(tmp_path / f"r{suffix}")
    np.testing.assert_array_equal(img.array, array.astype(np.float32))
    assert img.array.dtype == np.float32
    assert img.spacing == (DEFAULT_SPACING_MM, DEFAULT_SPACING_MM) and img.meta["spacing_source"] == "default"
    assert len(img.meta["warnings"]) == 1 and "no physical pixel spacing" in img.meta["warnings"][0]
    assert read_image(tmp_path / f"r{suffix}", default_spacing=0.1).spacing == (0.1, 0.1)


def test_pgm_16bit_big_endian_and_ascii(tmp_path):
    array = np.array([[0, 300, 65535], [7, 1000, 2]], np.uint16)
    (tmp_path / "b.pgm").write_bytes(b"P5 3 2 65535\n" + array.astype(">u2").tobytes())
    np.testing.assert_array_equal(read_image(tmp_path / "b.pgm").array, array)
    (tmp_path / "a.pgm").write_text("P2\n3 2\n65535\n0 300 65535\n7 1000 2\n")
    np.testing.assert_array_equal(read_image(tmp_path / "a.pgm").array, array)
    (tmp_path / "c.pgm").write_bytes(b"P6 3 2 255\n" + bytes(18))
    with pytest.raises(InputError, match=r"c\.pgm: not a grayscale PGM"):
        read_image(tmp_path / "c.pgm")


def _rgb_png(path, rgb: np.ndarray) -> None:
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(path))


def test_gray_rgb_png_accepted_colour_refused(tmp_path, rng):
    gray = rng.integers(0, 255, (8, 9)).astype(np.uint8)
    _rgb_png(tmp_path / "g.png", np.stack([gray] * 3, axis=-1))
    img = read_image(tmp_path / "g.png")
    np.testing.assert_array_equal(img.array, gray)
    assert any("equal channels" in w for w in img.meta["warnings"])
    colour = np.stack([gray, gray, 255 - gray], axis=-1)
    _rgb_png(tmp_path / "c.png", colour)
    with pytest.raises(InputError, match=r"c\.png.*colour"):
        read_image(tmp_path / "c.png")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.nrrd: no such file"):
        read_image(tmp_path / "nope.nrrd")


@pytest.mark.parametrize("name", ["notes.txt", "fake.png", "fake.dcm"])
def test_text_file_is_not_an_image(tmp_path, name):
    (tmp_path / name).write_text("this is not an image\n" * 20)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        read_image(tmp_path / name)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.nrrd").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_image(tmp_path / "empty.nrrd")


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1)])
def test_one_pixel_wide_image_refused(tmp_path, shape):
    path = write_image(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), Geometry.identity((0.1, 0.1)), tmp_path / "t.nrrd")
    with pytest.raises(InputError, match="1-pixel"):
        read_image(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_refused(tmp_path, bad):
    array = np.ones((5, 5), np.float32)
    array[2, 3] = bad
    path = write_image(array, GEOM2, tmp_path / "n.nrrd")
    with pytest.raises(InputError, match="1 pixel.*NaN or infinite"):
        read_image(path)


def test_constant_image_refused(tmp_path):
    path = write_image(np.full((5, 5), 3.0, np.float32), GEOM2, tmp_path / "k.mha")
    with pytest.raises(InputError, match=r"k\.mha: constant image \(every pixel is 3\)"):
        read_image(path)


def test_mask_binary_any_foreground_value(tmp_path, rng):
    image = read_image(write_image(ramp((6, 7), rng), GEOM2, tmp_path / "i.nrrd"))
    raw = np.zeros((6, 7), np.uint8)
    raw[1:3, 2:5] = 255
    mask = read_mask(write_image(raw, GEOM2, tmp_path / "m.nrrd"), like=image)
    assert mask.array.dtype == np.uint8 and set(np.unique(mask.array)) == {0, 1}
    np.testing.assert_array_equal(mask.array, raw // 255)
    empty = read_mask(write_image(np.zeros((6, 7), np.uint8), GEOM2, tmp_path / "e.nrrd"), like=image)
    assert empty.array.sum() == 0  # an empty mask is valid, unlike a constant image


def test_mask_with_many_values_refused(tmp_path, rng):
    with pytest.raises(InputError, match="not a binary mask: 3 distinct"):
        read_mask(write_image(np.array([[0, 1], [2, 0]], np.uint8), GEOM2, tmp_path / "m.nrrd"))


@pytest.mark.parametrize("change", ["shape", "spacing", "origin", "direction"])
def test_mask_geometry_mismatch_names_both_files(tmp_path, rng, change):
    image = read_image(write_image(ramp((6, 7), rng), GEOM2, tmp_path / "image.nrrd"))
    shape, geom = (6, 7), GEOM2
    if change == "shape":
        shape = (6, 8)
    elif change == "spacing":
        geom = Geometry((0.07 * (1 + 1e-4), 0.085), GEOM2.origin_xyz, GEOM2.direction)
    elif change == "origin":
        geom = Geometry(GEOM2.spacing_xyz, (12.6, -3.0), GEOM2.direction)
    else:
        geom = Geometry(GEOM2.spacing_xyz, GEOM2.origin_xyz, (1.0, 0.0, 0.0, 1.0))
    path = write_image(np.zeros(shape, np.uint8), geom, tmp_path / "mask.nrrd")
    with pytest.raises(InputError, match=rf"mask\.nrrd: mask does not match image .*image\.nrrd: {change}"):
        read_mask(path, like=image)


def test_mask_spacing_within_tolerance_accepted(tmp_path, rng):
    image = read_image(write_image(ramp((6, 7), rng), GEOM2, tmp_path / "image.nrrd"))
    geom = Geometry((0.07 * (1 + 1e-8), 0.085), GEOM2.origin_xyz, GEOM2.direction)
    assert read_mask(write_image(np.zeros((6, 7), np.uint8), geom, tmp_path / "m.nrrd"), like=image).array.shape == (6, 7)


def test_png_mask_takes_the_image_geometry(tmp_path, rng):
    image = read_image(write_image(ramp((6, 7), rng), GEOM2, tmp_path / "image.nrrd"))
    raw = np.zeros((6, 7), np.uint8)
    raw[2, 2] = 255
    sitk.WriteImage(sitk.GetImageFromArray(raw), str(tmp_path / "m.png"))
    mask = read_mask(tmp_path / "m.png", like=image)
    assert mask.geometry == image.geometry and mask.array[2, 2] == 1 and mask.array.sum() == 1
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((5, 7), np.uint8)), str(tmp_path / "bad.png"))
    with pytest.raises(InputError, match="shape"):
        read_mask(tmp_path / "bad.png", like=image)


def test_image_info_values(tmp_path):
    array = np.arange(200 * 10, dtype=np.float32).reshape(200, 10)
    info = image_info(write_image(array, GEOM2, tmp_path / "x.nrrd"))
    assert info["shape"] == [200, 10] and info["dtype"] == "float32"
    assert info["spacing"] == pytest.approx([0.085, 0.07]) and info["spacing_source"] == "header"
    assert info["intensity"]["min"] == 0.0 and info["intensity"]["max"] == 1999.0
    assert info["intensity"]["p0.5"] == pytest.approx(np.percentile(array, 0.5))
    assert info["intensity"]["p99.5"] == pytest.approx(np.percentile(array, 99.5))
    assert info["warnings"] == []
    json.dumps(info)  # JSON-able as is


def test_info_cli_prints_one_json_object(tmp_path, capsys):
    sitk.WriteImage(sitk.GetImageFromArray(np.arange(48, dtype=np.uint16).reshape(6, 8)), str(tmp_path / "a.png"))
    assert main(["info", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    info = json.loads(out)
    assert info["shape"] == [6, 8] and info["dtype"] == "uint16" and info["spacing"] == [0.05, 0.05]
    assert info["spacing_source"] == "default" and len(info["warnings"]) == 1
    assert main(["info", "--default-spacing", "0.1", str(tmp_path / "a.png")]) == 0
    assert json.loads(capsys.readouterr().out)["spacing"] == [0.1, 0.1]


def test_info_cli_bad_input_exit_code_and_message(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("hello")
    assert main(["info", str(tmp_path / "t.txt")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "t.txt" in captured.err and "not a readable image" in captured.err
