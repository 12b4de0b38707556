"""Synthetic multi-domain mammograms with exact microcalcification masks (the project's embedded data).

No labelled microcalcification data can be downloaded, so scenes are built from physics-like parts
(anatomy, calcifications, distractors) and rendered through scanner-like domains (``DOMAINS``).
"""

from MLNNetLib.synth.domains import DOMAINS, DomainSpec, get_domain
from MLNNetLib.synth.generate import DEFAULT_SHAPE, DEFAULT_SPACING_MM, Scene, build_scene, generate_case, render_case

__all__ = ["DOMAINS", "DomainSpec", "get_domain", "DEFAULT_SHAPE", "DEFAULT_SPACING_MM", "Scene", "build_scene",
           "generate_case", "render_case"]

from MLNNetLib.synth.dataset import case_seed, load_manifest, write_dataset, write_datasets  # noqa: E402

__all__ += ["case_seed", "load_manifest", "write_dataset", "write_datasets"]
