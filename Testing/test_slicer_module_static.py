"""Static checks of the Slicer extension (no Slicer application here): .ui, widget names, parameter names,
CMake file lists, extension metadata, the minimum Slicer version, and that the GUI never waits."""

from __future__ import annotations

import ast
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "MLNNet"
sys.path.insert(0, str(MODULE))
sys.path.insert(0, str(ROOT / "Testing"))

import slicer_extension_files as ext_files  # noqa: E402
from MLNNetModuleLib import environment  # noqa: E402

UI = MODULE / "Resources" / "UI" / "MLNNet.ui"
SOURCE = (MODULE / "MLNNet.py").read_text(encoding="utf-8")
TREE = ast.parse(SOURCE)
# The property names of Slicer's Schemas/slicer-extension-catalog-entry-schema-v1.0.2.json, the current
# ExtensionsIndex schema (additionalProperties: false), and its required ones.
CATALOG_SCHEMA = "https://raw.githubusercontent.com/Slicer/Slicer/main/Schemas/slicer-extension-catalog-entry-schema-v1.0.2.json#"
CATALOG_PROPERTIES = {"$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
                      "dicom_support_rule", "build_subdirectory", "enabled", "tier"}
CATALOG_REQUIRED = {"$schema", "category", "scm_url"}


def _ui_widgets() -> dict[str, ET.Element]:
    root = ET.parse(UI).getroot()
    return {w.get("name"): w for w in root.iter("widget")}


def _class(name: str) -> ast.ClassDef:
    return next(n for n in TREE.body if isinstance(n, ast.ClassDef) and n.name == name)


def _parameters() -> dict[str, tuple[str, str | None]]:
    """name -> (annotation source, default source) of the @parameterNodeWrapper class."""
    cls = _class("MLNNetParameterNode")
    assert any(ast.unparse(d) == "parameterNodeWrapper" for d in cls.decorator_list)
    return {s.target.id: (ast.unparse(s.annotation), ast.unparse(s.value) if s.value is not None else None)
            for s in cls.body if isinstance(s, ast.AnnAssign)}


def _prop(widget: ET.Element, name: str) -> ET.Element | None:
    return next((p for p in widget.findall("property") if p.get("name") == name), None)


def _module_constant(name: str):
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
    unbound = set(_module_constant("UNBOUND_PARAMETERS"))
    widgets = _ui_widgets()
    bound = {}
    for name, w in widgets.items():
        p = _prop(w, "SlicerParameterName")
        if p is not None:
            assert p.get("stdset") == "0", f"{name}: SlicerParameterName must be a dynamic property"
            bound[p.findtext("string")] = w
    assert unbound <= set(params)
    assert set(bound) == set(params) - unbound, f"only in wrapper: {set(params) - unbound - set(bound)}; only in .ui: {set(bound) - set(params)}"
    for name, (annotation, _) in params.items():
        if name in unbound:
            continue
        w = bound[name]
        cls = w.get("class")
        if annotation.startswith("vtkMRML"):
            assert cls == "qMRMLNodeComboBox", name
            assert annotation in [s.text for s in _prop(w, "nodeTypes").iter("string")], name
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


def test_file_paths_are_str_parameters_that_start_empty():
    """Item 7: a pathlib.Path parameter turns an empty field into '.', writes it back and saves it in the scene."""
    params = _parameters()
    for name in ("modelPath", "classifierPath"):
        assert params[name] == ("str", "''"), name
    assert not any("pathlib" in annotation for annotation, _ in params.values())
    for widget in ("modelPathLineEdit", "classifierPathLineEdit"):
        assert _ui_widgets()[widget].get("class") == "ctkPathLineEdit"
        assert f"self.ui.{widget}.connect(\"currentPathChanged(QString)\"" in SOURCE


def test_selection_methods_are_the_librarys():
    from MLNNetLib.inference import SELECTION_METHODS

    offered = _module_constant("SELECTION_METHODS")
    from MLNNetLib.selection import DEFAULT_METHOD

    assert offered[0] == DEFAULT_METHOD and set(offered) <= set(SELECTION_METHODS), f"the library offers {SELECTION_METHODS}"
    assert "union" in offered


def _top_level_imports(tree: ast.Module) -> set[str]:
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add((node.module or "").split(".")[0])
    return top


def test_module_imports_no_heavy_library_at_load_time():
    allowed = {"__future__", "codecs", "logging", "os", "sys", "tempfile", "typing", "qt", "slicer", "vtk", "MLNNetModuleLib"}
    assert _top_level_imports(TREE) <= allowed, _top_level_imports(TREE) - allowed


