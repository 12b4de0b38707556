"""The one dataset description every source writes (``prepare``, ``synth``) and training/evaluation read.

A manifest is a JSON file checked against the JSON Schema shipped beside this module
(``manifest.schema.json``), then against the files it names: every image and label exists, ids are unique,
a label has its image's size. ``check_manifest`` collects every problem case by case (``prepare --check``);
``load_manifest`` refuses a manifest with any problem, naming the file and the cases.

Paths are stored relative to the manifest's folder (absolute ones are kept), so a dataset can be moved.
In memory, paths are absolute and a calcification label is also available as ``item["mask"]`` (the key the
synthetic-data experiments use).
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from MLNNetLib.atomic import write_text
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger

log = get_logger(__name__)

FORMAT = "mlnnet-manifest"
INDEX_FORMAT = "mlnnet-manifest-index"
SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
LABEL_KINDS = ("calcification", "region", "points", "none")
SCHEMA_FILE = "manifest.schema.json"
_SHOWN = 10  # problems quoted in an error message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest: the case it concerns (None = the whole file) and what."""

    case: str | None
    message: str

    def __str__(self) -> str:
        return f"case {self.case}: {self.message}" if self.case is not None else self.message


@dataclass
class Manifest:
    path: Path
    data: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)  # absolute paths

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def source(self) -> str:
        return str(self.data.get("source", ""))


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of schema version 1 (shipped in the package)."""
    from importlib import resources

    try:
        return json.loads(resources.files("MLNNetLib.datasets").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:  # an install that left the data file out
        raise InputError(None, f"the manifest schema {SCHEMA_FILE} is missing from this MLNNetLib install ({exc}); "
                               "reinstall the package (it ships as package data)") from None


def manifest_path(path: str | os.PathLike) -> Path:
    """A manifest file, or the manifest.json inside a folder."""
    p = Path(path)
    return p / MANIFEST_NAME if p.is_dir() else p


def read_json_object(path: Path, what: str, shape: str = "a JSON object") -> dict[str, Any]:
    """A JSON file holding an object; InputError naming the file (and ``what`` it should be) otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"{what} is not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(path, f"{what} must be {shape}")
    return data


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(path, "no manifest here (expected a manifest JSON file or a folder holding manifest.json)")
    return read_json_object(path, "manifest")


def is_index(data: dict[str, Any]) -> bool:
    """An index of per-domain manifests (``synth --domain all``), not a list of cases."""
    return data.get("format") == INDEX_FORMAT or ("domains" in data and "items" not in data)


