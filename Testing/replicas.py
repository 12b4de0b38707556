"""Small replicas of public mammography collections, built in a temp folder with real DICOM files (pydicom):
CBIS-DDSM (description CSVs with the real columns, per-case folders whose names do not match the CSV paths, a
swapped mask/crop), INbreast (XML plists with point and contour ROIs) and a folder of image/mask pairs."""

from __future__ import annotations

import csv
import plistlib
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from dicom_files import write_dicom

CALC_COLUMNS = ["patient_id", "breast density", "left or right breast", "image view", "abnormality id",
                "abnormality type", "calc type", "calc distribution", "assessment", "pathology", "subtlety",
                "image file path", "cropped image file path", "ROI mask file path"]
SHAPE = (120, 90)


def mg(path: Path, array: np.ndarray, bits: int = 16, **tags) -> Path:
    """An MG DICOM with the patient/study attributes a DICOM SEG needs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    base = dict(PatientID="P1", PatientName="Replica^Case", StudyInstanceUID=generate_uid(), StudyDate="20160807",
                StudyTime="120000", SeriesNumber="1", InstanceNumber="1", AccessionNumber="", ReferringPhysicianName="",
                StudyID="1", PatientBirthDate="", PatientSex="F", Manufacturer="replica")
    base.update(tags)
    return write_dicom(path, array.astype(np.uint16), bits_stored=bits, **base)


def _mammogram(rng: np.random.Generator) -> np.ndarray:
    img = rng.integers(200, 3000, SHAPE).astype(np.uint16)
    img[:, : SHAPE[1] // 4] = 0  # air
    return img


def _uid_path(case_folder: str, name: str) -> str:
    """A CSV path as CBIS-DDSM writes it: case folder / study UID / series UID / file."""
    return f"{case_folder}/{generate_uid()}/{generate_uid()}/{name}"


def cbis_replica(root: Path, rng: np.random.Generator | None = None) -> dict:
    """Two training images (one with two abnormalities, one with crop and mask in separate series folders) and
    one test image; the first ROI folder holds mask and crop with the CSV's names swapped. Returns the truth."""
    rng = rng or np.random.default_rng(0)
    data = root / "CBIS-DDSM"
    truth: dict = {"images": {}, "labels": {}, "rows": {}}

    def full(case: str) -> None:
        img = _mammogram(rng)
        mg(data / case / "08-07-2016-DDSM-23157" / "1.000000-full mammogram images-38548" / "1-1.dcm", img)
        truth["images"][case] = img

    def roi(case: str, box: tuple[int, int, int, int], split_series: bool = False, swap: bool = False) -> np.ndarray:
        mask = np.zeros(SHAPE, np.uint16)
        r0, c0, r1, c1 = box
        mask[r0:r1, c0:c1] = 255
        crop = rng.integers(500, 2500, (r1 - r0 + 6, c1 - c0 + 6)).astype(np.uint16)
        series = data / case / "09-06-2017-DDSM-94258"
        mask_dir = series / "1.000000-ROI mask images-35533"
        crop_dir = series / "1.000000-cropped images-26184" if split_series else mask_dir
        names = ("1-2.dcm", "1-1.dcm") if swap else ("1-1.dcm", "1-2.dcm")  # (mask, crop) file names
        mg(mask_dir / names[0], mask, bits=8)
        mg(crop_dir / names[1], crop)
        return mask > 0

    def row(case_image: str, roi_case: str, patient: str, side: str, view: str, ab: int, pathology: str,
            assessment: int, csv_mask_name: str, csv_crop_name: str) -> list[str]:
        return [patient, "3", side, view, str(ab), "calcification", "PLEOMORPHIC", "CLUSTERED", str(assessment), pathology,
                "4", _uid_path(case_image, "000000.dcm"), _uid_path(roi_case, csv_crop_name),
                _uid_path(roi_case, csv_mask_name) + "\n"]  # the real CSV's ROI paths end with a newline

    train_rows, test_rows = [], []
    a = "Calc-Training_P_00005_RIGHT_CC"
    full(a)
    m1 = roi(a + "_1", (10, 40, 30, 60), swap=True)  # mask stored as 1-2.dcm although the CSV names 000000.dcm
    m2 = roi(a + "_2", (70, 50, 85, 70))
    train_rows.append(row(a, a + "_1", "P_00005", "RIGHT", "CC", 1, "MALIGNANT", 5, "000000.dcm", "000001.dcm"))
    train_rows.append(row(a, a + "_2", "P_00005", "RIGHT", "CC", 2, "BENIGN", 3, "000000.dcm", "000001.dcm"))
    truth["labels"][a] = m1 | m2
    b = "Calc-Training_P_00007_LEFT_MLO"
    full(b)
    truth["labels"][b] = roi(b + "_1", (50, 30, 66, 48), split_series=True)
    train_rows.append(row(b, b + "_1", "P_00007", "LEFT", "MLO", 1, "BENIGN_WITHOUT_CALLBACK", 2, "000001.dcm", "000000.dcm"))
    c = "Calc-Test_P_00038_LEFT_CC"
    full(c)
    truth["labels"][c] = roi(c + "_1", (20, 60, 40, 80))
    test_rows.append(row(c, c + "_1", "P_00038", "LEFT", "CC", 1, "MALIGNANT", 4, "000000.dcm", "000001.dcm"))
    for name, rows in (("calc_case_description_train_set.csv", train_rows), ("calc_case_description_test_set.csv", test_rows)):
        with (root / name).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(CALC_COLUMNS)
            w.writerows(rows)
    return truth


