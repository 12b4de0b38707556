"""``prepare inbreast ROOT``: INbreast's XML (plist) annotations beside its DICOMs.

Layout: ``AllDICOMs/<file id>_<patient hash>_MG_<L|R>_<CC|ML|MLO>_ANON.dcm`` and ``AllXML/<file id>.xml``
(found anywhere under ROOT), optionally ``INbreast.csv`` (``;``-separated: Laterality, View, File Name, ACR,
Bi-Rads). Each XML is an Apple plist: ``Images[0].ROIs[]`` with ``Name`` ("Calcification", "Cluster",
"Mass", ...), ``NumberOfPoints`` and ``Point_px`` strings ``"(x, y)"`` in pixel coordinates (x = column).

What becomes what:
- a calcification ROI with one point -> a calcification centre (label kind ``points``: traced by the
  library's level tracing when training);
- a calcification ROI with a contour (3+ points) -> its filled polygon, a pixel mask of that calcification
  (stored beside the points, ``mask`` of the points file, or as the label image when the case has no points);
- a cluster ROI -> an abnormality of type ``cluster`` with its bounding box (a region, not a mask);
- other ROIs (masses, asymmetries, ...) -> abnormalities of type ``other``, not in the label.
Images whose XML holds no calcification ROI are left out and listed in the manifest's ``skipped``
(``--negatives`` keeps them with an empty calcification mask); if no XML holds one, it is an error.
The patient id is the file name's second token (INbreast's anonymised patient hash); spacing comes from the
DICOM (PixelSpacing).
"""

from __future__ import annotations

import csv
import plistlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress, ensure

log = get_logger(__name__)

CALCIFICATION_NAMES = ("calcification", "calcifications")
CLUSTER_NAMES = ("cluster",)
DICOM_NAME = re.compile(r"^(?P<fid>\d+)_(?P<patient>[0-9A-Za-z]+)_MG_(?P<side>[LR])_(?P<view>[A-Z]+)_ANON", re.I)
POINT = re.compile(r"\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)")


def _points(roi: dict, xml: Path) -> np.ndarray:
    """(n, 2) (row, col) pixel coordinates of one ROI."""
    out = []
    for text in roi.get("Point_px") or []:
        m = POINT.search(str(text))
        if not m:
            raise InputError(xml, f"ROI {roi.get('Name')!r}: unreadable point {text!r} (expected '(x, y)')")
        x, y = float(m.group(1)), float(m.group(2))
        out.append((y, x))
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def read_rois(xml: Path) -> list[dict[str, Any]]:
    """Every ROI of the XML's first image as {name, points (n, 2) row/col}."""
    try:
        with xml.open("rb") as f:
            data = plistlib.load(f)
        images = data["Images"]
        rois = images[0]["ROIs"] if images else []
    except (OSError, plistlib.InvalidFileException, KeyError, TypeError, IndexError, ValueError) as exc:
        raise InputError(xml, f"not an INbreast annotation plist (Images[0].ROIs missing or unreadable: {exc})") from None
    return [{"name": str(r.get("Name", "")).strip(), "points": _points(r, xml)} for r in rois]


def _kind(name: str) -> str:
    low = name.lower()
    if low in CALCIFICATION_NAMES:
        return "calcification"
    if low in CLUSTER_NAMES:
        return "cluster"
    return "other"


