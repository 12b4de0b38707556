"""The cases of an input folder for ``segment --input DIR --output DIR``: every readable image file and every
DICOM series, found recursively, each with a stable id (its path relative to the folder, without suffix).

DICOM files are grouped by SeriesInstanceUID per folder: a series of one file (an MG view, a multi-frame DBT
file) is a case; a folder holding exactly one multi-file series is one case (a DBT stack of single-frame
slices); a multi-file series sharing its folder with other series cannot be read as a stack and is reported.
Hidden files and folders and the output folder (when it lies inside the input) are ignored.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class FolderCase:
    id: str  # relative path without suffix, POSIX separators
    source: Path  # a file, or a folder holding one series
    dicom_files: tuple[Path, ...] = ()  # the DICOM instances behind the case (for DICOM SEG), in reading order


def _stem(path: Path) -> str:
    from MLNNetLib.io.generic import suffix_of

    suffix = suffix_of(path)
    return path.name[: len(path.name) - len(suffix)] if suffix else path.name


def _image_suffix(path: Path) -> bool:
    from MLNNetLib.io.generic import HEADER_SUFFIXES, RASTER_SUFFIXES, suffix_of

    return suffix_of(path) in HEADER_SUFFIXES + RASTER_SUFFIXES and suffix_of(path) not in (".nhdr", ".mhd")


def discover(root: Path, exclude: Path | None = None) -> tuple[list[FolderCase], list[tuple[Path, str]]]:
    """(cases sorted by id, problems as (path, reason))."""
    from MLNNetLib.io.dicom_tags import is_dicom_file, parse_header, read_header

    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    excluded = exclude.resolve() if exclude is not None else None
    cases: list[FolderCase] = []
    problems: list[tuple[Path, str]] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (excluded is None or (here / d).resolve() != excluded))
        rel = here.relative_to(root)
        series: dict[str | None, list[tuple[Path, object]]] = defaultdict(list)
        for name in sorted(f for f in files if not f.startswith(".")):
            path = here / name
            if is_dicom_file(path):
                try:
                    header = parse_header(read_header(path), path)
                except InputError as exc:
                    problems.append((path, exc.problem))
                    continue
                series[header.series_uid].append((path, header))
            elif _image_suffix(path):
                cases.append(FolderCase((rel / _stem(path)).as_posix(), path))
        for uid, members in series.items():
            if len(members) == 1:
                path = members[0][0]
                cases.append(FolderCase((rel / _stem(path)).as_posix(), path, (path,)))
            elif len(series) == 1 and here != root:
                files_in_order = tuple(p for p, _ in members)  # read_image sorts them; the SEG writer re-reads the order
                cases.append(FolderCase(rel.as_posix(), here, files_in_order))
            else:
                problems.append((here, f"a series of {len(members)} files ({uid}) shares its folder with other series "
                                       "or lies at the top of the input; give each multi-file series its own folder"))
    cases.sort(key=lambda c: c.id)
    dups = {cid for cid, n in Counter(c.id for c in cases).items() if n > 1}
    for dup in sorted(dups):
        problems.append((root / dup, f"several inputs map to the case id {dup!r} (same name, different suffix); "
                                     "none of them is segmented"))
    cases = [c for c in cases if c.id not in dups]
    log.info("%s: %d case(s) found, %d problem(s)", root, len(cases), len(problems))
    return cases, problems
