"""First-use dependency installation of the MLNNet module inside 3D Slicer, decided without Slicer.

Each feature installs only what it needs, when it is first used: segmentation needs PyTorch (from the
PyTorch extension's PyTorchUtils, matching the GPU) and ``Resources/requirements.txt``; classification the
classifier packages of ``Resources/requirements-classify.txt``. Evaluation and quantification need only
what Slicer ships (numpy, scipy, SimpleITK). Slicer's own packages are pinned with a constraints file so pip
can never replace them.

Slicer's installers (PyTorchUtils, ``slicer.packaging.pip_ensure`` from Slicer 5.12, ``slicer.util.pip_install``
before) run pip in a child process and print every output line; they raise ``CalledProcessError`` without
pip's text. :class:`LineCapture` keeps those printed lines so that a failure is explained from pip's own
words (offline or not). :class:`Installer` holds the decisions and the one-install-at-a-time guard; the
Slicer calls are behind :class:`SlicerBackend`, so everything else is tested with a stand-in backend.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

RESOURCES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Resources")
REQUIREMENTS_FILES = {
    "segment": os.path.join(RESOURCES, "requirements.txt"),
    "classify": os.path.join(RESOURCES, "requirements-classify.txt"),
}
NEEDS_TORCH = ("segment",)
# Packages Slicer (or the PyTorch extension) owns: never listed, never installed or upgraded by this module.
PROTECTED = ("numpy", "scipy", "vtk", "SimpleITK", "pydicom", "torch", "torchvision")
REQUESTER = "MLNNet"
PYTORCH_EXTENSION_HELP = (
    "MLNNet needs PyTorch. Install the 'PyTorch' extension from the Extensions Manager "
    "(View > Extensions Manager > search 'PyTorch'), restart Slicer, and open MLNNet again; "
    "it then installs a torch build that matches your GPU (or the CPU build)."
)
OFFLINE_HELP = (
    "Could not reach the Python package index while installing {step} ({detail}). Check the internet "
    "connection or proxy and try again.\n\nWithout internet: on a connected computer with the same operating "
    "system run\n  pip download -r {req} -d wheels\ncopy the 'wheels' folder here, and in Slicer's Python "
    "console run\n  slicer.util.pip_install('--no-index --find-links /path/to/wheels -r {req}')\nthen press the "
    "button again."
)
# What pip (urllib3/requests underneath) prints when the index cannot be reached; a missing or misspelt
# package alone ("Could not find a version ...") is NOT offline.
OFFLINE_MARKERS = (
    "Failed to establish a new connection", "NewConnectionError", "Temporary failure in name resolution",
    "Name or service not known", "nodename nor servname provided", "getaddrinfo failed", "Network is unreachable",
    "No route to host", "Connection refused", "ConnectTimeoutError", "Read timed out", "ProxyError",
    "Max retries exceeded", "SSLError", "CERTIFICATE_VERIFY_FAILED",
)

Version = Callable[[str], Optional[str]]


@dataclass(frozen=True)
class Requirement:
    name: str
    minimum: str | None = None

    def __str__(self) -> str:
        return self.name if self.minimum is None else f"{self.name}>={self.minimum}"


@dataclass
class Plan:
    """What the first use of one feature has to do: install these requirements, and what to do about torch."""

    feature: str
    install: list[Requirement] = field(default_factory=list)
    torch: str = "ok"  # "ok" | "pytorchutils" (extension present, torch not installed) | "missing" (no extension)
    messages: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.install and self.torch == "ok"


@dataclass(frozen=True)
class InstallResult:
    """``ready`` (nothing to do), ``installed``, ``declined``, ``busy`` (another install runs) or ``failed``."""

    status: str
    message: str = ""

    @property
    def usable(self) -> bool:
        return self.status in ("ready", "installed")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(text: str, source: str = "requirements") -> list[Requirement]:
    """``name`` or ``name>=version`` lines; comments and blanks ignored; anything else is refused."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:>=\s*([0-9][0-9A-Za-z.]*))?", line)
        if not m:
            raise ValueError(f"{source}: unsupported requirement line {raw!r} (use 'name' or 'name>=version')")
        if _norm(m.group(1)) in {_norm(p) for p in PROTECTED}:
            raise ValueError(f"{source}: {m.group(1)} belongs to Slicer or the PyTorch extension; do not list it")
        out.append(Requirement(m.group(1), m.group(2)))
    return out