# --- the GUI never waits on a computation ---------------------------------------------------------------------
BLOCKING_CALLS = {"processEvents", "waitForFinished", "waitForStarted", "waitForReadyRead", "exec_", "exec", "sleep",
                  "communicate", "check_call", "check_output", "logProcessOutput", "segment_volume_node",
                  "evaluate_segments", "quantify_segment", "segment_image", "evaluate_masks", "quantify"}
COMPUTING_MODULES = ("torch", "subprocess", "threading", "MLNNetLib.inference", "MLNNetLib.checkpoint",
                     "MLNNetLib.metrics", "MLNNetLib.classify", "MLNNetLib.quantify", "MLNNetLib.model")


def _calls_and_imports(node: ast.AST) -> tuple[set[str], set[str]]:
    calls, imports = set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            calls.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
        elif isinstance(n, ast.Import):
            imports |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            imports.add(n.module or "")
    return calls, imports


@pytest.mark.parametrize("class_name", ["MLNNetWidget", "MLNNetLogic", "QtProcess"])
def test_gui_classes_never_wait_and_compute_nothing_in_process(class_name):
    """No event-pumping loop, no blocking wait, no computation in Slicer's process: runs go to a child process
    whose signals arrive in the Qt event loop. (The self-test class may wait; it is not checked.)"""
    calls, imports = _calls_and_imports(_class(class_name))
    assert not calls & BLOCKING_CALLS, f"{class_name} calls {sorted(calls & BLOCKING_CALLS)}"
    heavy = {m for m in imports if m.startswith(COMPUTING_MODULES)}
    assert not heavy, f"{class_name} imports {sorted(heavy)}"


def test_every_run_button_starts_a_background_job():
    widget = _class("MLNNetWidget")
    handlers = {f.name: f for f in widget.body if isinstance(f, ast.FunctionDef)}
    for name in ("onApplyButton", "onEvaluateButton", "onQuantifyButton", "onClassifyButton"):
        calls, _ = _calls_and_imports(handlers[name])
        assert "_startJob" in calls and "_ensureDependencies" in calls, name
    starter, _ = _calls_and_imports(handlers["_startJob"])
    assert "QtProcess" in starter and "start" in starter


@pytest.mark.parametrize("path", ["MLNNetLib/scene/jobs.py", "MLNNetLib/scene/views.py", "MLNNet/MLNNetModuleLib/states.py"])
def test_job_and_view_logic_never_waits(path):
    calls, imports = _calls_and_imports(ast.parse((ROOT / path).read_text(encoding="utf-8")))
    assert not calls & {"processEvents", "waitForFinished", "sleep", "communicate", "check_call", "check_output"}
    assert not {m for m in imports if m.startswith(("qt", "subprocess", "threading"))}


# --- packaging lists --------------------------------------------------------------------------------------------
def test_cmake_lists_exactly_the_library_files_on_disk():
    listed = ext_files.listed_sources((MODULE / "CMakeLists.txt").read_text(encoding="utf-8"))
    disk = ext_files.library_sources()
    missing, extra = sorted(set(disk) - set(listed)), sorted(set(listed) - set(disk))
    assert not missing and not extra, (
        f"MLNNet/CMakeLists.txt is out of date (run python Testing/slicer_extension_files.py --write): "
        f"missing {missing}, not on disk {extra}")
    assert listed == sorted(listed) and len(listed) == len(set(listed))
    text = (MODULE / "CMakeLists.txt").read_text(encoding="utf-8")
    resources = ext_files.listed_sources(text, ext_files.RES_BEGIN, ext_files.RES_END)
    assert resources == ext_files.library_resources() and "datasets/manifest.schema.json" in resources


