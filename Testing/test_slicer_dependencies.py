"""First-use dependency installation of the Slicer module (MLNNet/MLNNetModuleLib/dependencies.py), without Slicer.

The Slicer calls sit behind a backend; here a stand-in backend prints pip's output line by line and raises
the way Slicer's installers do (``CalledProcessError`` whose ``output`` is the process's spent stdout file,
not text). The pip text is real: pip is run against an unreachable index and against an empty folder.
"""

from __future__ import annotations

import io
import subprocess
import sys
import types
from pathlib import Path
from subprocess import CalledProcessError

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "MLNNet"))

from MLNNetModuleLib import dependencies as deps  # noqa: E402

CLASSIFIER_PACKAGES = {"scikit-learn", "skops", "matplotlib"}


def _pip(*args: str, tmp_path: Path) -> str:
    """Real pip output (stdout and stderr, as Slicer's launcher merges them) of a failing download."""
    run = subprocess.run([sys.executable, "-m", "pip", "download", "--isolated", "--no-cache-dir", "-d", str(tmp_path / "dl"),
                          *args, "nothing-here-mlnnet"], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    return run.stdout + run.stderr


@pytest.fixture(scope="module")
def offline_pip_text(tmp_path_factory) -> str:
    return _pip("--index-url", "http://127.0.0.1:9/", "--retries", "1", "--timeout", "2", tmp_path=tmp_path_factory.mktemp("pip"))


@pytest.fixture(scope="module")
def not_found_pip_text(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("pip")
    (tmp / "empty").mkdir()
    return _pip("--no-index", "--find-links", str(tmp / "empty"), tmp_path=tmp)


class FakeBackend:
    """Records calls; prints ``output`` like Slicer's logProcessOutput and fails like it when told to."""

    def __init__(self, torch_output: str = "", pip_output: str = "", fail: str | None = None, exc_output=None) -> None:
        self.calls: list[tuple] = []
        self.torch_output, self.pip_output, self.fail, self.exc_output = torch_output, pip_output, fail, exc_output
        self.during_install = None
        self.elsewhere = False
        self.installed: dict[str, str] = {}

    def busy_elsewhere(self) -> bool:
        return self.elsewhere

    def _run(self, step: str, output: str, names: list[str]) -> None:
        for line in output.splitlines():
            print(line)  # what Slicer's installers do with every line
        if self.during_install is not None:
            self.during_install()
        if self.fail == step:
            raise CalledProcessError(1, ["PythonSlicer", "-m", "pip"], output=self.exc_output if self.exc_output is not None else io.StringIO())
        self.installed.update({n: "99.0" for n in names})

    def install_torch(self) -> None:
        self.calls.append(("torch",))
        self._run("torch", self.torch_output, ["torch", "torchvision"])

    def pip_install(self, requirements: list[str], constraints_file: str) -> None:
        self.calls.append(("pip", tuple(requirements), Path(constraints_file).read_text(encoding="utf-8")))
        self._run("pip", self.pip_output, [r.split(">=")[0] for r in requirements])


def _installer(backend: FakeBackend, have: dict[str, str], pytorchutils: bool = True) -> deps.Installer:
    def version_of(name: str):
        return backend.installed.get(name, have.get(name))

    return deps.Installer(backend, version_of=version_of, has_module=lambda name: pytorchutils and name == "PyTorchUtils")


SLICER_OWN = {"numpy": "2.0.2", "scipy": "1.13.1", "vtk": "9.4.2", "SimpleITK": "2.4.1", "pydicom": "2.4.4"}


def test_requirements_files_parse_and_leave_slicer_packages_alone():
    segment = {r.name for r in deps.requirements_for("segment")}
    classify = {r.name for r in deps.requirements_for("classify")}
    assert {"timm", "safetensors"} <= segment and not segment & CLASSIFIER_PACKAGES  # item 12
    assert classify == CLASSIFIER_PACKAGES
    assert deps.requirements_for("evaluate") == [] and deps.requirements_for("quantify") == []
    protected = {p.lower() for p in deps.PROTECTED}
    assert not {n.lower() for n in segment | classify} & protected
    with pytest.raises(ValueError, match="belongs to Slicer"):
        deps.parse_requirements("scipy>=1\n")
    with pytest.raises(ValueError, match="unsupported requirement"):
        deps.parse_requirements("timm<2\n")


def test_segmentation_installs_only_its_own_packages_and_classification_later_its_own():
    """Item 12: the classifier packages are not installed for segmentation, and are installed on first scoring."""
    backend = FakeBackend()
    installer = _installer(backend, SLICER_OWN)
    questions: list[str] = []
    result = installer.ensure("segment", confirm=lambda q: questions.append(q) or True)
    assert result.status == "installed", result.message
    assert backend.calls[0] == ("torch",)
    _, installed, constraints = backend.calls[1]
    assert set(installed) == {str(r) for r in deps.requirements_for("segment")}
    assert "numpy==2.0.2" in constraints and "scipy==1.13.1" in constraints and "torch==99.0" in constraints
    assert len(questions) == 1 and "PyTorch" in questions[0]  # item 4: one confirmation, the module's own
    assert installer.ensure("evaluate", confirm=lambda q: pytest.fail("nothing to ask")).status == "ready"
    assert installer.ensure("segment", confirm=lambda q: pytest.fail("nothing to ask")).status == "ready"
    result = installer.ensure("classify", confirm=lambda q: True)
    assert result.status == "installed"
    assert set(backend.calls[-1][1]) == {str(r) for r in deps.requirements_for("classify")}


def test_a_second_request_during_an_install_does_not_start_another():
    """Item 6: installers pump Qt events, so a click can arrive mid-install; it is refused."""
    backend = FakeBackend()
    installer = _installer(backend, SLICER_OWN)
    nested: list[deps.InstallResult] = []
    backend.during_install = lambda: nested.append(installer.ensure("segment", confirm=lambda q: True))
    assert installer.ensure("segment", confirm=lambda q: True).status == "installed"
    assert [r.status for r in nested] == ["busy", "busy"]  # asked during the torch and the pip step
    assert [c[0] for c in backend.calls] == ["torch", "pip"]
    assert not installer.busy
    other = FakeBackend()
    other.elsewhere = True  # another extension's pip install (slicer.packaging.isPipInstallInProgress)
    assert _installer(other, SLICER_OWN).ensure("segment", confirm=lambda q: True).status == "busy" and other.calls == []


def test_failed_pytorch_install_is_reported_not_swallowed(not_found_pip_text):
    """Item 2: installTorch raises CalledProcessError; the user gets a message, nothing else is installed."""
    backend = FakeBackend(torch_output=not_found_pip_text, fail="torch")
    result = _installer(backend, SLICER_OWN).ensure("segment", confirm=lambda q: True)
    assert result.status == "failed"
    assert result.message.startswith("Installing PyTorch failed") and "No matching distribution" in result.message
    assert backend.calls == [("torch",)]


def test_offline_is_recognised_from_real_pip_output(offline_pip_text, capsys):
    """Item 3: CalledProcessError's text has none of pip's words; the printed lines do."""
    assert "Failed to establish a new connection" in offline_pip_text  # what real pip printed here
    backend = FakeBackend(pip_output=offline_pip_text, fail="pip")
    result = _installer(backend, {**SLICER_OWN, "torch": "2.5.1"}).ensure("segment", confirm=lambda q: True)
    assert result.status == "failed"
    assert result.message.startswith("Could not reach the Python package index")
    assert "--no-index --find-links" in result.message and deps.REQUIREMENTS_FILES["segment"] in result.message
    assert "Connection refused" in result.message  # pip's own reason is quoted
    assert "Failed to establish" in capsys.readouterr().out  # the lines still reach the console


def test_offline_from_the_exception_text_when_it_carries_output(offline_pip_text, not_found_pip_text):
    error = CalledProcessError(1, "pip", output=offline_pip_text.encode())
    assert deps.looks_offline(deps.pip_output(error, captured=["unrelated"]))
    plain = CalledProcessError(1, "pip", output=io.StringIO())  # Slicer's case: a spent file object
    assert deps.pip_output(plain, captured=["line 1", "line 2"]) == "line 1\nline 2"
    assert "returned non-zero exit status" in str(plain) and not deps.looks_offline(str(plain))


def test_a_package_that_does_not_exist_is_not_called_offline(not_found_pip_text):
    assert "Could not find a version" in not_found_pip_text and not deps.looks_offline(not_found_pip_text)
    backend = FakeBackend(pip_output=not_found_pip_text, fail="pip")
    result = _installer(backend, {**SLICER_OWN, "torch": "2.5.1"}).ensure("segment", confirm=lambda q: True)
    assert result.status == "failed" and result.message.startswith("Installing Python packages failed")
    assert "No matching distribution found" in result.message


def test_declined_and_missing_pytorch_extension():
    backend = FakeBackend()
    assert _installer(backend, SLICER_OWN).ensure("segment", confirm=lambda q: False).status == "declined"
    result = _installer(backend, SLICER_OWN, pytorchutils=False).ensure("segment", confirm=lambda q: pytest.fail("no question"))
    assert result.status == "failed" and result.message == deps.PYTORCH_EXTENSION_HELP
    assert backend.calls == []


def test_line_capture_passes_lines_through_and_restores_stdout(capsys):
    seen: list[str] = []
    original = sys.stdout
    with deps.LineCapture(seen.append) as capture:
        sys.stdout.write("Collecting ti")
        sys.stdout.write("mm\nDownloading x\n")
        print("last without newline", end="")
    assert sys.stdout is original
    assert capture.lines == ["Collecting timm", "Downloading x", "last without newline"] == seen
    assert "Collecting timm" in capsys.readouterr().out


def pip_ensure(requirements, constraints=None, skip_packages=None, prompt_install=True, prompt_restart=True,
               requester=None, skip_in_testing=True, show_progress=True):
    """The signature of slicer.packaging.pip_ensure (Slicer 5.12 .. main), recorded by the stand-in below."""
    SLICER.recorded.append(dict(requirements=requirements, constraints=constraints, prompt_install=prompt_install,
                                requester=requester, show_progress=show_progress, skip_packages=skip_packages))


SLICER = types.SimpleNamespace(recorded=[])


def _fake_slicer(with_packaging: bool, with_pydeps: bool = False):
    util_calls: list = []
    module = types.SimpleNamespace(__name__="fake_slicer_for_mlnnet", util=types.SimpleNamespace(pip_install=util_calls.append))
    if with_packaging:
        module.packaging = types.SimpleNamespace(pip_ensure=pip_ensure, isPipInstallInProgress=lambda: False)
    if with_pydeps:  # no such module exists in Slicer; a backend must not look for it
        module.pydeps = types.SimpleNamespace(pip_ensure=lambda *a, **k: pytest.fail("slicer.pydeps used"))
    return module, util_calls


def test_slicer_backend_uses_pip_ensure_without_its_prompt(tmp_path):
    """Items 4 and 5: Slicer >= 5.12 gets pip_ensure(prompt_install=False, requester); 5.10 slicer.util.pip_install."""
    SLICER.recorded.clear()
    module, util_calls = _fake_slicer(with_packaging=True, with_pydeps=True)
    backend = deps.SlicerBackend(module)
    backend.pip_install(["timm>=1.0"], str(tmp_path / "c.txt"))
    assert SLICER.recorded == [dict(requirements=["timm>=1.0"], constraints=str(tmp_path / "c.txt"), prompt_install=False,
                                    requester="MLNNet", show_progress=True, skip_packages=None)]
    assert util_calls == [] and backend.busy_elsewhere() is False
    old, util_calls = _fake_slicer(with_packaging=False, with_pydeps=True)
    deps.SlicerBackend(old).pip_install(["timm>=1.0"], "c.txt")
    assert util_calls == [["timm>=1.0", "-c", "c.txt"]]
    source = (ROOT / "MLNNet" / "MLNNetModuleLib" / "dependencies.py").read_text(encoding="utf-8")
    assert "pydeps" not in source


def test_slicer_backend_torch_via_pytorchutils(monkeypatch):
    calls = []

    class Logic:
        def installTorch(self, askConfirmation=False, forceComputationBackend=None, torchVersionRequirement=None,
                         torchvisionVersionRequirement=None):
            calls.append(askConfirmation)
            return result

    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=Logic))
    result = types.SimpleNamespace(__version__="2.5.1")
    deps.SlicerBackend(_fake_slicer(True)[0]).install_torch()
    result = None  # declined inside PyTorchUtils: an error, not a silent return
    with pytest.raises(RuntimeError, match="not installed"):
        deps.SlicerBackend(_fake_slicer(True)[0]).install_torch()
    assert calls == [False, False]  # the module asked already


def test_self_test_skips_until_torch_and_the_segmentation_packages_are_there():
    """Item 8: a fresh Slicer with the PyTorch extension but no torch yet."""
    have = dict(SLICER_OWN)
    reason = deps.self_test_skip_reason(have.get, has_module=lambda name: name == "PyTorchUtils")
    assert reason.startswith("MLNNet self-test skipped") and "torch" in reason and "timm" in reason
    have.update({"torch": "2.5.1", "timm": "1.0.31", "safetensors": "0.8.0", "tqdm": "4.70.1"})
    assert deps.self_test_skip_reason(have.get, has_module=lambda name: False) is None
