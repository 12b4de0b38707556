"""DICOM reading on small files built with pydicom: photometric, rescale, spacing tags, frames, series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import RLELossless, generate_uid

from MLNNetLib.errors import InputError
from MLNNetLib.io import DEFAULT_SLICE_SPACING_MM, DEFAULT_SPACING_MM, image_info, read_image
from MLNNetLib.io.dicom import read_dicom_file
from MLNNetLib.io.sitk_probe import reader_behaviour

from dicom_files import STORED, write_dicom  # shared with the bad-input suite


def test_probe_predicts_raw_simpleitk_output(tmp_path):
    # The probe's verdict must describe what SimpleITK really does to another MONOCHROME1 + rescale file.
    import SimpleITK as sitk

    path = write_dicom(tmp_path / "p.dcm", STORED, "MONOCHROME1", RescaleSlope="3", RescaleIntercept="5")
    raw = sitk.GetArrayFromImage(sitk.ReadImage(str(path))).reshape(STORED.shape).astype(np.float64)
    b = reader_behaviour()
    expected = (4095.0 - STORED) if b.inverts_monochrome1 else STORED.astype(np.float64)
    if b.applies_rescale:
        expected = 3 * expected + 5
    np.testing.assert_array_equal(raw, expected)


def test_monochrome2_plain_values_and_pixel_spacing(tmp_path):
    img = read_image(write_dicom(tmp_path / "a.dcm", STORED, PixelSpacing=[0.1, 0.2]))
    assert img.array.dtype == np.float32 and img.array.shape == (5, 6)
    np.testing.assert_array_equal(img.array, STORED.astype(np.float32))
    assert img.spacing == (0.1, 0.2)  # PixelSpacing is (row spacing, column spacing) = array order
    assert img.geometry.spacing_xyz == (0.2, 0.1)
    assert img.meta["spacing_source"] == "PixelSpacing" and img.meta["warnings"] == []
    assert img.meta["modality"] == "MG" and img.meta["frames"] == 1 and img.meta["photometric"] == "MONOCHROME2"


def test_monochrome1_inverted_and_rescaled_exactly_once(tmp_path):
    img = read_image(write_dicom(tmp_path / "m1.dcm", STORED, "MONOCHROME1", RescaleSlope="2", RescaleIntercept="-10",
                                 ImagerPixelSpacing=[0.07, 0.08]))
    # rescaled range of 12 stored bits: [-10, 8180]; inversion maps v -> lo + hi - v
    expected = (-10 + 8180) - (2.0 * STORED - 10)
    np.testing.assert_array_equal(img.array, expected.astype(np.float32))
    assert img.array[0, 0] > img.array[-1, -1]  # stored 0 (white in MONOCHROME1) is now the brightest
    assert img.spacing == (0.07, 0.08) and img.meta["spacing_source"] == "ImagerPixelSpacing"
    assert img.meta["photometric"] == "MONOCHROME1"


def test_rescale_applied_once_monochrome2_fractional(tmp_path):
    img = read_image(write_dicom(tmp_path / "r.dcm", STORED, RescaleSlope="0.5", RescaleIntercept="3.25", PixelSpacing=[0.1, 0.1]))
    np.testing.assert_allclose(img.array, 0.5 * STORED + 3.25, rtol=0, atol=1e-4)


def test_pixel_spacing_wins_over_imager_pixel_spacing(tmp_path):
    img = read_image(write_dicom(tmp_path / "b.dcm", STORED, PixelSpacing=[0.085, 0.085], ImagerPixelSpacing=[0.1, 0.1]))
    assert img.spacing == (0.085, 0.085) and img.meta["spacing_source"] == "PixelSpacing"


def test_missing_spacing_gives_default_and_warning(tmp_path, caplog):
    path = write_dicom(tmp_path / "c.dcm", STORED)
    with caplog.at_level("WARNING", logger="MLNNet"):
        img = read_image(path)
    assert img.spacing == (DEFAULT_SPACING_MM, DEFAULT_SPACING_MM) == (0.05, 0.05)
    assert img.meta["spacing_source"] == "default"
    assert len(img.meta["warnings"]) == 1 and "0.05 mm" in img.meta["warnings"][0]
    assert any("PixelSpacing" in r.getMessage() for r in caplog.records)
    assert read_image(path, default_spacing=0.07).spacing == (0.07, 0.07)


@pytest.mark.parametrize("decoder", ["pydicom", "sitk"])
@pytest.mark.parametrize("syntax", ["plain", "rle"])
def test_both_decoders_apply_rescale_and_inversion_exactly_once(tmp_path, decoder, syntax):
    # pydicom returns stored values, SimpleITK/GDCM may already rescale and invert: both must give the
    # same MONOCHROME2-convention result, lo + hi - (slope * stored + intercept).
    import pydicom

    stored = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 7) % 4000
    path = write_dicom(tmp_path / "x.dcm", stored, "MONOCHROME1", RescaleSlope="2", RescaleIntercept="-10", PixelSpacing=[0.1, 0.1])
    if syntax == "rle":
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless, encoding_plugin="pydicom")
        ds.save_as(path)
    img = read_dicom_file(path, decoder=decoder)
    np.testing.assert_array_equal(img.array, (8180 - 2.0 * stored).astype(np.float32))


def test_tiny_rle_gdcm_refuses_auto_falls_back(tmp_path):
    import pydicom

    path = write_dicom(tmp_path / "x.dcm", STORED, PixelSpacing=[0.1, 0.1])
    ds = pydicom.dcmread(path)
    ds.compress(RLELossless, encoding_plugin="pydicom")
    ds.save_as(path)
    with pytest.raises(InputError, match="cannot decode"):
        read_dicom_file(path, decoder="sitk")  # GDCM cannot decode RLE images this small
    np.testing.assert_array_equal(read_image(path).array, STORED)


def test_multiframe_dbt_volume(tmp_path):
    stack = np.stack([STORED + 10 * k for k in range(4)])
    img = read_image(write_dicom(tmp_path / "dbt.dcm", stack, PixelSpacing=[0.1, 0.1], SpacingBetweenSlices="1.5", SliceThickness="0.9"))
    assert img.is_volume and img.array.shape == (4, 5, 6) and img.meta["frames"] == 4
    np.testing.assert_array_equal(img.array[2], STORED + 20)
    assert img.spacing == (1.5, 0.1, 0.1) and img.meta["slice_spacing_source"] == "SpacingBetweenSlices"


def test_multiframe_without_slice_spacing_warns(tmp_path):
    stack = np.stack([STORED + k for k in range(3)])
    img = read_image(write_dicom(tmp_path / "dbt.dcm", stack, PixelSpacing=[0.1, 0.1]))
    assert img.spacing[0] == DEFAULT_SLICE_SPACING_MM == 1.0
    assert any("slice spacing" in w for w in img.meta["warnings"])


def test_multiframe_functional_groups_positions_and_orientation(tmp_path):
    # Enhanced-style DBT: spacing, orientation and per-frame positions live in functional group sequences.
    from pydicom.sequence import Sequence

    def item(**kw) -> Dataset:
        ds = Dataset()
        for k, v in kw.items():
            setattr(ds, k, v)
        return ds

    frames = 3
    shared = item(PixelMeasuresSequence=Sequence([item(PixelSpacing=[0.085, 0.085])]),
                  PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]))
    # frames stored from z = 10 down to z = 8 (against the normal +z), 1 mm apart
    per_frame = [item(PlanePositionSequence=Sequence([item(ImagePositionPatient=[0.0, 0.0, 10.0 - k])])) for k in range(frames)]
    stack = np.stack([STORED + k for k in range(frames)])
    img = read_image(write_dicom(tmp_path / "e.dcm", stack, SharedFunctionalGroupsSequence=Sequence([shared]),
                                 PerFrameFunctionalGroupsSequence=Sequence(per_frame)))
    assert img.spacing == (1.0, 0.085, 0.085) and img.meta["spacing_source"] == "PixelSpacing"
    assert img.meta["slice_spacing_source"] == "positions" and img.meta["warnings"] == []
    assert img.geometry.origin_xyz == (0.0, 0.0, 10.0)
    assert img.geometry.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # z follows the frames
    np.testing.assert_array_equal(img.array[:, 0, 0], [0, 1, 2])  # frame order kept


def test_dicom_without_preamble_read_with_tag_spacing(tmp_path):
    # Old files lack the 128-byte preamble; SimpleITK would read them with an invented 1 mm spacing.
    import pydicom

    ds = pydicom.dcmread(write_dicom(tmp_path / "x.dcm", STORED, PixelSpacing=[0.1, 0.2]))
    ds.preamble = None
    del ds.file_meta
    ds.save_as(tmp_path / "slice0001", enforce_file_format=False, implicit_vr=True, little_endian=True)
    img = read_image(tmp_path / "slice0001")
    assert img.spacing == (0.1, 0.2) and img.meta["spacing_source"] == "PixelSpacing"
    np.testing.assert_array_equal(img.array, STORED)


def _series(folder: Path, z_positions: list[float], names: list[str], uid: str, **tags) -> None:
    folder.mkdir(exist_ok=True)
    for z, name in zip(z_positions, names):
        write_dicom(folder / name, STORED + int(z * 10), series_uid=uid, PixelSpacing=[0.1, 0.1],
                    ImageOrientationPatient=[1, 0, 0, 0, 1, 0], ImagePositionPatient=[5.0, -3.0, z], **tags)


def test_series_folder_sorted_by_position(tmp_path):
    uid = generate_uid()
    # file names and InstanceNumbers deliberately disagree with the geometric order
    _series(tmp_path / "s", [4.0, 0.0, 2.0], ["a.dcm", "b.dcm", "c.dcm"], uid)
    img = read_image(tmp_path / "s")
    assert img.array.shape == (3, 5, 6)
    np.testing.assert_array_equal(img.array[:, 0, 0], [0, 20, 40])  # z = 0, 2, 4
    assert img.spacing == (2.0, 0.1, 0.1) and img.meta["slice_spacing_source"] == "positions"
    assert img.geometry.origin_xyz == (5.0, -3.0, 0.0)
    assert img.geometry.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def test_series_folder_with_two_series_refused(tmp_path):
    _series(tmp_path / "s", [0.0, 1.0], ["a.dcm", "b.dcm"], generate_uid())
    _series(tmp_path / "s", [0.0, 1.0], ["c.dcm", "d.dcm"], generate_uid())
    with pytest.raises(InputError, match="2 DICOM series"):
        read_image(tmp_path / "s")


def test_series_with_duplicate_positions_refused(tmp_path):
    _series(tmp_path / "s", [1.0, 1.0], ["a.dcm", "b.dcm"], generate_uid())
    with pytest.raises(InputError, match="same position"):
        read_image(tmp_path / "s")


def test_empty_folder_refused(tmp_path):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="no DICOM"):
        read_image(tmp_path / "e")


def test_constant_dicom_refused_and_info_reports_file_dtype(tmp_path):
    with pytest.raises(InputError, match="constant image"):
        read_image(write_dicom(tmp_path / "k.dcm", np.full((4, 4), 7, np.uint16)))
    info = image_info(write_dicom(tmp_path / "i.dcm", STORED, "MONOCHROME1", RescaleSlope="2", RescaleIntercept="-10"))
    assert info["dtype"] == "uint16" and info["photometric"] == "MONOCHROME1" and info["spacing_source"] == "default"
    assert info["intensity"]["max"] == 8180.0 and info["intensity"]["min"] == 8180.0 - 2 * 2900