def _cmake_block(text: str, name: str) -> list[str]:
    body = re.search(rf"set\({name}\n(.*?)\n  \)", text, re.S).group(1)
    return [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_cmake_module_files_and_resources_exist():
    text = (MODULE / "CMakeLists.txt").read_text(encoding="utf-8")
    scripts = _cmake_block(text, "MODULE_PYTHON_SCRIPTS")
    assert sorted(s for s in scripts if s != "${MODULE_NAME}.py") == ext_files.module_helper_sources()
    for block in ("MODULE_PYTHON_SCRIPTS", "MODULE_PYTHON_RESOURCES"):
        for entry in _cmake_block(text, block):
            assert (MODULE / entry.replace("${MODULE_NAME}", "MLNNet")).is_file(), f"{block}: {entry} does not exist"
    resources = _cmake_block(text, "MODULE_PYTHON_RESOURCES")
    assert {"Resources/requirements.txt", "Resources/requirements-classify.txt"} <= set(resources)
    assert "slicerMacroBuildScriptedModule" in text and "ctkMacroCompilePythonScript" in text
    assert not [s for s in scripts if "MLNNetLib/" in s and not s.startswith("MLNNetModuleLib/")]  # not under the module's SCRIPTS
    assert "add_subdirectory(MLNNet)" in (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")


def test_only_the_module_file_sits_at_the_top_of_the_module_folder():
    """Slicer's scripted-module factory loads every .py at the top of qt-scripted-modules as a module."""
    assert sorted(p.name for p in MODULE.glob("*.py")) == ["MLNNet.py"]


# --- extension metadata and minimum version ---------------------------------------------------------------------
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
    assert s4ext["scm"] == index["scm_type"] == "git"
    assert s4ext["scmurl"] == index["scm_url"] == cmake["HOMEPAGE"] + ".git"
    assert s4ext["scmrevision"] == index["scm_revision"] and s4ext["build_subdirectory"] == index["build_subdirectory"]
    assert (s4ext["enabled"] == "1") == index.get("enabled", True)
    title = re.search(r'self\.parent\.categories = \["(\w+)"\]', SOURCE).group(1)
    assert title == cmake["CATEGORY"]
    assert "Knowledge-Based Systems" in SOURCE and "MLN-net: A multi-source medical image segmentation" in SOURCE


def test_catalog_entry_follows_the_current_extensions_index_schema():
    index = json.loads((ROOT / "MLNNet.json").read_text(encoding="utf-8"))
    assert index["$schema"] == CATALOG_SCHEMA
    assert CATALOG_REQUIRED <= set(index) <= CATALOG_PROPERTIES, set(index) - CATALOG_PROPERTIES
    assert index["scm_type"] in ("git", "local") and isinstance(index["build_dependencies"], list)
    assert all(isinstance(index[k], str) for k in ("category", "scm_url", "scm_revision", "build_subdirectory"))


def test_minimum_slicer_version_is_declared_everywhere_and_honoured():
    need = ".".join(map(str, environment.MINIMUM_SLICER))
    assert need == "5.10"
    assert re.search(rf"find_package\(Slicer {re.escape(need)} REQUIRED\)", (ROOT / "CMakeLists.txt").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"3D Slicer {need} or later" in readme
    assert f"Slicer {need} or later" in SOURCE  # the module's help text
    requires = re.search(r'^requires-python = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M).group(1)
    assert requires == ">=" + ".".join(map(str, environment.MINIMUM_PYTHON))


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in MODULE.rglob("*.py")))
def test_module_files_parse_and_import_on_the_oldest_slicer_python(path):
    """MLNNet.py and its helpers parse with Python 3.9's grammar (Slicer 5.8) and never evaluate annotations,
    so an older Slicer loads the module and shows the version message instead of a SyntaxError/TypeError."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), feature_version=(3, 9))
    has_annotations = any(isinstance(n, (ast.AnnAssign, ast.arg)) and getattr(n, "annotation", None) is not None
                          or isinstance(n, ast.FunctionDef) and n.returns is not None for n in ast.walk(tree))
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
                 for n in tree.body)
    assert future or not has_annotations, f"{path}: add 'from __future__ import annotations'"
    for n in ast.walk(tree):  # `X | Y` outside annotations is evaluated at run time (TypeError on 3.9)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "isinstance" and isinstance(n.args[1], ast.BinOp):
            raise AssertionError(f"{path}:{n.lineno}: isinstance with X | Y needs Python 3.10")


def test_version_message_and_library_path(tmp_path):
    assert environment.version_problem((5, 10), (3, 12)) is None
    message = environment.version_problem((5, 8), (3, 9))
    assert "5.10 or later" in message and "Slicer 5.8" in message and "3.9" in message
    assert environment.version_problem((5, 12), (3, 9)) is not None
    installed = tmp_path / "qt-scripted-modules"
    (installed / "MLNNetLib").mkdir(parents=True)
    assert environment.library_parent(str(installed)) is None
    checkout = tmp_path / "repo"
    (checkout / "MLNNet").mkdir(parents=True)
    (checkout / "MLNNetLib").mkdir()
    assert environment.library_parent(str(checkout / "MLNNet")) == str(checkout)
    assert environment.library_parent(str(tmp_path / "elsewhere")) is None


def test_icon_is_a_128px_png():
    data = (MODULE / "Resources" / "Icons" / "MLNNet.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (128, 128)