def upgrade_legacy(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Synthetic-data manifests written before schema version 1 (no "format") become version 1 in memory."""
    if "format" in data or data.get("generator") != "MLNNetLib.synth" or not isinstance(data.get("items"), list):
        return data
    log.info("%s: manifest from before schema version 1; read as version 1 (regenerate it to update the file)", path)
    spacing = data.get("spacing_mm")
    items = []
    for item in data["items"]:
        if not isinstance(item, dict):
            items.append(item)
            continue
        up = {k: v for k, v in item.items() if k != "mask"}
        sp, source = ([float(spacing)] * 2, "generator") if isinstance(spacing, (int, float)) else _legacy_spacing(path, item)
        up.update(label=item.get("mask"), label_kind="calcification", patient_id=str(item.get("id", "")),
                  spacing_mm=sp, spacing_source=source, pathology=item.get("case_label"))
        items.append(up)
    return {**data, "format": FORMAT, "schema_version": SCHEMA_VERSION, "source": "synth", "items": items}


def _legacy_spacing(path: Path, item: dict) -> tuple[list[float], str]:
    from MLNNetLib.datasets.spacing import header_spacing

    try:
        return header_spacing(resolve(path.parent, str(item.get("image", ""))))
    except (InputError, OSError):
        from MLNNetLib.io.defaults import DEFAULT_SPACING_MM

        return [DEFAULT_SPACING_MM] * 2, "default"  # the file check reports the unreadable image


def _case_of(data: dict[str, Any], error_path: list) -> str | None:
    if len(error_path) >= 2 and error_path[0] == "items" and isinstance(error_path[1], int):
        items = data.get("items") or []
        item = items[error_path[1]] if error_path[1] < len(items) else None
        cid = item.get("id") if isinstance(item, dict) else None
        return str(cid) if isinstance(cid, str) and cid else f"#{error_path[1]}"
    return None


def schema_problems(data: dict[str, Any]) -> list[Problem]:
    """Every schema violation, attributed to its case (``#index`` when the case has no usable id)."""
    try:
        import jsonschema
    except ImportError:  # e.g. Slicer's Python before the module's requirements are installed
        raise InputError(None, "validating a manifest needs the jsonschema package (pip install jsonschema==4.26.0)") from None

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        where = list(err.absolute_path)
        field_path = ".".join(str(p) for p in where[2:]) if where[:1] == ["items"] else ".".join(map(str, where))
        message = f"{field_path}: {err.message}" if field_path else err.message
        problems.append(Problem(_case_of(data, where), message))
    return problems


def resolve(root: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (root / p)


def _absolute_items(data: dict[str, Any], root: Path) -> list[dict[str, Any]]:
    items = []
    for item in data.get("items", []):
        out = dict(item)
        out["image"] = str(resolve(root, item["image"]))
        if item.get("label"):
            out["label"] = str(resolve(root, item["label"]))
        if item.get("label_kind") == "calcification":
            out["mask"] = out["label"]
        out.setdefault("domain", data.get("domain") or data.get("source"))
        items.append(out)
    return items


def file_problems(items: list[dict[str, Any]], deep: bool = True) -> list[Problem]:
    """Missing files, duplicate ids, and (``deep``) labels whose size differs from their image's."""
    from MLNNetLib.datasets.shapes import label_shape_problem

    problems = []
    for cid, n in Counter(str(i.get("id")) for i in items).items():
        if n > 1:
            problems.append(Problem(cid, f"id used by {n} cases; ids must be unique"))
    for item in items:
        cid = str(item.get("id"))
        image = Path(item["image"])
        if not image.exists():
            problems.append(Problem(cid, f"image {image} is missing (no such file or folder)"))
            continue
        label = item.get("label")
        if label and not Path(label).exists():
            problems.append(Problem(cid, f"label {label} is missing (no such file)"))
            continue
        if deep and label:
            message = label_shape_problem(image, Path(label), item["label_kind"])
            if message:
                problems.append(Problem(cid, message))
    return problems


def check_manifest(path: str | os.PathLike, deep: bool = True) -> list[Problem]:
    """All problems of one manifest, case by case (empty list = valid)."""
    mpath = manifest_path(path)
    try:
        data = upgrade_legacy(read_json(mpath), mpath)
    except InputError as exc:
        return [Problem(None, exc.problem)]
    if is_index(data):
        problems = []
        for name, rel in (data.get("domains") or {}).items():
            problems += [Problem(p.case, f"[{name}] {p.message}") for p in check_manifest(mpath.parent / rel, deep)]
        return problems
    problems = schema_problems(data)
    if problems:
        return problems  # paths cannot be trusted until the structure is right
    return file_problems(_absolute_items(data, mpath.parent.resolve()), deep)


def raise_problems(path: Path, problems: list[Problem]) -> None:
    if problems:
        shown = "; ".join(str(p) for p in problems[:_SHOWN])
        more = f" (and {len(problems) - _SHOWN} more; run `mlnnet prepare --check {path}`)" if len(problems) > _SHOWN else ""
        raise InputError(path, f"invalid manifest: {len(problems)} problem(s): {shown}{more}")


def load_manifest(path: str | os.PathLike, deep: bool = False) -> Manifest:
    """A valid manifest with absolute paths; InputError naming the file and every problem otherwise.

    ``deep`` also compares label and image sizes (header reads only); training and evaluation check each
    case's size anyway when they read it, so the default is the fast check.
    """
    mpath = manifest_path(path)
    data = upgrade_legacy(read_json(mpath), mpath)
    if is_index(data):
        raise InputError(mpath, "this is an index of per-domain manifests; pass one of them or the folder above")
    raise_problems(mpath, schema_problems(data))
    items = _absolute_items(data, mpath.parent.resolve())
    raise_problems(mpath, file_problems(items, deep))
    return Manifest(mpath.resolve(), data, items)


def find_manifests(data: str | os.PathLike) -> list[Path]:
    """A manifest file as given, or every case manifest below a folder (indexes skipped), sorted."""
    p = Path(data)
    if not p.exists():
        raise InputError(p, "data folder does not exist (nor a manifest file of that name)")
    if p.is_file():
        return [p]
    found = []
    for m in sorted(p.rglob(MANIFEST_NAME)):
        try:
            content = read_json(m)
        except InputError:
            found.append(m)  # reported when loaded
            continue
        if not is_index(content):
            found.append(m)
    if not found:
        raise InputError(p, "no manifest.json found (make one with `mlnnet prepare ...` or `mlnnet synth`)")
    return found


def relative_to(root: Path, path: str | os.PathLike) -> str:
    """``path`` relative to ``root`` when both are on one drive (POSIX separators), else absolute."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), root.resolve())).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def write_manifest(path: str | os.PathLike, source: str, items: list[dict[str, Any]], overwrite: bool = False,
                   **fields: Any) -> Path:
    """Validate and write a manifest; absolute paths are made relative to its folder, relative ones are
    taken as relative to it already. Nothing is written if invalid."""
    path = Path(path)
    root = path.parent
    stored = []
    for item in items:
        out = {k: v for k, v in item.items() if k != "mask"}
        for key in ("image", "label"):
            if item.get(key) and Path(item[key]).is_absolute():
                out[key] = relative_to(root, item[key])
        stored.append(out)
    data = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "source": source, **fields, "items": stored}
    raise_problems(path, schema_problems(data))
    dup = [cid for cid, n in Counter(i["id"] for i in stored).items() if n > 1]
    if dup:
        raise InputError(path, f"duplicate case ids {dup[:5]}; ids must be unique")
    return write_text(path, json.dumps(data, indent=1) + "\n", overwrite)
