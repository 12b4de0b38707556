"""Training data: manifest cases prepared once (normalised on breast tissue, labels made calcification masks by the
explicit label policy, resampled to the training spacing), held in memory (``MemoryStore``) or in the
memory-mapped tile cache (``training.cache``), and a tile sampler that keeps calcifications well represented.

Both stores hold exactly the same arrays (the image is quantised to 16 bits in both), so a run gives the same
tiles whichever is used. Per-case random choices are seeded by a stable hash of the case id, never by Python's
salted ``hash`` (which differs between processes, ranks and ``--resume``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from MLNNetLib.datasets.splits import holdout_split, stable_hash
from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.preprocess import prepare_image

log = get_logger(__name__)

BREAST_SAMPLES = 20000  # breast pixels kept per case for negative tile centres
SPACING_RTOL = 0.01  # spacings closer than 1 % are the same spacing
QUANT = 65535.0  # [0, 1] images are stored as uint16 in the cache; the memory store holds the same values


@dataclass
class Case:
    id: str
    image: np.ndarray  # float32 [0,1]
    mask: np.ndarray  # uint8 0/1
    breast: np.ndarray  # bool
    spacing: tuple[float, ...]
    calc_coords: np.ndarray  # (n, 2) calcification pixels
    breast_coords: np.ndarray  # (m, 2) subsample of breast pixels
    info: dict[str, Any] = field(default_factory=dict)  # label kind, how the mask was made, resampling


def find_items(data: str | Path, domain: str | None) -> list[dict]:
    """All manifest cases of ``domain`` (None: the only domain present) from a manifest file or a folder of them."""
    from MLNNetLib.datasets.manifest import find_manifests, load_manifest

    items: list[dict] = []
    for path in find_manifests(data):
        items += load_manifest(path).items
    seen = sorted({str(i.get("domain")) for i in items})
    if domain is None:
        if len(seen) > 1:
            raise InputError(data, f"the data holds several domains {seen}; choose the source with --source-domain")
        chosen = items
    else:
        chosen = [i for i in items if i.get("domain") == domain]
    if not chosen:
        raise InputError(data, f"no images of domain {domain!r}; domains present: {seen}")
    ids = [i["id"] for i in chosen]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise InputError(data, f"case id {dup!r} appears in more than one manifest; ids must be unique")
    return chosen


def training_spacing(items: Sequence[dict], requested: float | None = None) -> tuple[float, float]:
    """The in-plane spacing training works at: ``requested``, else the images' common spacing, else their median
    (mixed spacings are resampled to it when the cases are prepared)."""
    if requested is not None:
        if not requested > 0:
            raise InputError(None, f"--spacing must be positive, got {requested}")
        log.info("training spacing %g mm (--spacing)", requested)
        return float(requested), float(requested)
    spacings = np.array([i["spacing_mm"][-2:] for i in items], dtype=np.float64)
    first = spacings[0]
    if np.allclose(spacings, first, rtol=SPACING_RTOL):
        return float(first[0]), float(first[1])
    median = np.median(spacings, axis=0)
    log.info("mixed spacings (%.4g-%.4g mm): training at their median %.4g x %.4g mm; the others are resampled "
             "(--spacing chooses another)", spacings.min(), spacings.max(), median[0], median[1])
    return float(median[0]), float(median[1])


def _resample(img01: np.ndarray, mask: np.ndarray, breast: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Image linear; breast nearest; mask linear then >= 0.5 (a pixel is calcification when half covered)."""
    from MLNNetLib.inference.resample import resize_plane

    return (np.clip(resize_plane(img01, shape, order=1), 0.0, 1.0).astype(np.float32),
            (resize_plane(mask.astype(np.float32), shape, order=1) >= 0.5).astype(np.uint8),
            resize_plane(breast.astype(np.uint8), shape, order=0).astype(bool))


