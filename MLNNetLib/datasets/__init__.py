"""Datasets from any source described by one validated manifest (``manifest``): public-collection adapters
(``cbis_ddsm``, ``inbreast``), a folder of image/mask pairs (``pairs``) and patient-level splits (``splits``).
Adapters are imported by ``mlnnet prepare`` only when used."""

from MLNNetLib.datasets.manifest import (FORMAT, LABEL_KINDS, MANIFEST_NAME, SCHEMA_VERSION, Manifest, Problem,
                                         check_manifest, find_manifests, load_manifest, schema, write_manifest)

__all__ = ["FORMAT", "LABEL_KINDS", "MANIFEST_NAME", "SCHEMA_VERSION", "Manifest", "Problem", "check_manifest",
           "find_manifests", "load_manifest", "schema", "write_manifest"]
