"""Helper for the Slicer extension's file lists: what is on disk vs MLNNet/CMakeLists.txt.

MLNNetLib/**/*.py is listed in the generated block (paths inside MLNNetLib/, installed to
qt-scripted-modules/MLNNetLib); MLNNet/MLNNetModuleLib/*.py in the module's SCRIPTS. Run
``python Testing/slicer_extension_files.py`` to print the differences, ``--write`` to regenerate the
generated block from the files on disk (sorted).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE_CMAKE = ROOT / "MLNNet" / "CMakeLists.txt"
BEGIN = "# BEGIN MLNNetLib sources"
END = "# END MLNNetLib sources"
RES_BEGIN = "# BEGIN MLNNetLib resources"
RES_END = "# END MLNNetLib resources"
DATA_SUFFIXES = (".json",)  # package data the library reads at run time (pyproject's package-data)


def _python_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "__pycache__" not in p.parts]


def library_sources(root: Path = ROOT) -> list[str]:
    """Every MLNNetLib .py file as the CMake block lists it (relative to MLNNetLib/), sorted."""
    lib = root / "MLNNetLib"
    return sorted(p.relative_to(lib).as_posix() for p in _python_files(lib))


def library_resources(root: Path = ROOT) -> list[str]:
    """Every MLNNetLib data file (e.g. the manifest JSON Schema) as the CMake resources block lists it, sorted."""
    lib = root / "MLNNetLib"
    return sorted(p.relative_to(lib).as_posix() for p in lib.rglob("*")
                  if p.suffix in DATA_SUFFIXES and "__pycache__" not in p.parts)


def module_helper_sources(root: Path = ROOT) -> list[str]:
    """Every .py file under MLNNet/ except MLNNet.py, relative to MLNNet/ (the module's own SCRIPTS)."""
    module = root / "MLNNet"
    return sorted(p.relative_to(module).as_posix() for p in _python_files(module) if p.name != "MLNNet.py")


def listed_sources(cmake_text: str, begin: str = BEGIN, end: str = END) -> list[str]:
    """The entries between the BEGIN/END markers of the module CMakeLists.txt."""
    match = re.search(re.escape(begin) + r".*?\n(.*?)" + re.escape(end), cmake_text, re.S)
    if not match:
        raise ValueError(f"{MODULE_CMAKE}: no '{begin}' ... '{end}' block")
    return [line.strip() for line in match.group(1).splitlines() if line.strip() and not line.strip().startswith("#")]


def regenerate(cmake_text: str, sources: list[str], begin: str = BEGIN, end: str = END) -> str:
    """cmake_text with the generated block replaced by ``sources``."""
    block = "\n".join(f"  {s}" for s in sources)
    return re.sub(re.escape(begin) + r"(.*?\n).*?" + re.escape(end),
                  lambda m: f"{begin}{m.group(1)}{block}\n  {end}", cmake_text, count=1, flags=re.S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the generated block of MLNNet/CMakeLists.txt")
    args = parser.parse_args(argv)
    text = MODULE_CMAKE.read_text(encoding="utf-8")
    disk = library_sources() + library_resources()
    listed = listed_sources(text) + listed_sources(text, RES_BEGIN, RES_END)
    missing, extra = sorted(set(disk) - set(listed)), sorted(set(listed) - set(disk))
    if args.write:
        text = regenerate(text, library_sources())
        MODULE_CMAKE.write_text(regenerate(text, library_resources(), RES_BEGIN, RES_END), encoding="utf-8")
        print(f"wrote {len(disk)} MLNNetLib files into {MODULE_CMAKE}")
        return 0
    for name in missing:
        print(f"missing from CMake: MLNNetLib/{name}")
    for name in extra:
        print(f"listed but not on disk: MLNNetLib/{name}")
    return 1 if missing or extra else 0


if __name__ == "__main__":
    sys.exit(main())
