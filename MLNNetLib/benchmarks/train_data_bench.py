"""Training-data loop at scale: resident memory and tiles/s when sampling tiles from the prepare-once cache.

The parent writes a cache of ``max(--images)`` synthetic full-size cases (default 3000 x 4600 px: uint16 image,
uint8 labels with a few calcification spots, coordinate lists, index) straight in the cache layout, then starts
one fresh child process per image count N. Each child opens the cache restricted to its first N cases, runs the
training data path (TileSampler over the CacheStore, Bezier/inversion domain versions, DataLoader with
``--workers`` processes) for ``--warmup`` then ``--batches`` batches, and reports tiles/s and the resident
memory of itself plus its workers (VmRSS, split into anonymous memory, RssAnon, and file-backed pages, RssFile,
from /proc). Target: the anonymous RSS at the largest N is within ``--tolerance-mb`` of the smallest N's plus the
growth of the index; ``ratio`` = RssAnon(N max) / RssAnon(N min).
``--memory-peer K`` also times the same loop on K of the cases held in memory (the in-memory path's speed).

Full numbers (about 20 GB of disk for 500 images): ``mlnnet benchmark train-data --images 50 500``; quick check:
``--images 20 200 --shape 600 920``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HELP = "RSS and tiles/s of the cached training-data loop at two or more image counts (RSS must not grow with the count)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", type=int, nargs="+", default=[50, 500], help="image counts to compare (default 50 500)")
    p.add_argument("--shape", type=int, nargs=2, default=[3000, 4600], metavar=("ROWS", "COLS"))
    p.add_argument("--tile", type=int, default=128, help="tile size in px (default 128, the small configs')")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers (default 2)")
    p.add_argument("--warmup", type=int, default=20, help="batches before timing (default 20)")
    p.add_argument("--batches", type=int, default=200, help="timed batches (default 200)")
    p.add_argument("--cache", help="cache folder to (re)use; default: a temporary folder, deleted afterwards")
    p.add_argument("--memory-peer", type=int, default=0, metavar="K", help="also time K cases held in memory")
    p.add_argument("--tolerance-mb", type=float, default=64.0, help="allowed anonymous-RSS growth beyond the index")
    p.add_argument("--seed", type=int, default=0)


def _write_case(root: Path, cid: str, shape: tuple[int, int], rng: np.random.Generator) -> dict:
    """One synthetic case in the cache layout (written directly: preparing real images is not what is measured)."""
    from MLNNetLib.training.cache import BREAST_BIT, CALC_BIT

    rows, cols = shape
    folder = root / "cases" / cid
    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(8000, 40000, size=(rows, 1), dtype=np.uint16)
    image = np.broadcast_to(base, shape).copy()
    image[:, : cols // 3] = 0  # air
    labels = np.zeros(shape, np.uint8)
    labels[:, cols // 3:] = BREAST_BIT
    centres = np.column_stack([rng.integers(0, rows, 12), rng.integers(cols // 3, cols, 12)])
    for r, c in centres:
        labels[max(r - 2, 0): r + 2, max(c - 2, 0): c + 2] |= CALC_BIT
        image[max(r - 2, 0): r + 2, max(c - 2, 0): c + 2] = 60000
    np.save(folder / "image.npy", image)
    np.save(folder / "labels.npy", labels)
    calc = np.argwhere(labels & CALC_BIT).astype(np.int32)
    breast = np.column_stack([rng.integers(0, rows, 20000), rng.integers(cols // 3, cols, 20000)]).astype(np.int32)
    np.save(folder / "calc.npy", calc)
    np.save(folder / "breast.npy", breast)
    entry = {"id": cid, "shape": [rows, cols], "n_calc": len(calc), "n_breast": len(breast), "key": "benchmark", "info": {}}
    (folder / "meta.json").write_text(json.dumps(entry))
    return entry


def write_synthetic_cache(root: Path, count: int, shape: tuple[int, int], seed: int) -> None:
    from MLNNetLib.training.cache import CACHE_FORMAT, CACHE_VERSION, INDEX

    rng = np.random.default_rng(seed)
    entries = [_write_case(root, f"bench_{n:05d}", shape, rng) for n in range(count)]
    index = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "spacing_mm": [0.07, 0.07], "label_policy": {},
             "cases": entries}
    (root / INDEX).write_text(json.dumps(index))


def _status_kb(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def memory_mb() -> dict[str, float]:
    """Resident memory of this process and its children (DataLoader workers), MiB; Linux /proc only."""
    pids = [os.getpid(), *_children(os.getpid())]
    total = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0, "RssShmem": 0}
    for pid in pids:
        for k, v in _status_kb(pid).items():
            total[k] += v
    return {**{k: round(v / 1024.0, 1) for k, v in total.items()}, "processes": len(pids)}


def _loop(sampler, args, workers: int) -> dict:
    from MLNNetLib.augment import PAPER_CURVES
    from MLNNetLib.training.loader import make_loader

    steps = args.warmup + args.batches
    loader = iter(make_loader(sampler, args.batch_size, steps, 1, 0, 2, True, list(PAPER_CURVES), args.seed, 0, workers))
    for _ in range(args.warmup):
        next(loader)
    t0 = time.perf_counter()
    for _ in range(args.batches):
        next(loader)
    seconds = time.perf_counter() - t0
    mem = memory_mb()
    del loader
    return {"tiles_per_s": round(args.batches * args.batch_size / seconds, 1), "seconds": round(seconds, 2), "memory_mb": mem}


def child_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m MLNNetLib.benchmarks.train_data_bench")
    add_arguments(p)
    p.add_argument("--child-count", type=int, required=True)
    args = p.parse_args(argv)
    import torch

    from MLNNetLib.training.cache import CacheStore
    from MLNNetLib.training.data import MemoryStore, TileSampler

    torch.set_num_threads(1)
    store = CacheStore.open(args.cache)
    store = store.subset(store.ids()[: args.child_count])
    result = {"images": len(store), **_loop(TileSampler(store, args.tile, 0.8), args, args.workers)}
    index_bytes = sum(len(json.dumps(c.to_dict())) for c in store.cases)
    result["index_kb"] = round(index_bytes / 1024.0, 1)
    if args.memory_peer:
        cases = [store.case(i) for i in range(min(args.memory_peer, len(store)))]
        peer = TileSampler(MemoryStore(cases), args.tile, 0.8)
        cached = TileSampler(store.subset(store.ids()[: len(cases)]), args.tile, 0.8)
        result["same_cases"] = {"cases": len(cases), "cache": _loop(cached, args, 0), "memory": _loop(peer, args, 0)}
    print(json.dumps(result))
    return 0


def run(args: argparse.Namespace) -> dict:
    counts = sorted(set(args.images))
    temp = None if args.cache else tempfile.mkdtemp(prefix="mlnnet-train-data-")
    cache = Path(args.cache or temp)
    try:
        t0 = time.perf_counter()
        from MLNNetLib.training.cache import INDEX

        have = len(json.loads((cache / INDEX).read_text())["cases"]) if (cache / INDEX).exists() else 0
        if have < counts[-1]:
            write_synthetic_cache(cache, counts[-1], tuple(args.shape), args.seed)
        write_s = time.perf_counter() - t0
        runs = []
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        for n in counts:
            cmd = [sys.executable, "-m", "MLNNetLib.benchmarks.train_data_bench", "--child-count", str(n), "--cache", str(cache),
                   "--shape", *map(str, args.shape), "--tile", str(args.tile), "--batch-size", str(args.batch_size),
                   "--workers", str(args.workers), "--warmup", str(args.warmup), "--batches", str(args.batches),
                   "--seed", str(args.seed), "--memory-peer", str(args.memory_peer if n == counts[0] else 0)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise RuntimeError(f"train-data child for {n} images failed: {proc.stderr[-2000:]}")
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    small, large = runs[0], runs[-1]
    anon_small, anon_large = small["memory_mb"]["RssAnon"], large["memory_mb"]["RssAnon"]
    index_growth_mb = (large["index_kb"] - small["index_kb"]) / 1024.0
    growth = anon_large - anon_small
    return {
        "shape": list(args.shape), "tile": args.tile, "batch_size": args.batch_size, "workers": args.workers,
        "cache_write_seconds": round(write_s, 1), "runs": runs,
        "rss_anon_growth_mb": round(growth, 1), "index_growth_mb": round(index_growth_mb, 3),
        "ratio": round(anon_large / anon_small, 3) if anon_small else None,
        "target": f"anonymous RSS at {counts[-1]} images within {args.tolerance_mb:g} MB (+ index growth) of {counts[0]} images",
        "meets_target": bool(growth <= args.tolerance_mb + index_growth_mb),
    }


if __name__ == "__main__":
    sys.exit(child_main())