def add_cbis_row_without_dicoms(root: Path) -> None:
    """A row whose case folders were never downloaded."""
    case = "Calc-Training_P_00099_LEFT_CC"
    with (root / "calc_case_description_train_set.csv").open("a", newline="") as f:
        csv.writer(f).writerow(["P_00099", "2", "LEFT", "CC", "1", "calcification", "AMORPHOUS", "GROUPED", "4", "BENIGN", "3",
                                _uid_path(case, "000000.dcm"), _uid_path(case + "_1", "000001.dcm"),
                                _uid_path(case + "_1", "000000.dcm")])


def _roi(name: str, points_xy: list[tuple[float, float]]) -> dict:
    return {"Area": 0.0, "Center": "{0, 0}", "Dev": 0.0, "IndexInImage": 0, "Max": 0.0, "Mean": 0.0, "Min": 0.0,
            "Name": name, "NumberOfPoints": len(points_xy), "Point_mm": [f"({x * 0.07}, {y * 0.07}, 0)" for x, y in points_xy],
            "Point_px": [f"({x:.6f}, {y:.6f})" for x, y in points_xy], "Total": 0.0, "Type": 19 if len(points_xy) == 1 else 15}


def inbreast_xml(path: Path, rois: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        plistlib.dump({"Images": [{"ImageIndex": 0, "NumberOfROIs": len(rois), "ROIs": rois}]}, f, fmt=plistlib.FMT_XML)
    return path


CALC_POINTS_XY = [(60.4, 30.2), (70.0, 33.6)]  # (x, y) = (col, row)
CALC_POLYGON_XY = [(20.0, 80.0), (26.0, 80.0), (26.0, 86.0), (20.0, 86.0)]
CLUSTER_POLYGON_XY = [(55.0, 25.0), (75.0, 25.0), (75.0, 40.0), (55.0, 40.0)]


def inbreast_replica(root: Path, rng: np.random.Generator | None = None) -> dict:
    """Image 22678622 (points, a contour, a cluster and a mass), 22678700 (a mass only), the CSV table."""
    rng = rng or np.random.default_rng(1)
    images = {}
    for fid, side in (("22678622", "R"), ("22678700", "L")):
        img = _mammogram(rng)
        mg(root / "AllDICOMs" / f"{fid}_7a3ba2e0f0c2b3f8_MG_{side}_CC_ANON.dcm", img, bits=14, PixelSpacing=[0.07, 0.07])
        images[fid] = img
    inbreast_xml(root / "AllXML" / "22678622.xml", [
        _roi("Calcification", [CALC_POINTS_XY[0]]), _roi("Calcification", [CALC_POINTS_XY[1]]),
        _roi("Calcification", CALC_POLYGON_XY), _roi("Cluster", CLUSTER_POLYGON_XY), _roi("Mass", CALC_POLYGON_XY)])
    inbreast_xml(root / "AllXML" / "22678700.xml", [_roi("Mass", CLUSTER_POLYGON_XY)])
    (root / "INbreast.csv").write_text("Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads\n"
                                       "removed;removed;R;CC;200908;22678622;2;4c\nremoved;removed;L;CC;200908;22678700;2;2\n")
    return images


def pairs_replica(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """PNG pairs beside each other and NRRD pairs in a sub-folder; returns {id: (image, mask)}."""
    import SimpleITK as sitk

    rng = np.random.default_rng(2)
    out = {}
    for rel, suffix in (("P01_a", ".png"), ("P01_b", ".png"), ("sub/P02_c", ".nrrd")):
        img = rng.integers(10, 250, (40, 30)).astype(np.uint8)
        mask = np.zeros((40, 30), np.uint8)
        mask[5:9, 5:9] = 1
        path = root / f"{rel}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        for array, target in ((img, path), (mask * 255 if suffix == ".png" else mask, root / f"{rel}_mask{suffix}")):
            image = sitk.GetImageFromArray(array)
            if suffix == ".nrrd":
                image.SetSpacing((0.1, 0.1))
            sitk.WriteImage(image, str(target))
        out[rel.replace("/", "__")] = (img, mask)
    return out


def tiny_checkpoint(path: Path, spacing_mm: float = 0.1) -> Path:
    """A tiny untrained K=2 model with domain statistics, trained 'at' ``spacing_mm``: for tests of the plumbing
    around inference (folders, formats), not of accuracy."""
    import torch

    from MLNNetLib.augment import expand_domains
    from MLNNetLib.checkpoint import save_checkpoint
    from MLNNetLib.model import build_model
    from MLNNetLib.preprocess import prepare_image
    from MLNNetLib.selection import record_domain_statistics
    from test_segment_cli import phantom

    torch.manual_seed(0)
    model = build_model("tiny", num_domains=2)
    img01, breast = prepare_image(phantom(64, 64))
    stats = record_domain_statistics(model, [(torch.from_numpy(im)[None, None], torch.tensor([d]))
                                             for im, d in expand_domains(img01, breast, 2)])
    return save_checkpoint(path, model, {"spacing_mm": [spacing_mm, spacing_mm]}, stats)


if __name__ == "__main__":  # python Testing/replicas.py OUT: the three replicas, for trying `mlnnet prepare` by hand
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "replicas")
    cbis_replica(target / "cbis")
    inbreast_replica(target / "inbreast")
    pairs_replica(target / "pairs")
    print(f"wrote {target}/cbis, {target}/inbreast, {target}/pairs")
