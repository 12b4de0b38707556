"""Training data: the images of one source domain, held in memory as [0,1] floats, and a tile sampler that keeps
calcifications well represented and turns each tile into its domain-labelled versions (paper §3.1)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.preprocess import prepare_image

log = get_logger(__name__)


@dataclass
class Case:
    id: str
    image: np.ndarray  # float32 [0,1]
    mask: np.ndarray  # uint8 0/1
    breast: np.ndarray  # bool
    spacing: tuple[float, ...]
    calc_coords: np.ndarray  # (n, 2) calcification pixels
    breast_coords: np.ndarray  # (m, 2) subsample of breast pixels


def find_items(data_dir: str | Path, domain: str | None) -> list[dict]:
    """All manifest items of ``domain`` below ``data_dir`` (a synth output folder or a folder of them)."""
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise InputError(data_dir, "data folder does not exist")
    manifests = sorted(data_dir.rglob("manifest.json"))
    if not manifests:
        raise InputError(data_dir, "no manifest.json found (make data with `python -m MLNNetLib synth`)")
    items, seen = [], set()
    for manifest in manifests:
        try:
            content = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(manifest, f"unreadable manifest: {exc}") from exc
        for item in content.get("items", []):
            d = item.get("domain", content.get("domain"))
            seen.add(d)
            if domain is None or d == domain:
                items.append({**item, "image": str(manifest.parent / item["image"]), "mask": str(manifest.parent / item["mask"]), "domain": d})
    if not items:
        raise InputError(data_dir, f"no images of domain {domain!r}; domains present: {sorted(x for x in seen if x)}")
    return items


def load_case(item: dict) -> Case:
    from MLNNetLib.io import read_image, read_mask

    image = read_image(item["image"])
    mask = read_mask(item["mask"], like=image)
    img01, breast = prepare_image(image.array, image.spacing)
    m = (mask.array > 0).astype(np.uint8)
    rng = np.random.default_rng(abs(hash(item["id"])) % 2**32)
    breast_coords = np.argwhere(breast)
    if len(breast_coords) > 20000:
        breast_coords = breast_coords[rng.choice(len(breast_coords), 20000, replace=False)]
    return Case(item["id"], img01, m, breast, image.spacing, np.argwhere(m > 0), breast_coords)


def split_items(items: list[dict], val_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out a part of the source domain for validation (at least one image when there are two or more)."""
    order = np.random.default_rng(seed).permutation(len(items))
    n_val = int(round(len(items) * val_fraction))
    n_val = min(max(n_val, 1 if len(items) > 1 else 0), len(items) - 1)
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


def crop(array: np.ndarray, center: tuple[int, int], size: int) -> np.ndarray:
    """A size x size window centred on ``center``, zero-padded where it leaves the image."""
    out = np.zeros((size, size), dtype=array.dtype)
    r0, c0 = center[0] - size // 2, center[1] - size // 2
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + size, array.shape[0]), min(c0 + size, array.shape[1])
    out[rs - r0 : re - r0, cs - c0 : ce - c0] = array[rs:re, cs:ce]
    return out


class TileSampler:
    """Draws training tiles: ``positive_fraction`` of them centred (with jitter) on a calcification."""

    def __init__(self, cases: list[Case], tile: int, positive_fraction: float):
        self.cases = cases
        self.tile = tile
        self.positive_fraction = positive_fraction
        self.with_calc = [i for i, c in enumerate(cases) if len(c.calc_coords)]

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        positive = self.with_calc and rng.random() < self.positive_fraction
        case = self.cases[rng.choice(self.with_calc)] if positive else self.cases[rng.integers(len(self.cases))]
        coords = case.calc_coords if positive else case.breast_coords
        r, c = coords[rng.integers(len(coords))]
        if positive:
            jitter = self.tile // 3
            r, c = r + rng.integers(-jitter, jitter + 1), c + rng.integers(-jitter, jitter + 1)
        center = (int(r), int(c))
        img, mask, breast = (crop(a, center, self.tile) for a in (case.image, case.mask, case.breast))
        k = int(rng.integers(4))
        flip = bool(rng.integers(2))
        img, mask, breast = (np.rot90(a, k) for a in (img, mask, breast))
        if flip:
            img, mask, breast = (a[:, ::-1] for a in (img, mask, breast))
        return np.ascontiguousarray(img), np.ascontiguousarray(mask), np.ascontiguousarray(breast)