def prepare_case(item: dict, spacing: tuple[float, float] | None = None, policy: Any = None) -> Case:
    """One manifest case as training sees it. The image is read with the manifest's spacing as the default for
    files without one; a file whose own spacing disagrees with the manifest's by more than 1 % is refused."""
    from MLNNetLib.inference.resample import resampled_shape
    from MLNNetLib.io import read_image
    from MLNNetLib.labels.policy import LabelPolicy, calcification_target

    policy = policy or LabelPolicy()
    listed = item.get("spacing_mm")
    image = read_image(item["image"], default_spacing=float(min(listed)) if listed else None)
    if image.is_volume:
        raise InputError(item["image"], "training takes 2-D mammograms; this is a 3-D stack")
    if listed and not np.allclose(image.spacing, listed[-2:], rtol=SPACING_RTOL):
        raise InputError(item["image"], f"spacing {image.spacing} mm differs from the manifest's {listed} mm")
    img01, breast = prepare_image(image.array, image.spacing)
    mask, info = calcification_target(item, image, img01, breast, policy)
    if mask.shape != img01.shape:
        raise InputError(item.get("label"), f"label is {mask.shape} but image {item['image']} is {img01.shape}")
    target = tuple(spacing) if spacing is not None else tuple(image.spacing)
    if not np.allclose(image.spacing, target, rtol=SPACING_RTOL):
        factors = (image.spacing[0] / target[0], image.spacing[1] / target[1])
        shape = resampled_shape(img01.shape, factors)
        img01, mask, breast = _resample(img01, mask, breast, shape)
        info["resampled_from_mm"] = [float(s) for s in image.spacing]
    img01 = (np.round(img01 * QUANT) / QUANT).astype(np.float32)
    rng = np.random.default_rng(stable_hash(str(item["id"])))
    breast_coords = np.argwhere(breast)
    if len(breast_coords) > BREAST_SAMPLES:
        breast_coords = breast_coords[rng.choice(len(breast_coords), BREAST_SAMPLES, replace=False)]
    return Case(str(item["id"]), img01, mask, breast, tuple(float(s) for s in target), np.argwhere(mask > 0),
                breast_coords, info)


def load_case(item: dict, spacing: tuple[float, float] | None = None, policy: Any = None) -> Case:
    return prepare_case(item, spacing, policy)


def split_items(items: list[dict], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out a fraction of the patients for validation (see ``MLNNetLib.datasets.splits``)."""
    return holdout_split(items, val_fraction, seed)


def memory_estimate_bytes(items: Sequence[dict]) -> int:
    """Bytes the in-memory store needs (float32 image, mask, breast mask), from the files' headers."""
    from MLNNetLib.datasets.shapes import image_shape

    return sum(6 * int(np.prod(image_shape(Path(i["image"])))) for i in items)


def crop(array: np.ndarray, center: tuple[int, int], size: int) -> np.ndarray:
    """A size x size window centred on ``center``, zero-padded where it leaves the image."""
    out = np.zeros((size, size), dtype=array.dtype)
    r0, c0 = center[0] - size // 2, center[1] - size // 2
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + size, array.shape[0]), min(c0 + size, array.shape[1])
    if re > rs and ce > cs:
        out[rs - r0: re - r0, cs - c0: ce - c0] = array[rs:re, cs:ce]
    return out


class MemoryStore:
    """Prepared cases held in RAM (small datasets, the synthetic demo)."""

    def __init__(self, cases: Sequence[Case]):
        self.cases = list(cases)

    def __len__(self) -> int:
        return len(self.cases)

    def ids(self) -> list[str]:
        return [c.id for c in self.cases]

    def calc_count(self, i: int) -> int:
        return len(self.cases[i].calc_coords)

    def random_calc(self, i: int, rng: np.random.Generator) -> tuple[int, int]:
        coords = self.cases[i].calc_coords
        r, c = coords[rng.integers(len(coords))]
        return int(r), int(c)

    def random_breast(self, i: int, rng: np.random.Generator) -> tuple[int, int]:
        coords = self.cases[i].breast_coords
        r, c = coords[rng.integers(len(coords))]
        return int(r), int(c)

    def crop(self, i: int, center: tuple[int, int], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        case = self.cases[i]
        return crop(case.image, center, size), crop(case.mask, center, size), crop(case.breast, center, size)

    def case(self, i: int) -> Case:
        return self.cases[i]


class TileSampler:
    """Draws training tiles: ``positive_fraction`` of them centred (with jitter) on a calcification.

    ``cases`` is a list of ``Case`` (held in memory) or a store (``MemoryStore``, ``training.cache.CacheStore``).
    """

    def __init__(self, cases: Any, tile: int, positive_fraction: float):
        self.store = cases if hasattr(cases, "random_calc") else MemoryStore(cases)
        self.tile = tile
        self.positive_fraction = positive_fraction
        self.with_calc = [i for i in range(len(self.store)) if self.store.calc_count(i)]

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        positive = bool(self.with_calc) and rng.random() < self.positive_fraction
        index = int(rng.choice(self.with_calc)) if positive else int(rng.integers(len(self.store)))
        r, c = self.store.random_calc(index, rng) if positive else self.store.random_breast(index, rng)
        if positive:
            jitter = self.tile // 3
            r, c = r + rng.integers(-jitter, jitter + 1), c + rng.integers(-jitter, jitter + 1)
        img, mask, breast = self.store.crop(index, (int(r), int(c)), self.tile)
        k = int(rng.integers(4))
        flip = bool(rng.integers(2))
        img, mask, breast = (np.rot90(a, k) for a in (img, mask, breast))
        if flip:
            img, mask, breast = (a[:, ::-1] for a in (img, mask, breast))
        return np.ascontiguousarray(img), np.ascontiguousarray(mask), np.ascontiguousarray(breast)
