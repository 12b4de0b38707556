"""The extension as Slicer's build system packages it: a real ``cmake`` configure, build and install.

Slicer itself is not on this machine, so ``Slicer_DIR`` points at a small stand-in written below. It
reproduces what matters of the real macros (Slicer's CMake/SlicerMacroBuildScriptedModule.cmake and CTK's
CMake/ctkMacroCompilePythonScript.cmake): every script is copied to ``DESTINATION_DIR/<its relative path>``
(DESTINATION_DIR resolved to a real path first), a missing listed file is a configure error, and the install
step installs exactly ``DESTINATION_DIR`` (its contents with NO_INSTALL_SUBDIR). The module's folder is
``lib/Slicer-X.Y/qt-scripted-modules``; SlicerConfigVersion compares versions as Slicer's does.

Then MLNNetLib is imported from the install prefix alone, in a fresh interpreter that cannot see this
checkout, the way Slicer imports it after an Extensions Manager install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Testing"))
import slicer_extension_files as ext_files  # noqa: E402

CMAKE = shutil.which("cmake")
pytestmark = pytest.mark.skipif(CMAKE is None or not (shutil.which("make") or shutil.which("ninja")),
                                reason="cmake and a build tool (make or ninja) are needed")
QT_SCRIPTED = "lib/Slicer-{version}/qt-scripted-modules"

USE_SLICER = r"""
set(Slicer_USE_PYTHONQT ON)
set(Slicer_QTSCRIPTEDMODULES_LIB_DIR "@QT_SCRIPTED@")
set(Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR "@QT_SCRIPTED@")

# Stand-in for CTK's ctkMacroCompilePythonScript: copy SCRIPTS/RESOURCES to DESTINATION_DIR keeping their
# relative paths; install DESTINATION_DIR (its contents with NO_INSTALL_SUBDIR) to INSTALL_DIR.
macro(ctkMacroCompilePythonScript)
  cmake_parse_arguments(MY "NO_INSTALL_SUBDIR;GLOBAL_TARGET" "TARGET_NAME;SOURCE_DIR;DESTINATION_DIR;INSTALL_DIR" "SCRIPTS;RESOURCES" ${ARGN})
  if(NOT DEFINED MY_SOURCE_DIR)
    set(MY_SOURCE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  get_filename_component(MY_SOURCE_DIR ${MY_SOURCE_DIR} REALPATH)
  get_filename_component(MY_DESTINATION_DIR ${MY_DESTINATION_DIR} REALPATH)
  set(_copied)
  foreach(file IN LISTS MY_SCRIPTS MY_RESOURCES)
    set(_tgt "${MY_DESTINATION_DIR}/${file}")
    add_custom_command(OUTPUT ${_tgt} DEPENDS ${MY_SOURCE_DIR}/${file}
      COMMAND ${CMAKE_COMMAND} -E copy ${MY_SOURCE_DIR}/${file} ${_tgt})
    list(APPEND _copied ${_tgt})
  endforeach()
  add_custom_target(Copy${MY_TARGET_NAME}PythonFiles ALL DEPENDS ${_copied})
  set(_dir ${MY_DESTINATION_DIR})
  if(MY_NO_INSTALL_SUBDIR)
    set(_dir ${MY_DESTINATION_DIR}/)
  endif()
  install(DIRECTORY "${_dir}" DESTINATION "${MY_INSTALL_DIR}" USE_SOURCE_PERMISSIONS)
endmacro()

# Stand-in for Slicer's slicerMacroBuildScriptedModule (without WITH_SUBDIR): checks the listed files exist,
# then the module's own files go to qt-scripted-modules, installed with NO_INSTALL_SUBDIR.
macro(slicerMacroBuildScriptedModule)
  cmake_parse_arguments(MY_SLICER "WITH_GENERIC_TESTS;WITH_SUBDIR;VERBOSE" "NAME" "SCRIPTS;RESOURCES" ${ARGN})
  foreach(value IN LISTS MY_SLICER_SCRIPTS MY_SLICER_RESOURCES)
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${value})
      message(FATAL_ERROR "slicerMacroBuildScriptedModule given nonexistent file '${value}'")
    endif()
  endforeach()
  ctkMacroCompilePythonScript(
    TARGET_NAME ${MY_SLICER_NAME}
    SCRIPTS "${MY_SLICER_SCRIPTS}"
    RESOURCES "${MY_SLICER_RESOURCES}"
    DESTINATION_DIR ${CMAKE_BINARY_DIR}/${Slicer_QTSCRIPTEDMODULES_LIB_DIR}
    INSTALL_DIR ${Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR}
    NO_INSTALL_SUBDIR
    )
endmacro()

