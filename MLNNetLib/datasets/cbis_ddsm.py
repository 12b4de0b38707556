"""``prepare cbis-ddsm ROOT``: the collection as downloaded (description CSVs + DICOM files in per-case folders).

What the download looks like and what is done about it:
- Four CSVs, ``{calc,mass}_case_description_{train,test}_set.csv`` (columns: patient_id, breast density /
  breast_density, left or right breast, image view, abnormality id, abnormality type, calc type, calc
  distribution / mass shape, mass margins, assessment, pathology, subtlety, image file path, cropped image file
  path, ROI mask file path).
- The CSV's file paths (``Calc-Training_P_00005_RIGHT_CC/1.3.6.../1.3.6.../000000.dcm``) do not match the
  downloaded folders (``Calc-Training_P_00005_RIGHT_CC/08-07-2016-DDSM-23157/1.000000-full mammogram
  images-38548/1-1.dcm``) beyond their first component, the case folder name. Files are therefore found by
  that name anywhere under ROOT, and every DICOM inside the folder is considered.
- The "ROI mask" path sometimes names the cropped image (and the crop and mask sit in one folder): the mask
  is chosen by content, the one file of the full mammogram's size whose pixels are binary; the small grey
  one is the crop. A folder with no such file is an error naming the row and the folder.
- Several abnormalities of one image are merged into one label image (their union); each keeps its own
  pathology, BI-RADS assessment, descriptors and bounding box in ``abnormalities``.
- Calcification ROIs in CBIS-DDSM are loose outlines (the curators refined only the mass outlines): label kind
  ``region``. Mass outlines (``--abnormality mass``) are ``region`` too.
- The scans carry no pixel spacing; ``--spacing`` (default the library's 0.05 mm, the digitisation pitch)
  is recorded with its source.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress, ensure

log = get_logger(__name__)

ABNORMALITIES = {"calcification": "calc", "mass": "mass"}
SUBSETS = {"train": "train", "test": "test"}
COMMON_COLUMNS = ("patient_id", "left or right breast", "image view", "abnormality id", "abnormality type",
                  "assessment", "pathology", "subtlety", "image file path", "cropped image file path", "ROI mask file path")
DESCRIPTOR_COLUMNS = {"calc": ("calc type", "calc distribution"), "mass": ("mass shape", "mass margins")}
DENSITY_COLUMNS = ("breast density", "breast_density")  # the calc CSVs use a space, the mass CSVs an underscore
CASE_FOLDER = re.compile(r"^(Calc|Mass)-(Training|Test)_P_\d+_(LEFT|RIGHT)_(CC|MLO)(_\d+)?$")
PATHOLOGY_ORDER = {"benign_without_callback": 0, "benign": 1, "malignant": 2}


@dataclass
class Row:
    csv: Path
    line: int
    values: dict[str, str]
    kind: str  # "calc" | "mass"
    subset: str

    def where(self) -> str:
        v = self.values
        return (f"{self.csv.name} line {self.line} ({v['patient_id']} {v['left or right breast']} {v['image view']}, "
                f"abnormality {v['abnormality id']})")


@dataclass
class Abnormality:
    row: Row
    mask: np.ndarray  # bool, full image size


@dataclass
class ImageGroup:
    case_id: str
    image: Path
    rows: list[Row] = field(default_factory=list)


def _csv_name(kind: str, subset: str) -> str:
    return f"{kind}_case_description_{subset}_set.csv"


def read_rows(csv_dir: Path, kinds: list[str], subsets: list[str]) -> list[Row]:
    rows = []
    for kind in kinds:
        for subset in subsets:
            path = csv_dir / _csv_name(kind, subset)
            if not path.is_file():
                raise InputError(path, f"CBIS-DDSM description CSV not found (needed for {kind} / {subset}; "
                                       "pass --csv-dir if the CSVs are elsewhere, or choose --subset/--abnormality)")
            with path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                columns = [c.strip() for c in reader.fieldnames or []]
                missing = [c for c in COMMON_COLUMNS + DESCRIPTOR_COLUMNS[kind] if c not in columns]
                if not any(c in columns for c in DENSITY_COLUMNS):
                    missing.append("breast density")
                if missing:
                    raise InputError(path, f"not a CBIS-DDSM description CSV: missing column(s) {missing}")
                for n, raw in enumerate(reader, start=2):
                    values = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
                    rows.append(Row(path, n, values, kind, subset))
    return rows


def case_folders(root: Path) -> dict[str, Path]:
    """Case folder name -> folder, for every CBIS-DDSM case folder below ``root`` (first one wins, logged)."""
    found: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.is_dir() and CASE_FOLDER.match(p.name):
            if p.name in found:
                log.warning("%s: case folder %s appears twice; using %s", root, p.name, found[p.name])
                continue
            found[p.name] = p
    return found


def _first_component(value: str) -> str:
    return value.replace("\\", "/").strip().strip("/").split("/")[0].strip()


def _dicoms(folder: Path) -> list[Path]:
    from MLNNetLib.io.dicom_tags import is_dicom_file

    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".") and is_dicom_file(p))


def _full_image(row: Row, folders: dict[str, Path], root: Path) -> Path:
    name = _first_component(row.values["image file path"])
    folder = folders.get(name)
    if folder is None:
        raise InputError(root, f"{row.where()}: no folder named {name} (the full mammogram's case folder) under {root}")
    files = _dicoms(folder)
    if len(files) != 1:
        found = "no DICOM file" if not files else f"{len(files)} DICOM files ({', '.join(f.name for f in files[:4])})"
        raise InputError(folder, f"{row.where()}: {found} in the full mammogram's folder; expected exactly one")
    return files[0]


def _roi_mask(row: Row, folders: dict[str, Path], root: Path, shape: tuple[int, int]) -> tuple[np.ndarray, Path]:
    """The binary file of the full image's size among the ROI and crop folders' DICOMs (chosen by content)."""
    from MLNNetLib.io.dicom import read_dicom_file
    from MLNNetLib.io.dicom_tags import parse_header, read_header

    names = {_first_component(row.values["ROI mask file path"]), _first_component(row.values["cropped image file path"])}
    folders_here = [folders[n] for n in sorted(names) if n in folders]
    if not folders_here:
        raise InputError(root, f"{row.where()}: no folder named {' or '.join(sorted(names))} (ROI mask / crop) under {root}")
    files = sorted({f for folder in folders_here for f in _dicoms(folder)})
    if not files:
        raise InputError(folders_here[0], f"{row.where()}: no DICOM file in the ROI mask / crop folder")
    sizes = {}
    for f in files:
        h = parse_header(read_header(f), f)
        sizes[f] = (h.rows, h.columns)
    candidates = [f for f in files if sizes[f] == tuple(shape)]
    if not candidates:
        seen = ", ".join(f"{f.name} {s[0]}x{s[1]}" for f, s in sizes.items())
        raise InputError(folders_here[0], f"{row.where()}: no file of the full mammogram's size {shape[0]}x{shape[1]} "
                                          f"among {seen}: the ROI mask is missing or of another size")
    for f in candidates:
        values = read_dicom_file(f).array
        uniq = np.unique(values)
        if uniq.size <= 2:
            if uniq.size == 1:
                raise InputError(f, f"{row.where()}: the ROI mask is empty (one value {uniq[0]:g})")
            stated = Path(row.values["ROI mask file path"].replace("\\", "/")).name
            if stated and stated != f.name:
                log.info("%s: the CSV's ROI mask path names %s; by content the mask is %s", row.where(), stated, f.name)
            return values > uniq[0], f
    raise InputError(candidates[0], f"{row.where()}: the file of the full image's size is not binary "
                                    f"({np.unique(read_dicom_file(candidates[0]).array).size} values): not an ROI mask")


def _pathology(value: str) -> str | None:
    v = value.strip().lower()
    return v if v in PATHOLOGY_ORDER else None


def _birads(value: str) -> str | None:
    v = value.strip()
    return v if re.fullmatch(r"[0-6]", v) else None


def _abnormality(ab: Abnormality) -> dict[str, Any]:
    v = ab.row.values
    rows, cols = np.nonzero(ab.mask)
    descriptors = {c.replace(" ", "_"): v[c] for c in DESCRIPTOR_COLUMNS[ab.row.kind] if v.get(c)}
    if v.get("subtlety"):
        descriptors["subtlety"] = v["subtlety"]
    return {"id": v["abnormality id"], "type": "calcification" if ab.row.kind == "calc" else "mass",
            "pathology": _pathology(v["pathology"]), "birads": _birads(v["assessment"]), "descriptors": descriptors,
            "bbox": [int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1]}


def _worst(values: list[str | None], order: dict[str, int]) -> str | None:
    known = [v for v in values if v is not None]
    return max(known, key=lambda v: order[v]) if known else None


def prepare_cbis_ddsm(root: str | Path, out: Path, abnormality: str = "calcification", subset: str = "all",
                      csv_dir: str | Path | None = None, spacing_mm: float | None = None, domain: str = "cbis-ddsm",
                      skip_bad: bool = False, overwrite: bool = False, staging: Path | None = None,
                      progress: Progress | None = None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Manifest items (absolute paths) and skipped inputs; writes one merged label image per mammogram
    into ``out/labels/`` (written into ``staging/labels`` when given, for the caller to move into place). InputError (naming the row and the file) for anything that does not fit, unless
    ``skip_bad``, which records the row in ``skipped`` instead."""
    from MLNNetLib.datasets.staging import refuse_existing
    from MLNNetLib.datasets.shapes import image_shape
    from MLNNetLib.datasets.spacing import header_spacing
    from MLNNetLib.image import Geometry
    from MLNNetLib.io import write_image

    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder (expected the downloaded CBIS-DDSM collection)")
    kinds = list(ABNORMALITIES.values()) if abnormality == "both" else [ABNORMALITIES[abnormality]]
    subsets = list(SUBSETS) if subset == "all" else [subset]
    rows = read_rows(Path(csv_dir) if csv_dir else root, kinds, subsets)
    folders = case_folders(root)
    log.info("%s: %d CSV rows, %d case folders", root, len(rows), len(folders))
    progress = ensure(progress)
    skipped: list[dict[str, str]] = []

    groups: dict[str, ImageGroup] = {}
    for row in rows:
        try:
            image = _full_image(row, folders, root)
        except InputError as exc:
            if not skip_bad:
                raise
            skipped.append({"what": row.where(), "reason": exc.problem})
            continue
        case_id = _first_component(row.values["image file path"])
        groups.setdefault(case_id, ImageGroup(case_id, image)).rows.append(row)
    refuse_existing((out / "labels" / f"{g.case_id}.nrrd" for g in groups.values()), overwrite)  # before any work

    write_dir = (staging or out) / "labels"
    items = []
    for n, g in enumerate(sorted(groups.values(), key=lambda g: g.case_id)):
        progress.step(n, len(groups), g.case_id)
        shape = image_shape(g.image)
        abnormalities: list[Abnormality] = []
        for row in g.rows:
            try:
                mask, _ = _roi_mask(row, folders, root, shape)
            except InputError as exc:
                if not skip_bad:
                    raise
                skipped.append({"what": row.where(), "reason": exc.problem})
                continue
            abnormalities.append(Abnormality(row, mask))
        if not abnormalities:
            continue
        spacing, source = header_spacing(g.image, spacing_mm)
        label = np.zeros(shape, np.uint8)
        for ab in abnormalities:
            label[ab.mask] = 1
        label_path = write_image(label, Geometry.identity(tuple(spacing)), write_dir / f"{g.case_id}.nrrd",
                                 overwrite=overwrite)
        v = g.rows[0].values
        listed = [_abnormality(ab) for ab in abnormalities]
        density = next((v[c] for c in DENSITY_COLUMNS if v.get(c)), None)
        birads = [a["birads"] for a in listed if a["birads"] is not None]
        items.append({
            "id": g.case_id, "patient_id": v["patient_id"], "image": str(g.image), "label": str(label_path),
            "label_kind": "region", "laterality": {"LEFT": "L", "RIGHT": "R"}.get(v["left or right breast"].upper()),
            "view": v["image view"].upper() or None,
            "pathology": _worst([a["pathology"] for a in listed], PATHOLOGY_ORDER),
            "birads": max(birads) if birads else None,
            "descriptors": {"breast_density": density} if density else {},
            "abnormalities": listed, "spacing_mm": spacing, "spacing_source": source, "domain": domain,
            "subset": g.rows[0].subset,
        })
    progress.step(len(groups), len(groups), "done")
    if not items:
        raise InputError(root, f"no usable CBIS-DDSM case ({len(skipped)} row(s) skipped)")
    log.info("%s: %d mammograms with %d abnormalities; %d row(s) skipped", root, len(items),
             sum(len(i["abnormalities"]) for i in items), len(skipped))
    return items, skipped

