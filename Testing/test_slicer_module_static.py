"""Static checks of the Slicer extension (no Slicer application here): .ui, widget names, parameter names,
CMake file lists, extension metadata, and the dependency decisions of MLNNetDependencies."""

from __future__ import annotations

import ast
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "MLNNet"
sys.path.insert(0, str(MODULE))
sys.path.insert(0, str(ROOT / "Testing"))

import MLNNetDependencies as deps  # noqa: E402
import slicer_extension_files as ext_files  # noqa: E402

UI = MODULE / "Resources" / "UI" / "MLNNet.ui"
SOURCE = (MODULE / "MLNNet.py").read_text(encoding="utf-8")
TREE = ast.parse(SOURCE)


def _ui_widgets() -> dict[str, ET.Element]:
    root = ET.parse(UI).getroot()
    return {w.get("name"): w for w in root.iter("widget")}


def _parameters() -> dict[str, str]:
    """name -> annotation source of the @parameterNodeWrapper class."""
    cls = next(n for n in TREE.body if isinstance(n, ast.ClassDef) and n.name == "MLNNetParameterNode")
    assert any(ast.unparse(d) == "parameterNodeWrapper" for d in cls.decorator_list)
    return {s.target.id: ast.unparse(s.annotation) for s in cls.body if isinstance(s, ast.AnnAssign)}


def _prop(widget: ET.Element, name: str) -> ET.Element | None:
    return next((p for p in widget.findall("property") if p.get("name") == name), None)


def _module_constant(name: str) -> list[str]:
    node = next(n for n in TREE.body if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == name for t in n.targets))
    return ast.literal_eval(node.value)


def test_ui_parses_and_declares_its_custom_widgets():
    root = ET.parse(UI).getroot()
    top = root.find("widget")
    assert top.get("class") == "qMRMLWidget" and top.get("name") == "MLNNet"
    declared = {c.findtext("class") for c in root.iter("customwidget")}
    used = {w.get("class") for w in root.iter("widget")}
    qt_builtin = {c for c in used if c.startswith("Q")}
    assert used - qt_builtin <= declared, f"undeclared custom widgets: {sorted(used - qt_builtin - declared)}"
    receivers = {c.findtext("receiver") for c in root.iter("connection")}
    mrml_widgets = {n for n, w in _ui_widgets().items() if w.get("class") in ("qMRMLNodeComboBox", "qMRMLSegmentSelectorWidget", "qSlicerMarkupsPlaceWidget")}
    assert mrml_widgets <= receivers, f"widgets without setMRMLScene connection: {sorted(mrml_widgets - receivers)}"


def test_every_widget_the_module_uses_exists_in_ui():
    used = set(re.findall(r"self\.ui\.(\w+)", SOURCE))
    assert len(used) >= 15
    missing = used - set(_ui_widgets())
    assert not missing, f"MLNNet.py uses widgets missing from MLNNet.ui: {sorted(missing)}"


def test_parameter_names_match_ui_and_widget_kinds():
    params = _parameters()
    widgets = _ui_widgets()
    bound = {}
    for name, w in widgets.items():
        p = _prop(w, "SlicerParameterName")
        if p is not None:
            assert p.get("stdset") == "0", f"{name}: SlicerParameterName must be a dynamic property"
            bound[p.findtext("string")] = w
    assert set(bound) == set(params), f"only in wrapper: {set(params) - set(bound)}; only in .ui: {set(bound) - set(params)}"
    for name, annotation in params.items():
        w = bound[name]
        cls = w.get("class")
        if annotation.startswith("vtkMRML"):
            assert cls == "qMRMLNodeComboBox", name
            assert annotation in [s.text for s in _prop(w, "nodeTypes").iter("string")], name
        elif annotation == "pathlib.Path":
            assert cls == "ctkPathLineEdit", name
        elif "Choice" in annotation:
            assert cls == "QComboBox", name
            items = [i.find("property").findtext("string") for i in w.findall("item")]
            choices = _module_constant(re.search(r"Choice\((\w+)\)", annotation).group(1))
            assert items == choices, name
        elif "float" in annotation:
            assert cls in ("ctkSliderWidget", "QDoubleSpinBox", "ctkDoubleSpinBox"), name
        elif "int" in annotation:
            assert cls in ("QSpinBox", "ctkSpinBox"), name
        else:
            assert annotation == "str" and cls == "QLineEdit", name


def test_selection_methods_are_the_librarys():
    from MLNNetLib.inference import SELECTION_METHODS

    offered = _module_constant("SELECTION_METHODS")
    assert offered[0] == "cosine" and set(offered) <= set(SELECTION_METHODS), f"the library offers {SELECTION_METHODS}"
    assert "union" in offered


def test_module_imports_no_heavy_library_at_load_time():
    top = set()
    for node in TREE.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add((node.module or "").split(".")[0])
    assert top <= {"__future__", "json", "logging", "os", "pathlib", "sys", "tempfile", "typing", "qt", "slicer", "vtk"}, top


def test_cmake_lists_exactly_the_library_files_on_disk():
    listed = ext_files.listed_sources((MODULE / "CMakeLists.txt").read_text(encoding="utf-8"))
    disk = ext_files.library_sources()
    missing, extra = sorted(set(disk) - set(listed)), sorted(set(listed) - set(disk))
    assert not missing and not extra, (
        f"MLNNet/CMakeLists.txt is out of date (run python Testing/slicer_extension_files.py --write): "
        f"missing {missing}, not on disk {extra}")
    assert listed == sorted(listed) and len(listed) == len(set(listed))


