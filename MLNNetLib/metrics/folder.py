"""Folder evaluation: every prediction of a folder against its reference (a folder of masks, or a manifest), one
row per case, and the aggregate (``MLNNetLib.metrics.aggregate``).

Pairing by case id:
- predictions: files named ``<id>_calc.<ext>`` (what ``segment --output DIR`` writes, NRRD or DICOM SEG), ``<id>``
  being the path relative to the folder;
- ``--ref DIR``: mask files named ``<id>.<ext>`` or ``<id>_mask|_label|_seg.<ext>``, relative to that folder;
- ``--manifest``: the cases' labels by manifest id, with their metadata for the groups (domain, pathology, label
  kind, subset). Calcification labels are scored with every metric; point labels are first traced into masks
  (the library's level tracing, as training does); region labels with the region-level scores of
  ``metrics.regions`` (pixel metrics undefined).
A case present on one side only is a row with status ``missing_pred`` or ``missing_ref`` (never dropped); a case
whose files cannot be read or do not match is ``failed`` with the reason.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.metrics.aggregate import grouped, pooled, summarise
from MLNNetLib.metrics.evaluate import METRIC_KEYS, evaluate_masks
from MLNNetLib.progress import Progress, ensure

log = get_logger(__name__)

PRED_TAG = "_calc"
REF_TAGS = ("_mask", "_label", "_seg")
SCORE_KEYS = [k for k in METRIC_KEYS if k != "empty"] + ["region_sensitivity", "region_precision",
                                                          "region_cluster_sensitivity"]
GROUP_FIELDS = ("domain", "pathology", "label_kind", "subset")
CSV_FIELDS = (["case_id", "status", "pred", "ref", "label_kind", "domain", "pathology", "subset"] + SCORE_KEYS
              + ["empty", "ref_lesions", "pred_lesions", "ref_clusters", "pred_clusters", "error"])
CASES_CSV, SUMMARY_JSON = "evaluation_cases.csv", "evaluation_summary.json"


@dataclass
class Reference:
    id: str
    label: Path | None
    kind: str = "calcification"
    meta: dict[str, Any] = field(default_factory=dict)


def _split_name(path: Path) -> tuple[str, str]:
    """(name without its image suffix, suffix); DICOM SEG files keep '.seg.dcm' together."""
    from MLNNetLib.io.generic import suffix_of

    name = path.name
    if name.lower().endswith(".seg.dcm"):
        return name[: -len(".seg.dcm")], ".seg.dcm"
    suffix = suffix_of(path)
    return (name[: -len(suffix)], suffix) if suffix else (name, "")


def _mask_like(path: Path) -> bool:
    from MLNNetLib.io.generic import HEADER_SUFFIXES, RASTER_SUFFIXES

    stem, suffix = _split_name(path)
    return not path.name.startswith(".") and (suffix in HEADER_SUFFIXES + RASTER_SUFFIXES + (".seg.dcm", ".dcm"))


def prediction_files(pred_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(pred_dir.rglob("*")):
        if not p.is_file() or not _mask_like(p):
            continue
        stem, _ = _split_name(p)
        if stem.endswith(PRED_TAG):
            key = (p.relative_to(pred_dir).parent / stem[: -len(PRED_TAG)]).as_posix()
            if key in found:
                raise InputError(p, f"two predictions for case {key!r} ({found[key].name} and {p.name})")
            found[key] = p
    return found


def reference_files(ref_dir: Path) -> dict[str, Reference]:
    found: dict[str, Reference] = {}
    tags = re.compile("(" + "|".join(re.escape(t) for t in REF_TAGS) + ")$")
    for p in sorted(ref_dir.rglob("*")):
        if not p.is_file() or not _mask_like(p):
            continue
        stem, _ = _split_name(p)
        key = (p.relative_to(ref_dir).parent / tags.sub("", stem)).as_posix()
        if key in found:
            raise InputError(p, f"two references for case {key!r} ({found[key].label.name} and {p.name})")
        found[key] = Reference(key, p)
    return found


def manifest_references(path: str | Path) -> dict[str, Reference]:
    from MLNNetLib.datasets.manifest import load_manifest

    refs = {}
    for item in load_manifest(path).items:
        refs[str(item["id"])] = Reference(str(item["id"]), Path(item["label"]) if item.get("label") else None,
                                          item.get("label_kind", "calcification"), item)
    return refs


def _read_prediction(path: Path):
    """(mask array, Image or None): DICOM SEG frames carry no geometry of their own."""
    from MLNNetLib.io import read_mask

    if path.name.lower().endswith(".seg.dcm"):
        from MLNNetLib.io.dicom_seg import read_dicom_seg

        frames, _ = read_dicom_seg(path)
        return (frames[0] if len(frames) == 1 else frames), None
    image = read_mask(path)
    return image.array, image


def _spacing(ref: Reference, pred_image) -> tuple[float, ...]:
    if pred_image is not None and pred_image.meta.get("spacing_source") != "default":
        return tuple(pred_image.spacing)
    if ref.meta.get("spacing_mm"):
        return tuple(float(s) for s in ref.meta["spacing_mm"])
    if pred_image is not None:
        return tuple(pred_image.spacing)
    raise InputError(ref.label, "no pixel spacing: the prediction is a DICOM SEG and the reference has none")


def _reference_mask(ref: Reference, pred: np.ndarray, pred_image) -> np.ndarray:
    from MLNNetLib.io import read_image, read_mask

    if ref.kind == "points":
        from MLNNetLib.labels.policy import LabelPolicy, calcification_target
        from MLNNetLib.preprocess import prepare_image

        image = read_image(ref.meta["image"], default_spacing=min(ref.meta["spacing_mm"]))
        img01, breast = prepare_image(image.array)
        mask, _ = calcification_target(ref.meta, image, img01, breast, LabelPolicy())
        return mask
    label = (read_mask(ref.label, like=pred_image) if pred_image is not None else read_mask(ref.label)).array
    if label.shape != pred.shape:
        raise InputError(ref.label, f"reference is {label.shape} but the prediction is {pred.shape}")
    return label


def evaluate_case(pred_path: Path, ref: Reference, clusters: bool = True) -> dict[str, Any]:
    from MLNNetLib.metrics.regions import evaluate_regions

    pred, pred_image = _read_prediction(pred_path)
    spacing = _spacing(ref, pred_image)
    target = _reference_mask(ref, pred, pred_image)
    if target.shape != pred.shape:
        raise InputError(pred_path, f"prediction is {pred.shape} but the reference is {target.shape}")
    if ref.kind == "region":
        if pred.ndim != 2:
            raise InputError(pred_path, "region references are scored on 2-D images only")
        return evaluate_regions(pred, target, spacing[-2:])
    return evaluate_masks(pred, target, spacing, clusters=clusters)


def _row(case_id: str, status: str, pred: Path | None, ref: Reference | None, result: dict | None = None,
         error: str | None = None) -> dict[str, Any]:
    meta = ref.meta if ref is not None else {}
    row: dict[str, Any] = {"case_id": case_id, "status": status, "pred": str(pred) if pred else None,
                           "ref": str(ref.label) if ref is not None and ref.label else None,
                           "label_kind": ref.kind if ref is not None else None, "domain": meta.get("domain"),
                           "pathology": meta.get("pathology"), "subset": meta.get("subset"), "error": error}
    if result is not None:
        row.update({k: result.get(k) for k in SCORE_KEYS}, empty=result.get("empty"), counts=result.get("counts"))
        counts = result.get("counts") or {}
        lesions, cl = counts.get("lesions") or {}, counts.get("clusters") or {}
        row.update(ref_lesions=lesions.get("n_ref"), pred_lesions=lesions.get("n_pred"), ref_clusters=cl.get("n_ref"),
                   pred_clusters=cl.get("n_pred", counts.get("pred_clusters")))
    return row


def evaluate_folder(pred_dir: str | Path, ref_dir: str | Path | None = None, manifest: str | Path | None = None,
                    clusters: bool = True, progress: Progress | None = None) -> tuple[list[dict], dict[str, Any]]:
    """(per-case rows, aggregate) of every case on either side."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise InputError(pred_dir, "prediction folder does not exist")
    if (ref_dir is None) == (manifest is None):
        raise InputError(None, "give the references as --ref DIR or --manifest MANIFEST (one of them)")
    if ref_dir is not None and not Path(ref_dir).is_dir():
        raise InputError(ref_dir, "reference folder does not exist")
    preds = prediction_files(pred_dir)
    refs = manifest_references(manifest) if manifest is not None else reference_files(Path(ref_dir))
    if not preds:
        raise InputError(pred_dir, f"no predictions (<id>{PRED_TAG}.<ext>, as `segment --output DIR` writes) found")
    progress = ensure(progress)
    ids = sorted(set(preds) | set(refs))
    rows = []
    for n, cid in enumerate(ids):
        progress.step(n, len(ids), cid)
        pred, ref = preds.get(cid), refs.get(cid)
        if pred is None:
            rows.append(_row(cid, "missing_pred", None, ref, error="no prediction for this reference case"))
        elif ref is None:
            rows.append(_row(cid, "missing_ref", pred, None, error="no reference for this prediction"))
        elif ref.label is None or ref.kind == "none":
            rows.append(_row(cid, "missing_ref", pred, ref, error="the manifest case has no label"))
        else:
            try:
                rows.append(_row(cid, "ok", pred, ref, evaluate_case(pred, ref, clusters)))
            except InputError as exc:
                rows.append(_row(cid, "failed", pred, ref, error=str(exc)))
                log.warning("%s: %s", cid, exc)
    progress.step(len(ids), len(ids), "done")
    return rows, aggregate(rows)