def fill_polygon(points_rc: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre lies inside the polygon plus the pixels its edges pass through (thin outlines stay)."""
    from matplotlib.path import Path as MplPath

    mask = np.zeros(shape, bool)
    r0, c0 = np.floor(points_rc.min(0)).astype(int)
    r1, c1 = np.ceil(points_rc.max(0)).astype(int) + 1
    r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, shape[0]), min(c1, shape[1])
    if r1 > r0 and c1 > c0:
        rr, cc = np.mgrid[r0:r1, c0:c1]
        inside = MplPath(points_rc[:, ::-1]).contains_points(np.column_stack([cc.ravel(), rr.ravel()]))
        mask[r0:r1, c0:c1] = inside.reshape(rr.shape)
    closed = np.vstack([points_rc, points_rc[:1]])
    for a, b in zip(closed[:-1], closed[1:]):
        steps = max(2, int(np.ceil(4 * np.abs(b - a).max())) + 1)  # quarter-pixel steps along the edge
        vr, vc = np.rint(np.linspace(a, b, steps)).astype(int).T
        ok = (vr >= 0) & (vr < shape[0]) & (vc >= 0) & (vc < shape[1])
        mask[vr[ok], vc[ok]] = True
    return mask


def _bbox(points_rc: np.ndarray) -> list[int]:
    r0, c0 = np.floor(points_rc.min(0)).astype(int)
    r1, c1 = np.ceil(points_rc.max(0)).astype(int) + 1
    return [int(r0), int(c0), int(r1), int(c1)]


def _table(root: Path) -> dict[str, dict[str, str]]:
    """INbreast.csv rows by file id (optional)."""
    path = next(iter(sorted(root.rglob("INbreast.csv"))), None)
    if path is None:
        return {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, delimiter=";")
        rows = {}
        for raw in reader:
            values = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if values.get("File Name"):
                rows[values["File Name"]] = values
    log.info("%s: %d rows", path, len(rows))
    return rows


def prepare_inbreast(root: str | Path, out: Path, negatives: bool = False, domain: str = "inbreast",
                     skip_bad: bool = False, overwrite: bool = False, staging: Path | None = None,
                     progress: Progress | None = None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Manifest items (absolute paths) and skipped inputs; writes points files and outline masks to ``out/labels``
    (into ``staging/labels`` when given, for the caller to move into place)."""
    from MLNNetLib.datasets.staging import refuse_existing
    from MLNNetLib.datasets.shapes import image_shape
    from MLNNetLib.datasets.spacing import header_spacing
    from MLNNetLib.image import Geometry
    from MLNNetLib.io import write_image
    from MLNNetLib.io.dicom_tags import is_dicom_file
    from MLNNetLib.labels.points import write_points

    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder (expected the INbreast release with AllDICOMs/ and AllXML/)")
    dicoms = {}
    for p in sorted(root.rglob("*.dcm")):
        m = DICOM_NAME.match(p.name)
        if m and is_dicom_file(p):
            dicoms[m.group("fid")] = (p, m)
    xmls = sorted(p for p in root.rglob("*.xml") if p.stem.isdigit())
    if not xmls:
        raise InputError(root, "no INbreast annotation XML (<file id>.xml) found")
    table = _table(root)
    progress = ensure(progress)
    skipped: list[dict[str, str]] = []
    planned = []
    for xml in xmls:
        if xml.stem not in dicoms:
            problem = f"no DICOM named {xml.stem}_<patient>_MG_<side>_<view>_ANON.dcm under {root}"
            if not skip_bad:
                raise InputError(xml, problem)
            skipped.append({"what": str(xml), "reason": problem})
            continue
        rois = read_rois(xml)
        calcs = [r for r in rois if _kind(r["name"]) == "calcification"]
        if not calcs and not negatives:
            names = sorted({r["name"] for r in rois}) or ["none"]
            skipped.append({"what": str(xml), "reason": f"no calcification ROIs (ROIs: {', '.join(names)})"})
            continue
        planned.append((xml, rois))
    if not planned:
        reasons = "; ".join(f"{Path(s['what']).name}: {s['reason']}" for s in skipped[:5])
        raise InputError(xmls[0] if len(xmls) == 1 else root, f"no INbreast annotation holds calcification ROIs ({reasons})")
    refuse_existing((out / "labels" / f"{xml.stem}{end}" for xml, _ in planned  # before any work
                     for end in (".points.json", "_outlines.nrrd")), overwrite)

    write_dir = (staging or out) / "labels"
    items = []
    for n, (xml, rois) in enumerate(planned):
        progress.step(n, len(planned), xml.stem)
        dcm, m = dicoms[xml.stem]
        shape = image_shape(dcm)
        spacing, source = header_spacing(dcm)
        points, outline = [], np.zeros(shape, bool)
        abnormalities = []
        for k, roi in enumerate(rois):
            kind, pts = _kind(roi["name"]), roi["points"]
            if len(pts) == 0:
                continue
            entry = {"id": k, "type": kind, "descriptors": {"name": roi["name"]}, "bbox": _bbox(pts)}
            if kind == "calcification" and len(pts) == 1:
                points.append(pts[0].tolist())
            elif kind == "calcification":
                outline |= fill_polygon(pts, shape)
            abnormalities.append(entry)
        geometry = Geometry.identity(tuple(spacing))
        if points:
            mask_rel = None
            if outline.any():
                mask_path = write_image(outline.astype(np.uint8), geometry, write_dir / f"{xml.stem}_outlines.nrrd",
                                        overwrite=overwrite)
                mask_rel = mask_path.name
            label = write_points(write_dir / f"{xml.stem}.points.json", points, overwrite, mask=mask_rel)
            kind = "points"
        else:
            label = write_image(outline.astype(np.uint8), geometry, write_dir / f"{xml.stem}_outlines.nrrd",
                                overwrite=overwrite)
            kind = "calcification"
        row = table.get(xml.stem, {})
        birads = row.get("Bi-Rads") or None
        items.append({
            "id": xml.stem, "patient_id": m.group("patient"), "image": str(dcm), "label": str(label), "label_kind": kind,
            "laterality": m.group("side").upper(), "view": m.group("view").upper(), "pathology": None,
            "birads": birads if birads and re.fullmatch(r"[0-6][a-cA-C]?", birads) else None,
            "descriptors": {"acr_density": row["ACR"]} if row.get("ACR") else {},
            "abnormalities": abnormalities, "spacing_mm": spacing, "spacing_source": source, "domain": domain,
        })
    progress.step(len(planned), len(planned), "done")
    log.info("%s: %d annotated images (%d with points), %d skipped", root, len(items),
             sum(1 for i in items if i["label_kind"] == "points"), len(skipped))
    return items, skipped
