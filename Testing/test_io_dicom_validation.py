"""DICOM headers that lie (issue 13 items 13-14): invalid spacing tags, pixel counts the data cannot hold."""

from __future__ import annotations

import time

import numpy as np
import pydicom
import pytest
from pydicom.uid import RLELossless

from MLNNetLib.cli import main
from MLNNetLib.errors import InputError
from MLNNetLib.io import read_image

from dicom_files import STORED, write_dicom


@pytest.mark.parametrize("value,shown", [(["0", "0"], r"0\\0"), (["-0.1", "-0.1"], r"-0\.1\\-0\.1"), ("0.1", r"0\.1")],
                         ids=["zero", "negative", "single"])
def test_invalid_pixel_spacing_is_named_and_refused_unless_a_spacing_is_given(tmp_path, value, shown):
    path = write_dicom(tmp_path / "s.dcm", STORED, PixelSpacing=value)
    with pytest.raises(InputError, match=rf"s\.dcm: PixelSpacing is '{shown}', not two positive numbers.*--default-spacing"):
        read_image(path)
    img = read_image(path, default_spacing=0.07)
    assert img.spacing == (0.07, 0.07) and img.meta["spacing_source"] == "default"
    assert any(f"PixelSpacing is '{value if isinstance(value, str) else chr(92).join(value)}'" in w for w in img.meta["warnings"])


def test_invalid_pixel_spacing_falls_back_to_a_valid_imager_pixel_spacing_with_a_warning(tmp_path):
    path = write_dicom(tmp_path / "s.dcm", STORED, PixelSpacing=["0", "0"], ImagerPixelSpacing=[0.085, 0.085])
    img = read_image(path)
    assert img.spacing == (0.085, 0.085) and img.meta["spacing_source"] == "ImagerPixelSpacing"
    assert any("PixelSpacing is '0\\0'" in w and "using ImagerPixelSpacing" in w for w in img.meta["warnings"])


def test_invalid_spacing_through_the_cli_names_tag_and_value(tmp_path, capsys):
    path = write_dicom(tmp_path / "s.dcm", STORED, PixelSpacing=["0", "0"])
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "PixelSpacing is '0\\0'" in err and "no PixelSpacing or ImagerPixelSpacing tag" not in err
    assert "Traceback" not in err
    assert main(["info", str(path), "--default-spacing", "0.1"]) == 0


def test_header_claiming_more_pixels_than_the_file_holds_is_refused_before_decoding(tmp_path):
    pixels = np.zeros((384, 384), np.uint16)  # 294 KB of pixel data
    pixels[::7, ::5] = 1000
    path = write_dicom(tmp_path / "big.dcm", pixels, PixelSpacing=[0.1, 0.1])
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns = 65535, 65535
    ds.save_as(path)
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"big\.dcm: the header \(Rows 65535 x Columns 65535.*needs 8,589,672,450 bytes"
                                         r".*file holds 294,912"):
        read_image(path)
    assert time.perf_counter() - start < 2.0  # refused from the header, nothing allocated


def test_rle_header_claiming_more_than_the_stream_can_hold_is_refused(tmp_path):
    path = write_dicom(tmp_path / "r.dcm", (np.arange(64 * 48).reshape(64, 48) % 4000).astype(np.uint16),
                       PixelSpacing=[0.1, 0.1])
    ds = pydicom.dcmread(path)
    ds.compress(RLELossless, encoding_plugin="pydicom")
    ds.Rows, ds.Columns = 20000, 20000
    ds.save_as(path)
    with pytest.raises(InputError, match=r"r\.dcm: the header \(Rows 20000 x Columns 20000.*RLE data can hold at most"):
        read_image(path)


def test_decoding_that_cannot_fit_in_memory_is_refused_with_the_number(tmp_path, monkeypatch):
    import MLNNetLib.resources as resources

    path = write_dicom(tmp_path / "m.dcm", np.full((200, 300), 7, np.uint16) + np.eye(200, 300, dtype=np.uint16),
                       PixelSpacing=[0.1, 0.1])
    assert read_image(path).array.shape == (200, 300)
    monkeypatch.setattr(resources, "available_memory", lambda: 100_000)
    with pytest.raises(InputError, match=r"m\.dcm: decoding Rows 200 x Columns 300.*needs about 937\.5 KiB of memory, "
                                         r"but only 97\.7 KiB is available"):
        read_image(path)
