"""Folder in, folder out: segment every case of a folder (or a manifest) with one loaded model.

Per case ``OUT/<id>_calc.nrrd`` (or ``_calc.seg.dcm`` with ``fmt="dicom-seg"``), ``OUT/<id>_calc.json`` (the
single-image summary plus the case id and calcification/cluster counts) and optionally ``OUT/<id>_overlay.png``
and ``OUT/<id>_prob.nrrd``; ``<id>`` is the input's relative path without suffix (or the manifest id), so the
output tree mirrors the input tree. A case's files are written to temporary names and renamed together, its JSON
last: a case is finished exactly when its JSON exists, and a rerun skips finished cases (unless ``overwrite``),
so an interrupted run resumes. A case that fails (unreadable file, too small, ...) is recorded and the others
go on. ``OUT/summary.csv`` lists every case (done, skipped as already done, failed) and is rewritten after each
case; it is replaced only if it is one of ours (same header) or with ``overwrite``.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from MLNNetLib.atomic import write_text
from MLNNetLib.errors import InputError
from MLNNetLib.inference.discover import FolderCase
from MLNNetLib.log import get_logger
from MLNNetLib.progress import Progress, ensure

log = get_logger(__name__)

SUMMARY_CSV = "summary.csv"
SUMMARY_FIELDS = ["case_id", "input", "status", "mask", "summary", "overlay", "branch", "selection", "ood",
                  "foreground_pixels", "calcifications", "clusters", "seconds", "warnings", "error"]
FORMATS = ("nrrd", "dicom-seg")


@dataclass
class BatchOptions:
    selection: str | int = "cosine"
    inference: Any = None  # InferenceOptions
    fmt: str = "nrrd"
    overlay: bool = False
    probability: bool = False
    overwrite: bool = False
    default_spacing: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def output_paths(case_id: str, out: Path, opts: BatchOptions) -> dict[str, Path]:
    base = out / case_id
    paths = {"summary": base.with_name(base.name + "_calc.json"),
             "mask": base.with_name(base.name + ("_calc.seg.dcm" if opts.fmt == "dicom-seg" else "_calc.nrrd"))}
    if opts.overlay:
        paths["overlay"] = base.with_name(base.name + "_overlay.png")
    if opts.probability:
        paths["probability"] = base.with_name(base.name + "_prob.nrrd")
    return paths


def _state(paths: dict[str, Path], overwrite: bool) -> str:
    """done | todo | unfinished (outputs without the JSON that marks a finished case)."""
    if overwrite:
        return "todo"
    if paths["summary"].exists() and all(p.exists() for p in paths.values()):
        return "done"
    if any(p.exists() for p in paths.values()):
        return "unfinished"
    return "todo"


def _check_summary_csv(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        first = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
        if first != [",".join(SUMMARY_FIELDS)]:
            raise FileExistsError(f"{path}: already exists and is not a summary of this command; not overwriting it "
                                  "(pass --overwrite or choose another --output)")


def _write_summary_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in SUMMARY_FIELDS})
    write_text(path, buf.getvalue(), overwrite=True)


def _row_from_summary(case: FolderCase, paths: dict[str, Path], status: str) -> dict:
    data = json.loads(paths["summary"].read_text(encoding="utf-8"))
    return {"case_id": case.id, "input": str(case.source), "status": status, "mask": str(paths["mask"]),
            "summary": str(paths["summary"]), "overlay": str(paths.get("overlay", "")) or None,
            "branch": data.get("branch"), "selection": data.get("selection"), "ood": data.get("ood"),
            "foreground_pixels": data.get("foreground_pixels"), "calcifications": data.get("calcifications"),
            "clusters": data.get("clusters"), "seconds": data.get("seconds"),
            "warnings": " | ".join(data.get("image_warnings") or []), "error": None}


def _segment_one(ckpt: Any, case: FolderCase, paths: dict[str, Path], opts: BatchOptions) -> dict:
    import numpy as np

    from MLNNetLib.inference import segment_image
    from MLNNetLib.io import read_image, write_image
    from MLNNetLib.quantify.clusters import find_clusters

    start = time.perf_counter()
    case_plan(case, paths, opts).validate()  # before the image is read: writable, right formats, not an input
    image = read_image(case.source, default_spacing=opts.default_spacing)
    if opts.fmt == "dicom-seg" and image.meta.get("format") != "DICOM":
        raise InputError(case.source, "--format dicom-seg needs a DICOM input; this file is not DICOM")
    result = segment_image(ckpt, image, selection=opts.selection, options=opts.inference)
    planes = result.mask if result.mask.ndim == 3 else result.mask[None]
    calcs = clusters = 0
    for plane in planes:
        found = find_clusters(plane, image.spacing[-2:])
        calcs, clusters = calcs + found.n_components, clusters + found.n_clusters
    summary = {"case_id": case.id, "input": str(case.source), "model": str(getattr(ckpt, "path", "")),
               "mask": str(paths["mask"]), "format": opts.fmt, "overlay": str(paths["overlay"]) if "overlay" in paths else None,
               "probability": str(paths["probability"]) if "probability" in paths else None,
               "spacing_mm": list(image.spacing), "image_warnings": list(image.warnings),
               "foreground_pixels": int(np.count_nonzero(result.mask)), "calcifications": calcs, "clusters": clusters,
               **result.summary()}
    summary["seconds"] = round(time.perf_counter() - start, 3)
    with case_plan(case, paths, opts):  # staged and renamed together, the JSON last
        if opts.fmt == "dicom-seg":
            from MLNNetLib.io.dicom_seg import write_dicom_seg

            write_dicom_seg(result.mask, image.meta.get("files") or [image.path], paths["mask"], overwrite=opts.overwrite)
        else:
            write_image(result.mask, image.geometry, paths["mask"], overwrite=opts.overwrite)
        if "probability" in paths:
            write_image(result.probability, image.geometry, paths["probability"], overwrite=opts.overwrite)
        if "overlay" in paths:
            from MLNNetLib.inference.overlay import write_overlay

            branch = "union" if result.branch is None else f"branch {result.branch}"
            write_overlay(paths["overlay"], image.array, result.mask, image.spacing[-2:], f"{case.id} ({branch})",
                          overwrite=opts.overwrite)
        write_text(paths["summary"], json.dumps(summary, indent=2, allow_nan=False) + "\n", overwrite=opts.overwrite)
    return summary


def case_plan(case: FolderCase, paths: dict[str, Path], opts: BatchOptions):
    """The OutputPlan of one case (MLNNetLib.outputs): declared outputs, validated, committed together; the
    summary JSON is declared last, so it is renamed last and marks the case as finished."""
    from MLNNetLib.outputs import OutputPlan

    plan = OutputPlan(opts.overwrite, inputs=[case.source])
    if opts.fmt == "dicom-seg":
        plan.file(paths["mask"], "dicom", option="mask")
    else:
        plan.image(paths["mask"], "uint8", option="mask")
    if "probability" in paths:
        plan.image(paths["probability"], "float32", option="probability")
    if "overlay" in paths:
        plan.file(paths["overlay"], "figure", option="overlay")
    plan.file(paths["summary"], "json", option="summary")
    return plan


def segment_cases(ckpt: Any, cases: list[FolderCase], out: Path, opts: BatchOptions,
                  problems: list[tuple[Path, str]] | None = None, progress: Progress | None = None) -> list[dict]:
    """Segment ``cases`` into ``out``; returns one summary row per case (and per discovery problem).

    ``ckpt`` is a loaded checkpoint or a function loading it: then it is loaded once, when the first case needs
    work (a rerun over finished cases loads no model)."""
    if opts.fmt not in FORMATS:
        raise InputError(None, f"--format must be one of {FORMATS}, got {opts.fmt!r}")
    out = Path(out)
    _check_summary_csv(out / SUMMARY_CSV, opts.overwrite)
    progress = ensure(progress)
    rows: list[dict] = [{"case_id": p.name, "input": str(p), "status": "failed", "error": reason} for p, reason in problems or []]
    for n, case in enumerate(cases):
        progress.step(n, len(cases), case.id)
        paths = output_paths(case.id, out, opts)
        state = _state(paths, opts.overwrite)
        if state == "done":
            rows.append(_row_from_summary(case, paths, "skipped (done)"))
            log.info("%s: finished in an earlier run; skipped (--overwrite redoes it)", case.id)
        elif state == "unfinished":
            existing = ", ".join(p.name for p in paths.values() if p.exists())
            rows.append({"case_id": case.id, "input": str(case.source), "status": "failed",
                         "error": f"outputs exist without their summary ({existing}); pass --overwrite to redo the case"})
        else:
            try:
                if callable(ckpt):
                    ckpt = ckpt()
                _segment_one(ckpt, case, paths, opts)
                rows.append(_row_from_summary(case, paths, "done"))
                log.info("%s: done", case.id)
            except (InputError, FileExistsError) as exc:
                rows.append({"case_id": case.id, "input": str(case.source), "status": "failed", "error": str(exc)})
                log.warning("%s: failed: %s", case.id, exc)
        _write_summary_csv(out / SUMMARY_CSV, rows)
    progress.step(len(cases), len(cases), "done")
    _write_summary_csv(out / SUMMARY_CSV, rows)
    return rows


def manifest_cases(path: str) -> list[FolderCase]:
    """The images of a manifest as cases named by their manifest ids (so evaluation pairs them by id)."""
    from MLNNetLib.datasets.manifest import load_manifest

    return [FolderCase(str(i["id"]), Path(i["image"])) for i in load_manifest(path).items]
