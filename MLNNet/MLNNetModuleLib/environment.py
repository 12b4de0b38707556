"""Where MLNNetLib is, and whether this Slicer is recent enough: decided before anything heavy is imported.

This file and ``MLNNet.py`` parse with Python 3.9's grammar (Slicer 5.8) on purpose: an older Slicer then
shows the message below instead of failing to load the module.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

MINIMUM_SLICER = (5, 10)  # first Slicer with Python 3.12; Slicer 5.8 has Python 3.9
MINIMUM_PYTHON = (3, 10)  # MLNNetLib's requires-python (pyproject.toml)


def version_problem(slicer_version: Sequence[int], python_version: Sequence[int]) -> Optional[str]:
    """A user-facing sentence when this Slicer cannot run MLNNet, else None."""
    slicer_v, python_v = tuple(slicer_version[:2]), tuple(python_version[:2])
    if slicer_v < MINIMUM_SLICER or python_v < MINIMUM_PYTHON:
        need = ".".join(map(str, MINIMUM_SLICER))
        have = ".".join(map(str, slicer_v))
        py = ".".join(map(str, python_v))
        return (f"MLNNet needs 3D Slicer {need} or later (Python {'.'.join(map(str, MINIMUM_PYTHON))}+); this is "
                f"Slicer {have} with Python {py}. Install a current Slicer from download.slicer.org.")
    return None


def library_parent(module_dir: str) -> Optional[str]:
    """The folder to add to ``sys.path`` so that ``import MLNNetLib`` works, or None when nothing is needed.

    Installed extension: MLNNetLib/ lies beside MLNNet.py, in the folder Slicer already puts on sys.path.
    Source checkout added through *Additional module paths*: MLNNetLib/ is one level up, beside MLNNet/.
    """
    if os.path.isdir(os.path.join(module_dir, "MLNNetLib")):
        return None
    parent = os.path.dirname(os.path.abspath(module_dir))
    return parent if os.path.isdir(os.path.join(parent, "MLNNetLib")) else None