def test_cmake_module_files_and_resources_exist():
    text = (MODULE / "CMakeLists.txt").read_text(encoding="utf-8")
    for block in ("MODULE_PYTHON_SCRIPTS", "MODULE_PYTHON_RESOURCES"):
        body = re.search(rf"set\({block}\n(.*?)\n  \)", text, re.S).group(1)
        for line in body.splitlines():
            entry = line.strip()
            if entry and not entry.startswith("#"):
                path = MODULE / entry.replace("${MODULE_NAME}", "MLNNet")
                assert path.is_file(), f"{block}: {entry} does not exist"
    assert "slicerMacroBuildScriptedModule" in text
    assert "add_subdirectory(MLNNet)" in (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")


def _cmake_meta() -> dict[str, str]:
    text = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    return dict(re.findall(r'set\(EXTENSION_(\w+) "([^"]*)"\)', text))


def _s4ext() -> dict[str, str]:
    out = {}
    for line in (ROOT / "MLNNet.s4ext").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out[key] = value.strip()
    return out


def test_extension_descriptions_agree():
    cmake, s4ext = _cmake_meta(), _s4ext()
    index = json.loads((ROOT / "MLNNet.json").read_text(encoding="utf-8"))
    assert cmake["HOMEPAGE"] == s4ext["homepage"] == "https://github.com/mlnnet/MLNNet"
    assert cmake["CATEGORY"] == s4ext["category"] == index["category"] == "Segmentation"
    assert cmake["DESCRIPTION"] == s4ext["description"]
    assert cmake["CONTRIBUTORS"] == s4ext["contributors"]
    assert cmake["ICONURL"] == s4ext["iconurl"] and cmake["ICONURL"].endswith("MLNNet/Resources/Icons/MLNNet.png")
    assert cmake["SCREENSHOTURLS"] == s4ext["screenshoturls"]
    assert cmake["DEPENDS"].split() == s4ext["depends"].split() == index["build_dependencies"] == ["PyTorch"]
    assert s4ext["scmurl"] == index["scm_url"] == cmake["HOMEPAGE"] + ".git"
    assert s4ext["scmrevision"] == index["scm_revision"] and s4ext["build_subdirectory"] == index["build_subdirectory"]
    assert index["$schema"].startswith("https://raw.githubusercontent.com/Slicer/Slicer/")
    title = re.search(r'self\.parent\.categories = \["(\w+)"\]', SOURCE).group(1)
    assert title == cmake["CATEGORY"]
    assert "Knowledge-Based Systems" in SOURCE and "MLN-net: A multi-source medical image segmentation" in SOURCE


def test_icon_is_a_128px_png():
    data = (MODULE / "Resources" / "Icons" / "MLNNet.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (128, 128)


# --- MLNNetDependencies: decisions without Slicer ------------------------------------------------------------


def test_requirements_resource_parses_and_leaves_slicer_packages_alone():
    reqs = deps.parse_requirements(Path(deps.REQUIREMENTS_FILE).read_text(encoding="utf-8"))
    names = {r.name.lower() for r in reqs}
    assert {"timm", "safetensors"} <= names
    assert not names & {p.lower() for p in deps.PROTECTED}
    with pytest.raises(ValueError, match="belongs to Slicer"):
        deps.parse_requirements("numpy>=2\n")
    with pytest.raises(ValueError, match="unsupported requirement"):
        deps.parse_requirements("timm<2\n")


def test_plan_decisions():
    reqs = deps.parse_requirements("timm>=1.0\nsafetensors>=0.4\nscipy\n")
    installed = {"timm": "0.9.16", "safetensors": "0.4.3", "numpy": "1.26.4", "vtk": "9.3.0"}
    plan = deps.plan(reqs, installed.get, has_module=lambda name: name == "PyTorchUtils")
    assert [str(r) for r in plan.install] == ["timm>=1.0", "scipy"]  # too old, absent
    assert plan.torch == "pytorchutils" and not plan.ready
    plan = deps.plan(reqs, installed.get, has_module=lambda name: False)
    assert plan.torch == "missing" and deps.PYTORCH_EXTENSION_HELP in plan.messages
    everything = {**installed, "timm": "1.0.31", "scipy": "1.17.1", "torch": "2.5.1"}
    assert deps.plan(reqs, everything.get, has_module=lambda name: False).ready
    assert deps.constraints(everything.get) == ["numpy==1.26.4", "vtk==9.3.0", "torch==2.5.1"]


def test_install_route_and_offline_message():
    with_pydeps = SimpleNamespace(__name__="fake", pydeps=SimpleNamespace(pip_ensure=lambda *a, **k: None))
    with_packaging = SimpleNamespace(__name__="fake", packaging=SimpleNamespace(pip_ensure=lambda *a, **k: None))
    old = SimpleNamespace(__name__="fake_slicer_without_submodules")
    assert deps.install_route(with_pydeps) == "pydeps"
    assert deps.install_route(with_packaging) == "packaging"
    assert deps.install_route(old) == "pip_install"
    assert deps.looks_offline("ERROR: Could not find a version that satisfies the requirement timm>=1.0")
    assert deps.looks_offline("Temporary failure in name resolution")
    assert not deps.looks_offline("ERROR: Cannot install timm because these package versions have conflicting dependencies.")
