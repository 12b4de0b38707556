"""First-use dependency check of the MLNNet module inside 3D Slicer.

The decisions (what is missing, what must never be touched, what to tell the user) are plain functions
that import neither slicer nor qt, so they are tested outside Slicer. Only ``ensure_dependencies`` talks
to Slicer: it uses the PyTorch extension's PyTorchUtils for torch and pip for the rest, with a constraints
file that pins Slicer's own numpy / vtk / SimpleITK / pydicom / torch so pip can never replace them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

REQUIREMENTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Resources", "requirements.txt")
# Packages Slicer (or the PyTorch extension) owns: never installed or upgraded by this module.
PROTECTED = ("numpy", "vtk", "SimpleITK", "pydicom", "torch", "torchvision")
PYTORCH_EXTENSION_HELP = (
    "MLNNet needs PyTorch. Install the 'PyTorch' extension from the Extensions Manager "
    "(View > Extensions Manager > search 'PyTorch'), restart Slicer, and open MLNNet again; "
    "it then installs a torch build that matches your GPU (or the CPU build)."
)
OFFLINE_HELP = (
    "Could not download Python packages ({detail}). Check the internet connection or proxy, then open MLNNet "
    "again. Offline: on a connected machine run 'pip download -r requirements.txt -d wheels', copy the folder, "
    "and in Slicer's Python console run slicer.util.pip_install('--no-index --find-links /path/to/wheels -r {req}')."
)

Version = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Requirement:
    name: str
    minimum: str | None = None

    def __str__(self) -> str:
        return self.name if self.minimum is None else f"{self.name}>={self.minimum}"


@dataclass
class Plan:
    """What first use has to do: install these requirements, and what to do about torch."""

    install: list[Requirement] = field(default_factory=list)
    torch: str = "ok"  # "ok" | "pytorchutils" (extension present, torch not installed) | "missing" (no extension)
    messages: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.install and self.torch == "ok"


def parse_requirements(text: str) -> list[Requirement]:
    """``name`` or ``name>=version`` lines; comments and blanks ignored; anything else is refused."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:>=\s*([0-9][0-9A-Za-z.]*))?", line)
        if not m:
            raise ValueError(f"{REQUIREMENTS_FILE}: unsupported requirement line {raw!r} (use 'name' or 'name>=version')")
        if _norm(m.group(1)) in {_norm(p) for p in PROTECTED}:
            raise ValueError(f"{REQUIREMENTS_FILE}: {m.group(1)} belongs to Slicer or the PyTorch extension; do not list it")
        out.append(Requirement(m.group(1), m.group(2)))
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


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


def missing(requirements: list[Requirement], version_of: Version = installed_version) -> list[Requirement]:
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
    requirements: list[Requirement],
    version_of: Version = installed_version,
    has_module: Callable[[str], bool] = lambda name: importlib.util.find_spec(name) is not None,
) -> Plan:
    """Decide what first use must do, without doing anything."""
    result = Plan(install=missing(requirements, version_of))
    if version_of("torch") is None:
        if has_module("PyTorchUtils"):
            result.torch = "pytorchutils"
            result.messages.append("PyTorch is not installed yet; it will be installed with the PyTorch extension's PyTorchUtils.")
        else:
            result.torch = "missing"
            result.messages.append(PYTORCH_EXTENSION_HELP)
    if result.install:
        result.messages.append("Python packages to install: " + ", ".join(str(r) for r in result.install))
    return result


def install_route(slicer_module: object) -> str:
    """Which installer this Slicer offers: "pydeps" (>= 5.11), "packaging" (pip_ensure there) or "pip_install"."""

    for name in ("pydeps", "packaging"):
        sub = getattr(slicer_module, name, None)
        if sub is None:
            try:
                sub = importlib.import_module(f"{slicer_module.__name__}.{name}")
            except (ImportError, AttributeError):
                sub = None
        if sub is not None and callable(getattr(sub, "pip_ensure", None)):
            return name
    return "pip_install"


def looks_offline(error_text: str) -> bool:
    """True when a pip failure reads like no network (so the user gets the offline instructions)."""
    needles = ("Temporary failure in name resolution", "Failed to establish a new connection", "No matching distribution",
               "Could not find a version", "Network is unreachable", "timed out", "ProxyError", "connection")
    return any(n.lower() in error_text.lower() for n in needles)


def ensure_dependencies(confirm: Callable[[str], bool] | None = None) -> bool:
    """Inside Slicer: install what is missing after ``confirm(message)``; True when everything is importable.

    Raises RuntimeError with a user-facing message when torch cannot be provided or pip fails.
    """
    import slicer  # only inside Slicer

    with open(REQUIREMENTS_FILE, encoding="utf-8") as f:
        todo = plan(parse_requirements(f.read()))
    if todo.ready:
        return True
    if todo.torch == "missing":
        raise RuntimeError(PYTORCH_EXTENSION_HELP)
    if confirm is not None and not confirm("\n".join(todo.messages) + "\n\nInstall now? (Slicer may be busy for a few minutes.)"):
        return False
    if todo.torch == "pytorchutils":
        import PyTorchUtils

        torch_logic = PyTorchUtils.PyTorchUtilsLogic()
        if torch_logic.installTorch(askConfirmation=False) is None:
            raise RuntimeError("PyTorch installation failed; see the PyTorch Utils module. " + PYTORCH_EXTENSION_HELP)
    if todo.install:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as cfile:
            cfile.write("\n".join(constraints()) + "\n")
        try:
            route = install_route(slicer)
            if route == "pydeps":  # Slicer >= 5.11
                import slicer.pydeps

                reqs = slicer.pydeps.load_requirements(REQUIREMENTS_FILE)
                slicer.pydeps.pip_ensure(reqs, constraints=cfile.name, skip_packages=list(PROTECTED), requester="MLNNet")
            elif route == "packaging":
                slicer.packaging.pip_ensure([str(r) for r in todo.install], constraints=cfile.name)
            else:
                slicer.util.pip_install(f'-r "{REQUIREMENTS_FILE}" -c "{cfile.name}"')
        except Exception as exc:  # pip reports through CalledProcessError / its own errors
            detail = str(exc)
            if looks_offline(detail):
                last = detail.splitlines()[-1] if detail else "no network"
                raise RuntimeError(OFFLINE_HELP.format(detail=last, req=REQUIREMENTS_FILE)) from exc
            raise RuntimeError(f"Installing MLNNet's Python packages failed: {detail}") from exc
        finally:
            os.unlink(cfile.name)
    still = missing(parse_requirements(open(REQUIREMENTS_FILE, encoding="utf-8").read()))
    if still:
        raise RuntimeError("After installation these packages are still missing: " + ", ".join(map(str, still)) + ". Restart Slicer and try again.")
    return True
