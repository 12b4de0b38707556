"""``prepare pairs DIR``: a folder of images with their masks matched by name, in any readable format.

The pattern (documented in the README): an image ``NAME.EXT`` and its label ``NAME_mask.EXT2`` in the same
folder (suffixes tried in order: ``_mask``, ``_label``, ``_seg``; ``--label-suffix`` picks one), or the same
relative path under parallel ``images/`` and ``masks/`` (or ``labels/``) folders. Images without a label are
refused (``--allow-unlabelled`` lists them with label kind ``none``); a label whose image is missing is
refused. Patients: ``--patient-regex`` with one group taken from the image's relative path (e.g.
``'^(P\\d+)_'``); without it every image is its own patient, and a warning says that splits are then by image.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from MLNNetLib.datasets.spacing import header_spacing
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)

LABEL_SUFFIXES = ("_mask", "_label", "_seg")
IMAGE_DIRS, LABEL_DIRS = ("images",), ("masks", "labels")


def _readable(path: Path) -> bool:
    from MLNNetLib.io.dicom_tags import is_dicom_file
    from MLNNetLib.io.generic import HEADER_SUFFIXES, RASTER_SUFFIXES, suffix_of

    if path.name.startswith(".") or not path.is_file():
        return False
    return suffix_of(path) in HEADER_SUFFIXES + RASTER_SUFFIXES + (".dcm", ".dicom") or is_dicom_file(path)


def _stem(path: Path) -> str:
    from MLNNetLib.io.generic import suffix_of

    suffix = suffix_of(path)
    return path.name[: len(path.name) - len(suffix)] if suffix else path.name


def _case_id(rel: Path) -> str:
    """A file-name-safe id from the image's relative path without its suffix."""
    parts = [*rel.parent.parts, _stem(rel)]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(p for p in parts if p not in (".", ""))).lstrip("._-") or "case"


def find_pairs(root: Path, label_suffix: str | None = None) -> tuple[list[tuple[Path, Path | None]], list[Path]]:
    """(image, label or None) pairs and the labels that have no image."""
    suffixes = (label_suffix,) if label_suffix else LABEL_SUFFIXES
    files = sorted(p for p in root.rglob("*") if _readable(p))
    image_dir = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), None)
    label_dir = next((root / d for d in LABEL_DIRS if (root / d).is_dir()), None)
    pairs: list[tuple[Path, Path | None]] = []
    used: set[Path] = set()
    if image_dir is not None and label_dir is not None:
        labels = {p.relative_to(label_dir).with_name(_stem(p)): p for p in files if label_dir in p.parents}
        for img in (p for p in files if image_dir in p.parents):
            key = img.relative_to(image_dir).with_name(_stem(img))
            label = labels.get(key) or next((labels.get(key.with_name(key.name + s)) for s in suffixes
                                             if key.with_name(key.name + s) in labels), None)
            pairs.append((img, label))
            if label is not None:
                used.add(label)
        orphans = [p for p in labels.values() if p not in used]
        return pairs, orphans
    by_stem = {(p.parent, _stem(p)): p for p in files}
    label_like = {p for p in files if any(_stem(p).endswith(s) for s in suffixes)}
    for img in (p for p in files if p not in label_like):
        label = next((by_stem.get((img.parent, _stem(img) + s)) for s in suffixes if (img.parent, _stem(img) + s) in by_stem), None)
        pairs.append((img, label))
        if label is not None:
            used.add(label)
    return pairs, sorted(label_like - used)


def prepare_pairs(root: str | Path, label_kind: str = "calcification", label_suffix: str | None = None,
                  patient_regex: str | None = None, spacing_mm: float | None = None, domain: str | None = None,
                  allow_unlabelled: bool = False) -> list[dict[str, Any]]:
    """Manifest items (absolute paths) for a pairs folder; InputError naming the file for anything unmatched."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    if label_kind not in ("calcification", "region", "points"):
        raise InputError(None, f"label kind must be calcification, region or points, got {label_kind!r}")
    pattern = re.compile(patient_regex) if patient_regex else None
    pairs, orphans = find_pairs(root, label_suffix)
    if orphans:
        raise InputError(orphans[0], f"label without an image ({len(orphans)} such file(s)); expected the image beside it "
                                     f"without the suffix {label_suffix or ' / '.join(LABEL_SUFFIXES)}")
    if not pairs:
        raise InputError(root, "no readable images found")
    items = []
    for img, label in pairs:
        if label is None and not allow_unlabelled:
            raise InputError(img, f"no label found (expected {_stem(img)}{label_suffix or '_mask'}.* beside it, or the same "
                                  "name under masks/); pass --allow-unlabelled to list it without a label")
        rel = img.relative_to(root)
        if pattern is not None:
            match = pattern.search(rel.as_posix())
            if not match:
                raise InputError(img, f"--patient-regex {pattern.pattern!r} does not match {rel.as_posix()!r}")
            patient = match.group(1) if match.groups() else match.group(0)
        else:
            patient = _case_id(rel)
        spacing, source = header_spacing(img, spacing_mm)
        items.append({"id": _case_id(rel), "patient_id": patient, "image": str(img), "label": str(label) if label else None,
                      "label_kind": label_kind if label else "none", "spacing_mm": spacing, "spacing_source": source,
                      "domain": domain or "pairs", "laterality": None, "view": None})
    if pattern is None:
        log.warning("%s: no --patient-regex: every image is its own patient, so splits are by image", root)
    log.info("%s: %d images, %d with labels", root, len(items), sum(1 for i in items if i["label"]))
    return items
