"""Turn a physical scene into the pixel values one style's scanner, processing and file would store.

Order of the chain (each stage in its own module): attenuation seen by the style (2-D projection, tomosynthesis
slice with ghosts, or synthesised 2-D) -> detector (exposure, PSF, quantum / structure / electronic noise) ->
spikes -> log or linear signal -> processing (``present``), reconstruction look (``reconstruct``) or film and
digitiser -> display value 0..1 (dense bright) -> stored value: bit depth, air level, output noise, and for
``stored_inverted`` styles the whole image inverted (air bright in the file, as MONOCHROME1 files and wrongly
tagged files hold it).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from MLNNetLib.synth.detector import detect
from MLNNetLib.synth.domains import DomainSpec
from MLNNetLib.synth.film import develop_and_scan
from MLNNetLib.synth.processing import present, soft_window
from MLNNetLib.synth.tomo import in_focus, reconstruct, slice_attenuation, synthesise, synthesised_attenuation

if TYPE_CHECKING:
    from MLNNetLib.synth.generate import Scene


def domain_rng(seed: int, spec: DomainSpec) -> np.random.Generator:
    """Noise differs between styles but is reproducible: the stream depends on (seed, style or its noise_stream)."""
    return np.random.default_rng([int(seed), zlib.crc32((spec.noise_stream or spec.name).encode())])


def _display(scene: "Scene", spec: DomainSpec, rng: np.random.Generator) -> np.ndarray:
    """Display values 0..1 (dense bright) of the style's acquisition and processing."""
    pitch = spec.pixel_mm or scene.spacing_mm
    layers = scene.layers(pitch)
    if spec.mapping == "dbt":
        a = slice_attenuation(scene, layers, spec)
    elif spec.mapping == "s2d":
        a = synthesised_attenuation(layers, spec)
    else:
        a = layers.projection(spec.tissue_weight)
    s = detect(a, spec, rng, pitch)
    if len(layers.spikes):  # dust / dead pixels after the PSF: one pixel, bright like attenuation
        r, c = layers.spikes[:, 0], layers.spikes[:, 1]
        s[r, c] *= np.exp(-layers.spike_amplitudes)
    if spec.mapping == "raw":  # 'for processing': linear in exposure; display convention = 1 - exposure
        off = float(spec.params.get("offset", 0.01))
        return np.clip(1.0 - (off + (1.0 - off) * s), 0.0, 1.0).astype(np.float32)
    p = -np.log(s)
    if spec.mapping == "film":
        return develop_and_scan(p, spec, rng, pitch)
    if spec.mapping == "dbt":
        q = reconstruct(p, layers, spec)
        interior = layers.breast & (layers.thickness > 0.5)
        lo = float(np.percentile(q[interior], 0.5)) if interior.any() else 0.0
        hi = float(np.percentile(q[interior], 99.8)) if interior.any() else 1.0
        v = soft_window((q - lo) / max(hi - lo, 1e-6), toe=12.0)
        return np.where(layers.breast, v, 0.0).astype(np.float32)
    if spec.mapping == "s2d":
        p = synthesise(p, layers, spec)
    return present(p, layers, spec)


def store(v: np.ndarray, spec: DomainSpec, rng: np.random.Generator) -> np.ndarray:
    """Display values -> stored integers (as float32) of the style's file."""
    bg = spec.background_level
    out = (bg + (1.0 - bg) * v) * spec.max_value
    if spec.stored_inverted:
        out = spec.max_value - out
    if spec.output_noise > 0:
        out = out + spec.output_noise * rng.standard_normal(out.shape, dtype=np.float32)
    return np.clip(np.rint(out), 0, spec.max_value).astype(np.float32)


def visible_calcifications(scene: "Scene", spec: DomainSpec) -> list[int]:
    return in_focus(scene, spec) if spec.mapping == "dbt" else list(range(len(scene.calcs)))


def annotation(scene: "Scene", spec: DomainSpec, visible: list[int]) -> tuple[np.ndarray, list[int]]:
    """(mask uint8, cluster id per calcification) on the style's grid. All calcifications: the shared mask and the
    planned clusters. A subset (tomosynthesis): its stamps, and clusters as the quantifier's rule finds them."""
    pitch = spec.pixel_mm or scene.spacing_mm
    layer = scene.layers(pitch).calcs
    clusters = [c.cluster for c in scene.calcs]
    if len(visible) == len(scene.calcs):
        return layer.mask.copy(), clusters
    mask = np.zeros_like(layer.mask)
    for i in visible:
        st = layer.stamps[i]
        h, w = st.mask.shape
        mask[st.r0:st.r0 + h, st.c0:st.c0 + w][st.mask] = 1
    from MLNNetLib.quantify.clusters import find_clusters

    found = find_clusters(mask, (pitch, pitch))
    for i in visible:
        st = layer.stamps[i]
        rr, cc = np.nonzero(st.mask)
        clusters[i] = max(int(found.cluster_labels[rr[0] + st.r0, cc[0] + st.c0]), 0)
    return mask, clusters


def render(scene: "Scene", spec: DomainSpec) -> tuple[np.ndarray, list[int], list[int], np.ndarray]:
    """(stored pixel values float32 holding integers 0..2**bits-1, visible calcification indices,
    cluster id per calcification, annotation mask uint8) of ``scene`` acquired in style ``spec``."""
    rng = domain_rng(scene.seed, spec)
    image = store(_display(scene, spec, rng), spec, rng)
    visible = visible_calcifications(scene, spec)
    mask, clusters = annotation(scene, spec, visible)
    return image, visible, clusters, mask