def aggregate(rows: list[dict]) -> dict[str, Any]:
    ok = [r for r in rows if r["status"] == "ok"]
    by_status = {s: [r["case_id"] for r in rows if r["status"] == s] for s in ("missing_pred", "missing_ref", "failed")}
    return {"cases": len(rows), "evaluated": len(ok), **by_status,
            "metrics": summarise(ok, SCORE_KEYS),
            "pooled": {level: pooled(ok, level) for level in ("lesions", "clusters", "regions")},
            "groups": grouped(ok, SCORE_KEYS, GROUP_FIELDS),
            "undefined_policy": "None (e.g. cluster sensitivity without reference clusters, pixel metrics against a region "
                                "outline) is left out of the mean and std and counted as 'undefined'"}


def write_outputs(rows: list[dict], summary: dict, out: Path, overwrite: bool) -> tuple[Path, Path]:
    """The per-case CSV and the aggregate JSON, written together (both checked first)."""
    from MLNNetLib.atomic import check_writable, write_text

    cases, agg = out / CASES_CSV, out / SUMMARY_JSON
    for p in (cases, agg):
        check_writable(p, overwrite)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r[k]) for k in CSV_FIELDS})
    write_text(cases, buf.getvalue(), overwrite)
    write_text(agg, json.dumps(summary, indent=1, allow_nan=False) + "\n", overwrite)
    return cases, agg


def output_targets(out: Path) -> list[Path]:
    return [out / CASES_CSV, out / SUMMARY_JSON]