macro(slicer_add_python_unittest)
endmacro()
"""

SLICER_CONFIG = r"""
set(Slicer_FOUND TRUE)
set(Slicer_USE_FILE "${CMAKE_CURRENT_LIST_DIR}/UseSlicer.cmake")
set(Slicer_EXTENSION_GENERATE_CONFIG "${CMAKE_CURRENT_LIST_DIR}/Empty.cmake")
set(Slicer_EXTENSION_CPACK "${CMAKE_CURRENT_LIST_DIR}/Empty.cmake")
"""

SLICER_CONFIG_VERSION = r"""
set(PACKAGE_VERSION "@VERSION@")
if("${PACKAGE_VERSION}" VERSION_LESS "${PACKAGE_FIND_VERSION}")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
"""


def _stand_in(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True)
    short = ".".join(version.split(".")[:2])
    (folder / "UseSlicer.cmake").write_text(USE_SLICER.replace("@QT_SCRIPTED@", QT_SCRIPTED.format(version=short)), encoding="utf-8")
    (folder / "SlicerConfig.cmake").write_text(SLICER_CONFIG, encoding="utf-8")
    (folder / "SlicerConfigVersion.cmake").write_text(SLICER_CONFIG_VERSION.replace("@VERSION@", version), encoding="utf-8")
    (folder / "Empty.cmake").write_text("", encoding="utf-8")
    return folder


def _cmake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def build_and_install(source: Path, work: Path, version: str = "5.10.0") -> tuple[subprocess.CompletedProcess, Path]:
    """Configure, build and install ``source`` against the stand-in; returns (last cmake result, prefix)."""
    slicer_dir = _stand_in(work / "Slicer", version)
    build, prefix = work / "build", work / "prefix"
    steps = (
        ("-S", str(source), "-B", str(build), f"-DSlicer_DIR={slicer_dir}", "-DBUILD_TESTING=OFF"),
        ("--build", str(build), "--parallel", "2"),
        ("--install", str(build), "--prefix", str(prefix)),
    )
    for args in steps:
        result = _cmake(*args, cwd=work)
        if result.returncode != 0:
            return result, prefix
    return result, prefix


def _clean_env() -> dict[str, str]:
    """The environment of a fresh interpreter that must not see this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("extension")
    result, prefix = build_and_install(ROOT, work)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return prefix / QT_SCRIPTED.format(version="5.10")


def test_install_holds_the_module_its_helpers_and_the_whole_library(installed):
    assert (installed / "MLNNet.py").is_file()
    assert (installed / "Resources" / "UI" / "MLNNet.ui").is_file()
    assert (installed / "Resources" / "requirements.txt").is_file() and (installed / "Resources" / "requirements-classify.txt").is_file()
    # Slicer loads every .py at the top of qt-scripted-modules as a module: only MLNNet.py may be there
    assert sorted(p.name for p in installed.glob("*.py")) == ["MLNNet.py"]
    helpers = sorted(p.relative_to(installed).as_posix() for p in (installed / "MLNNetModuleLib").glob("*.py"))
    assert helpers == ext_files.module_helper_sources()
    library = sorted(p.relative_to(installed / "MLNNetLib").as_posix() for p in (installed / "MLNNetLib").rglob("*.py"))
    assert library == ext_files.library_sources()  # every file of the library, nothing else
    for data in ext_files.library_resources():  # the data it reads at run time (the manifest JSON Schema)
        assert (installed / "MLNNetLib" / data).is_file(), data
    assert not (installed.parent / "MLNNetLib").exists()  # nothing beside qt-scripted-modules


def test_library_imports_from_the_install_prefix_alone(installed, tmp_path):
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import MLNNetLib, MLNNetLib.cli, MLNNetLib.progress, MLNNetLib.scene.jobs, MLNNetLib.scene.views\n"
        "from MLNNetModuleLib import environment, dependencies, states\n"
        "assert environment.library_parent(sys.argv[1]) is None  # the installed layout needs no sys.path change\n"
        "print(MLNNetLib.__file__)\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(installed)], cwd=tmp_path, env=_clean_env(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).resolve() == (installed / "MLNNetLib" / "__init__.py").resolve()


def test_the_cli_the_module_starts_runs_from_the_install(installed, tmp_path):
    """What the module runs in the background: ``python -m MLNNetLib`` with the library's folder on PYTHONPATH."""
    env = {**_clean_env(), "PYTHONPATH": str(installed)}
    run = subprocess.run([sys.executable, "-m", "MLNNetLib", "evaluate", "--help"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "--pred" in run.stdout
    where = subprocess.run([sys.executable, "-c", "import MLNNetLib; print(MLNNetLib.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert Path(where.stdout.strip()).resolve() == (installed / "MLNNetLib" / "__init__.py").resolve()  # not a checkout


def test_an_older_slicer_is_refused_at_configure_time(tmp_path):
    result, _ = build_and_install(ROOT, tmp_path, version="5.8.1")
    assert result.returncode != 0
    assert "5.10" in result.stderr and "5.8.1" in result.stderr