def requirements_for(feature: str) -> list[Requirement]:
    path = REQUIREMENTS_FILES.get(feature)
    if path is None:
        return []
    with open(path, encoding="utf-8") as f:
        return parse_requirements(f.read(), path)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def missing(requirements: Sequence[Requirement], version_of: Version = installed_version) -> list[Requirement]:
    """Requirements not installed, or installed below their minimum version."""
    out = []
    for req in requirements:
        have = version_of(req.name)
        if have is None or (req.minimum is not None and _version_tuple(have) < _version_tuple(req.minimum)):
            out.append(req)
    return out


def constraints(version_of: Version = installed_version) -> list[str]:
    """``name==version`` for every protected package already installed: pip may not change them."""
    return [f"{name}=={v}" for name in PROTECTED if (v := version_of(name)) is not None]


def plan(
    feature: str,
    requirements: Sequence[Requirement] | None = None,
    version_of: Version = installed_version,
    has_module: Callable[[str], bool] = has_module,
) -> Plan:
    """Decide what the first use of ``feature`` must do, without doing anything."""
    requirements = requirements_for(feature) if requirements is None else requirements
    result = Plan(feature, install=missing(requirements, version_of))
    if feature in NEEDS_TORCH and version_of("torch") is None:
        if has_module("PyTorchUtils"):
            result.torch = "pytorchutils"
            result.messages.append("PyTorch is not installed yet; the PyTorch extension's PyTorchUtils installs it.")
        else:
            result.torch = "missing"
            result.messages.append(PYTORCH_EXTENSION_HELP)
    if result.install:
        result.messages.append("Python packages to install: " + ", ".join(str(r) for r in result.install))
    return result


def looks_offline(output: str) -> bool:
    """True when pip's output shows that the package index could not be reached."""
    text = output.lower()
    return any(marker.lower() in text for marker in OFFLINE_MARKERS)


def pip_output(exc: BaseException, captured: Sequence[str] = ()) -> str:
    """pip's text for a failed install: the exception's own output when it carries text, else what was captured."""
    parts = []
    for attr in ("output", "stderr"):
        value = getattr(exc, attr, None)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            parts.append(value)
    if not parts:
        parts = list(captured)
    return "\n".join(parts)


def failure_message(step: str, exc: BaseException, output: str, requirements_file: str) -> str:
    """What the user reads when an install fails: offline help, or pip's own error lines."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    if looks_offline(output):
        text = OFFLINE_HELP.format(step=step, detail=_network_reason(lines), req=requirements_file)
        if step == "PyTorch":
            text += ("\nPyTorch itself: download the torch and torchvision wheels for your GPU or the CPU "
                     "(pytorch.org) the same way, e.g. 'pip download torch torchvision -d wheels', and install "
                     "them before the rest.")
        return text
    detail = "\n".join(errors[-3:]) if errors else (lines[-1] if lines else str(exc))
    return f"Installing {step} failed:\n{detail}"


def _network_reason(lines: Sequence[str]) -> str:
    """The short reason inside pip's long retry warning, e.g. "Failed to establish a new connection: [Errno 111] Connection refused"."""
    for line in lines:
        for marker in OFFLINE_MARKERS:
            found = re.search(re.escape(marker) + r"[^'\"()]*", line, re.IGNORECASE)
            if found:
                return found.group(0).strip(" :")[:200]
    return "no network"


class LineCapture:
    """While active, every line printed to ``sys.stdout`` is kept (and passed to ``on_line``) and still printed.

    Slicer's installers print each line of pip / light-the-torch output; this is how their text is seen.
    """

    def __init__(self, on_line: Callable[[str], None] | None = None, stream_owner: Any = sys) -> None:
        self.lines: list[str] = []
        self._on_line = on_line
        self._owner = stream_owner
        self._original = None
        self._partial = ""

    def write(self, text: str) -> int:
        self._original.write(text)
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()
        for line in pieces:
            self._line(line)
        return len(text)

    def _line(self, line: str) -> None:
        line = line.rstrip("\r")
        self.lines.append(line)
        if self._on_line is not None and line.strip():
            try:
                self._on_line(line)
            except Exception:  # a progress display must never break the install
                pass

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)

    def __enter__(self) -> LineCapture:
        self._original = self._owner.stdout
        self._owner.stdout = self
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        self._owner.stdout = self._original


