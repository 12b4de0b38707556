"""``mlnnet prepare FORMAT SOURCE --out DIR``: a public collection (or a folder of pairs) -> a validated manifest;
``mlnnet prepare cache MANIFEST --out CACHE``: the prepare-once training cache;
``mlnnet prepare --check MANIFEST``: every problem of a manifest, case by case.

Output folder: ``manifest.json`` plus ``labels/`` (merged CBIS-DDSM label images, INbreast points files and
outline masks). Everything is read and checked first; labels are staged and moved into place with the manifest
only when the whole collection was read, so a failed run leaves nothing behind. JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

HELP = "Describe a dataset (CBIS-DDSM, INbreast, folder of pairs) as a validated manifest; build a training cache; check a manifest."
log = get_logger(__name__)


def _common(p: argparse.ArgumentParser, spacing: bool = True) -> None:
    p.add_argument("source", help="the collection's folder as downloaded")
    p.add_argument("--out", required=True, help="output folder: manifest.json and labels/")
    p.add_argument("--domain", help="domain name recorded for every case (default: the format's name)")
    if spacing:
        p.add_argument("--spacing", type=float, metavar="MM", help="pixel spacing for files that carry none "
                                                                   "(default: the library's 0.05 mm, recorded as 'default')")
    p.add_argument("--overwrite", action="store_true", help="replace an existing manifest and label files")
    p.add_argument("--no-progress", action="store_true")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", metavar="MANIFEST", help="check a manifest (file or folder) and print its problems case by case")
    sub = parser.add_subparsers(dest="format", metavar="FORMAT")
    cbis = sub.add_parser("cbis-ddsm", help="CBIS-DDSM: description CSVs + DICOM case folders")
    _common(cbis)
    cbis.add_argument("--abnormality", default="calcification", choices=("calcification", "mass", "both"))
    cbis.add_argument("--subset", default="all", choices=("train", "test", "all"), help="the collection's own split")
    cbis.add_argument("--csv-dir", help="folder of the four description CSVs (default: SOURCE)")
    cbis.add_argument("--skip-bad", action="store_true", help="record unusable rows in the manifest's 'skipped' instead of stopping")
    inb = sub.add_parser("inbreast", help="INbreast: AllDICOMs/ + AllXML/ (plist ROIs)")
    _common(inb, spacing=False)
    inb.add_argument("--negatives", action="store_true", help="keep images without calcification ROIs (empty mask)")
    inb.add_argument("--skip-bad", action="store_true", help="record XMLs without their DICOM in 'skipped' instead of stopping")
    pairs = sub.add_parser("pairs", help="a folder of images with masks matched by name (NAME + NAME_mask, or images/ + masks/)")
    _common(pairs)
    pairs.add_argument("--label-kind", default="calcification", choices=("calcification", "region", "points"))
    pairs.add_argument("--label-suffix", help="suffix of the label files (default: _mask, _label or _seg)")
    pairs.add_argument("--patient-regex", help="regular expression whose first group, searched in the image's relative "
                                                "path, is the patient id (default: each image is its own patient)")
    pairs.add_argument("--allow-unlabelled", action="store_true", help="list images without a label (label kind none)")
    cache = sub.add_parser("cache", help="normalised images + labels as memory-mapped arrays at the training spacing")
    cache.add_argument("source", help="manifest file (or folder of manifests)")
    cache.add_argument("--out", required=True, help="cache folder (reused and completed if it exists)")
    cache.add_argument("--spacing", type=float, metavar="MM", help="training pixel spacing (default: the images' own "
                                                                   "when they agree, else their median)")
    cache.add_argument("--domain", help="only cases of this domain")
    cache.add_argument("--region-labels", default="refuse", choices=("refuse", "detect", "skip"))
    cache.add_argument("--points-labels", default="trace", choices=("trace", "skip"))
    cache.add_argument("--no-progress", action="store_true")


def _check(path: str) -> int:
    from MLNNetLib.datasets.manifest import check_manifest

    problems = check_manifest(path, deep=True)
    for p in problems:
        print(str(p))
    cases = sorted({p.case for p in problems if p.case is not None})
    print(json.dumps({"manifest": path, "valid": not problems, "problems": len(problems), "cases_with_problems": len(cases)}))
    if problems:
        print(f"error: {path}: {len(problems)} problem(s) in {len(cases)} case(s)", file=sys.stderr)
        return 2
    return 0


def _cache(args: argparse.Namespace, progress) -> int:
    from MLNNetLib.labels.policy import LabelPolicy
    from MLNNetLib.training.cache import build_cache
    from MLNNetLib.training.data import find_items, training_spacing

    items = find_items(args.source, args.domain)
    policy = LabelPolicy(region=args.region_labels, points=args.points_labels)
    policy.check_kinds(items, args.source)
    spacing = training_spacing(items, args.spacing)
    cache = build_cache(items, Path(args.out), spacing, policy, progress=progress)
    print(json.dumps({"cache": str(cache.root), "cases": len(cache), "spacing_mm": list(cache.spacing),
                      "built": cache.built, "reused": cache.reused}))
    return 0


def _collect(args: argparse.Namespace, source: Path, out: Path, stage: Path, progress) -> tuple[list[dict], list[dict]]:
    """Manifest items (absolute paths; labels written into ``stage``) and the skipped inputs, by format."""
    domain = args.domain or args.format
    if args.format == "pairs":
        from MLNNetLib.datasets.pairs import prepare_pairs

        return prepare_pairs(source, args.label_kind, args.label_suffix, args.patient_regex, args.spacing, domain,
                             args.allow_unlabelled), []
    if args.format == "cbis-ddsm":
        from MLNNetLib.datasets.cbis_ddsm import prepare_cbis_ddsm

        csv_dir = Path(args.csv_dir).resolve() if args.csv_dir else None
        return prepare_cbis_ddsm(source, out, args.abnormality, args.subset, csv_dir, args.spacing, domain,
                                 args.skip_bad, args.overwrite, stage, progress)
    from MLNNetLib.datasets.inbreast import prepare_inbreast

    return prepare_inbreast(source, out, args.negatives, domain, args.skip_bad, args.overwrite, stage, progress)


def run(args: argparse.Namespace) -> int:
    from MLNNetLib.progress import TqdmProgress

    if args.check:
        if args.format:
            raise InputError(None, "--check takes a manifest alone; do not give a FORMAT with it")
        return _check(args.check)
    if not args.format:
        raise InputError(None, "give a FORMAT (cbis-ddsm, inbreast, pairs, cache) or --check MANIFEST")
    progress = TqdmProgress(f"prepare {args.format}", disable=True if args.no_progress else None)
    if args.format == "cache":
        return _cache(args, progress)

    from MLNNetLib.datasets.manifest import MANIFEST_NAME, file_problems, raise_problems, write_manifest
    from MLNNetLib.datasets.staging import publish, staging_folder
    from MLNNetLib.outputs import OutputPlan

    out = Path(args.out).resolve()  # the manifest stores paths relative to it: every path is made absolute first
    manifest = out / MANIFEST_NAME
    source = Path(args.source).resolve()
    if not source.is_dir():
        raise InputError(args.source, "not a folder")
    check = OutputPlan(args.overwrite, inputs=[source])
    check.folder(out, option="--out")
    check.file(manifest, "json", option="manifest")
    check.validate()  # writable, not the collection itself, no manifest there unless --overwrite
    with staging_folder(out) as stage:
        items, skipped = _collect(args, source, out, stage, progress)
        raise_problems(manifest, file_problems(items, deep=True))  # every file and size checked before anything moves
        publish(stage, out, items, args.overwrite)
    write_manifest(manifest, args.format, items, args.overwrite, skipped=skipped,
                   description=f"{args.format} collection {source}")
    summary = {"manifest": str(manifest), "cases": len(items), "patients": len({i["patient_id"] for i in items}),
               "label_kinds": dict(Counter(i["label_kind"] for i in items)), "skipped": len(skipped)}
    for s in skipped:
        log.warning("skipped %s: %s", s["what"], s["reason"])
    print(json.dumps(summary))
    return 0
