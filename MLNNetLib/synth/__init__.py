"""Synthetic multi-domain mammograms with exact microcalcification masks (the project's embedded data).

No labelled microcalcification data can be downloaded, so scenes are built from physical parts
(anatomy, calcifications in mm, distractors) and acquired through scanner styles (``DOMAINS``): detector pitch,
blur and noise, vendor processing, tomosynthesis, CR, film, and photometric storage.
"""

from MLNNetLib.synth.domains import DOMAINS, SOURCE_DOMAIN, DomainSpec, get_domain
from MLNNetLib.synth.generate import DEFAULT_SHAPE, DEFAULT_SPACING_MM, Scene, build_scene, generate_case, render_case

__all__ = ["DOMAINS", "SOURCE_DOMAIN", "DomainSpec", "get_domain", "DEFAULT_SHAPE", "DEFAULT_SPACING_MM", "Scene",
           "build_scene", "generate_case", "render_case"]

from MLNNetLib.synth.dataset import case_seed, load_manifest, write_dataset, write_datasets  # noqa: E402

__all__ += ["case_seed", "load_manifest", "write_dataset", "write_datasets"]