class Installer:
    """Ensures one feature's dependencies; one installation at a time, however often it is asked."""

    def __init__(self, backend: Any, version_of: Version = installed_version,
                 has_module: Callable[[str], bool] = has_module) -> None:
        self.backend = backend
        self.busy = False
        self._version_of = version_of
        self._has_module = has_module

    def plan(self, feature: str) -> Plan:
        return plan(feature, version_of=self._version_of, has_module=self._has_module)

    def ensure(self, feature: str, confirm: Callable[[str], bool], on_line: Callable[[str], None] | None = None) -> InstallResult:
        """Install what ``feature`` still needs after ``confirm(message)``; never starts a second install."""
        if self.busy or self.backend.busy_elsewhere():
            return InstallResult("busy", "A Python package installation is already running; wait for it to finish.")
        todo = self.plan(feature)
        if todo.ready:
            return InstallResult("ready")
        if todo.torch == "missing":
            return InstallResult("failed", PYTORCH_EXTENSION_HELP)
        question = "\n".join(todo.messages) + "\n\nInstall now? Slicer may be busy for a few minutes; progress is shown."
        if not confirm(question):
            return InstallResult("declined", "Installation declined: nothing was installed.")
        self.busy = True
        try:
            return self._install(todo, on_line)
        finally:
            self.busy = False

    def _install(self, todo: Plan, on_line: Callable[[str], None] | None) -> InstallResult:
        requirements_file = REQUIREMENTS_FILES.get(todo.feature, "requirements.txt")
        with LineCapture(on_line) as captured:
            if todo.torch == "pytorchutils":
                try:
                    self.backend.install_torch()
                except Exception as exc:  # CalledProcessError from light-the-torch, RuntimeError, ImportError
                    return InstallResult("failed", failure_message("PyTorch", exc, pip_output(exc, captured.lines), requirements_file))
            if todo.install:
                with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as cfile:
                    cfile.write("\n".join(constraints(self._version_of)) + "\n")
                try:
                    self.backend.pip_install([str(r) for r in todo.install], cfile.name)
                except Exception as exc:
                    output = pip_output(exc, captured.lines)
                    return InstallResult("failed", failure_message("Python packages", exc, output, requirements_file))
                finally:
                    os.unlink(cfile.name)
        importlib.invalidate_caches()
        still = self.plan(todo.feature)
        if not still.ready:
            left = [str(r) for r in still.install] + (["torch"] if still.torch != "ok" else [])
            return InstallResult("failed", "After installation these packages are still missing: " + ", ".join(left)
                                 + ". Restart Slicer and try again.")
        return InstallResult("installed", "Installed: " + ", ".join([*(["PyTorch"] if todo.torch != "ok" else []),
                                                                     *(str(r) for r in todo.install)]))


class SlicerBackend:
    """The calls into Slicer (used only inside the application; tests use a stand-in with the same methods)."""

    def __init__(self, slicer_module: Any) -> None:
        self.slicer = slicer_module

    def _packaging(self) -> Any:
        """``slicer.packaging`` (Slicer >= 5.12) or None (Slicer 5.10)."""
        sub = getattr(self.slicer, "packaging", None)
        if sub is None:
            try:
                sub = importlib.import_module(f"{self.slicer.__name__}.packaging")
            except ImportError:
                sub = None
        return sub if sub is not None and callable(getattr(sub, "pip_ensure", None)) else None

    def busy_elsewhere(self) -> bool:
        """Another extension's non-blocking pip install is running (Slicer >= 5.12 tracks it)."""
        packaging = self._packaging()
        check = getattr(packaging, "isPipInstallInProgress", None)
        return bool(check()) if callable(check) else False

    def install_torch(self) -> None:
        import PyTorchUtils

        torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False)  # raises CalledProcessError on failure
        if torch is None:
            raise RuntimeError("PyTorch was not installed (see the PyTorch Utils module).")

    def pip_install(self, requirements: list[str], constraints_file: str) -> None:
        packaging = self._packaging()
        if packaging is not None:
            # The module asked already: no second dialog. Slicer shows the progress dialog and the log.
            packaging.pip_ensure(requirements, constraints=constraints_file, prompt_install=False, requester=REQUESTER,
                                 show_progress=True)
        else:
            self.slicer.util.pip_install([*requirements, "-c", constraints_file])


def self_test_skip_reason(version_of: Version = installed_version, has_module: Callable[[str], bool] = has_module) -> str | None:
    """Why the module's self-test cannot run yet (PyTorch or the segmentation packages missing), or None."""
    todo = plan("segment", version_of=version_of, has_module=has_module)
    if todo.ready:
        return None
    missing_names = [str(r) for r in todo.install] + (["torch"] if todo.torch != "ok" else [])
    return ("MLNNet self-test skipped: " + ", ".join(missing_names) + " not installed yet. Press "
            "'Segment microcalcifications' once to install them (or install the PyTorch extension), then run the test again.")
