"""Training data at scale: manifests from any source, patient-level splits, the memory-mapped cache (same tiles as
in memory), DataLoader workers (same batches whatever their number), stable hashing across processes, mixed
spacings, label policies and the DDP reduction on the process's device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from MLNNetLib.cli import main as cli_main
from MLNNetLib.datasets.splits import choose_split, fold_split, holdout_split, read_split_file, stable_hash
from MLNNetLib.errors import InputError
from MLNNetLib.labels.policy import LabelPolicy
from MLNNetLib.synth import write_dataset
from MLNNetLib.training import TrainConfig, train
from MLNNetLib.training.cache import CacheStore, LazyCases, build_cache
from MLNNetLib.training.data import MemoryStore, TileSampler, find_items, prepare_case, training_spacing
from MLNNetLib.training.loader import make_loader

import replicas

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (320, 272)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    write_dataset("ffdm", 4, seed=3, out=root / "ffdm", shape=SHAPE, spacing_mm=0.1)
    return root


def _items(n_patients: int, per_patient: int) -> list[dict]:
    return [{"id": f"p{p}_{k}", "patient_id": f"p{p}"} for p in range(n_patients) for k in range(per_patient)]


def test_stable_hash_is_fixed_and_independent_of_pythonhashseed(synth):
    assert stable_hash("Calc-Training_P_00005_RIGHT_CC") == stable_hash("Calc-Training_P_00005_RIGHT_CC")
    code = ("import hashlib, numpy as np; from MLNNetLib.training.data import find_items, prepare_case, TileSampler;"
            f"items = find_items({str(synth)!r}, 'ffdm'); c = prepare_case(items[0]);"
            "t = TileSampler([c], 64, 0.8).sample(np.random.default_rng(0))[0];"
            "print(hashlib.sha256(c.breast_coords.tobytes() + t.tobytes()).hexdigest(), hash('x'))")
    out = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out.append(proc.stdout.split())
    assert out[0][1] != out[1][1]  # Python's own hash is salted differently in the two processes ...
    assert out[0][0] == out[1][0]  # ... the case's sampling is not


def test_holdout_and_folds_split_by_patient():
    items = _items(10, 3)
    train, val = holdout_split(items, 0.2, seed=1)
    assert len(val) == 6 and {i["patient_id"] for i in train}.isdisjoint({i["patient_id"] for i in val})
    assert holdout_split(items, 0.2, seed=1) == (train, val)
    seen = []
    for fold in range(5):
        tr, va = fold_split(items, 5, fold, seed=0)
        assert {i["patient_id"] for i in tr}.isdisjoint({i["patient_id"] for i in va}) and len(tr) + len(va) == 30
        seen += [i["patient_id"] for i in va]
    assert sorted(set(seen)) == sorted({i["patient_id"] for i in items}) and len(seen) == 30  # each patient once
    with pytest.raises(InputError, match="at least 6 patients"):
        fold_split(_items(5, 1), 6, 0, 0)
    with pytest.raises(InputError, match="--fold must be in 0..4"):
        fold_split(items, 5, 5, 0)


def test_split_file_patient_in_both_unknown_and_left_out(tmp_path, caplog):
    items = _items(4, 2)
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ["p0", "p1"], "validation": ["p1", "p2"]}))
    with pytest.raises(InputError, match=r"split.json: patient p1 is in both train and validation"):
        read_split_file(path, items)
    path.write_text(json.dumps({"train": ["p0", "p9"], "validation": ["p2"]}))
    with pytest.raises(InputError, match="patient p9 is not in the data"):
        read_split_file(path, items)
    path.write_text(json.dumps({"train": ["p0", "p1"], "val": ["p2"]}))
    train, val, how = choose_split(items, 0.2, 0, split_file=str(path))
    assert [i["id"] for i in val] == ["p2_0", "p2_1"] and len(train) == 4 and how["method"] == "file"
    assert "neither list" in caplog.text


def test_cache_gives_the_same_tiles_as_memory_and_is_reused(synth, tmp_path):
    items = find_items(synth, "ffdm")
    policy = LabelPolicy()
    cases = [prepare_case(i, (0.1, 0.1), policy) for i in items]
    cache = build_cache(items, tmp_path / "cache", (0.1, 0.1), policy)
    assert (cache.built, cache.reused, len(cache)) == (4, 0, 4)
    mem, cached = TileSampler(cases, 64, 0.8), TileSampler(cache, 64, 0.8)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(20):
        for x, y in zip(mem.sample(a), cached.sample(b)):
            np.testing.assert_array_equal(x, y)
    whole = LazyCases(cache)[1]
    np.testing.assert_array_equal(whole.image, cases[1].image)
    np.testing.assert_array_equal(whole.mask, cases[1].mask)
    again = build_cache(items, tmp_path / "cache", (0.1, 0.1), policy)
    assert (again.built, again.reused) == (0, 4)
    os.utime(items[2]["label"], ns=(1, 1))  # a changed label file rebuilds that case only
    assert build_cache(items, tmp_path / "cache", (0.1, 0.1), policy).built == 1
    assert CacheStore.open(tmp_path / "cache").ids() == [i["id"] for i in items]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a training cache"):
        build_cache(items, tmp_path / "other", (0.1, 0.1), policy)


def test_loader_batches_do_not_depend_on_the_number_of_workers(synth):
    cases = [prepare_case(i) for i in find_items(synth, "ffdm")]
    sampler = TileSampler(MemoryStore(cases), 64, 0.8)
    curves = [((0.3, 0.7), (0.7, 0.3))]

    def batches(workers: int) -> list:
        loader = make_loader(sampler, 2, 3, epochs=2, start_epoch=0, num_domains=2, augment=True, curves=curves,
                             seed=4, rank=0, workers=workers)
        return list(loader)

    serial, parallel = batches(0), batches(2)
    assert len(serial) == 6
    for (x0, y0, d0), (x1, y1, d1) in zip(serial, parallel):
        assert torch.equal(x0, x1) and torch.equal(y0, y1) and torch.equal(d0, d1)
    x, y, d = serial[0]
    assert x.shape == (4, 1, 64, 64) and d.tolist() == [0, 0, 1, 1]  # grouped by domain
    assert torch.equal(y[:2], y[2:])  # both versions of a tile share its mask
    resumed = list(make_loader(sampler, 2, 3, 2, 1, 2, True, curves, 4, 0, 0))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(serial[3:], resumed))  # epoch 2 alone = epoch 2 of the run


def test_mixed_spacings_are_resampled_to_the_median(tmp_path):
    write_dataset("ffdm", 1, seed=3, out=tmp_path / "a", shape=SHAPE, spacing_mm=0.1)
    write_dataset("ffdm", 2, seed=4, out=tmp_path / "b", shape=(400, 340), spacing_mm=0.08)
    items = find_items(tmp_path, "ffdm")
    assert training_spacing(items) == pytest.approx((0.08, 0.08))
    case = prepare_case(next(i for i in items if i["spacing_mm"][0] == 0.1), (0.08, 0.08))
    assert case.image.shape == (400, 340) and case.info["resampled_from_mm"] == [0.1, 0.1] and case.mask.any()


def test_all_reduce_mean_reduces_on_the_process_device(monkeypatch):
    from MLNNetLib.training import distributed

    made, reduced = [], []
    real_tensor = torch.tensor
    monkeypatch.setattr(distributed.torch, "tensor", lambda *a, **k: made.append(k.get("device")) or real_tensor(*a, **{**k, "device": "cpu"}))
    monkeypatch.setattr(distributed.dist, "all_reduce", lambda t: reduced.append(t) or t.mul_(2))
    d = distributed.Dist(rank=0, world_size=2, device=torch.device("cuda", 1))
    assert distributed.all_reduce_mean(3.0, d) == 3.0
    assert made == [torch.device("cuda", 1)] and len(reduced) == 1  # NCCL needs the tensor on the rank's GPU


def _cfg(data, out, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), source_domain=None, config="tiny-stem", num_domains=2, epochs=1,
                steps_per_epoch=2, batch_size=2, warmup_steps=1, val_tiles=4, stats_tiles=4, seed=5, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_train_from_a_pairs_manifest_with_the_cache_and_folds(tmp_path, capsys):
    """A manifest from `prepare pairs` (synthetic NRRD images and masks laid out as pairs) trains through the cache."""
    import shutil

    write_dataset("ffdm", 4, seed=3, out=tmp_path / "s", shape=SHAPE, spacing_mm=0.1)
    pairs = tmp_path / "pairs"
    (pairs / "images").mkdir(parents=True)
    (pairs / "masks").mkdir()
    for n, f in enumerate(sorted((tmp_path / "s" / "images").glob("*.nrrd"))):
        shutil.copy(f, pairs / "images" / f"P{n // 2}_{n}.nrrd")
        shutil.copy(tmp_path / "s" / "masks" / f.name, pairs / "masks" / f"P{n // 2}_{n}.nrrd")
    assert cli_main(["prepare", "pairs", str(pairs), "--out", str(tmp_path / "m"), "--patient-regex", r"(P\d+)_"]) == 0
    capsys.readouterr()
    final = train(_cfg(tmp_path / "m" / "manifest.json", tmp_path / "run", cache=str(tmp_path / "cache"), folds=2, fold=1))
    header = json.loads(final.with_suffix(".json").read_text())
    summary = header["training"]["data_summary"]
    assert header["training"]["source_domain"] == "pairs" and summary["split"]["method"] == "folds"
    assert summary["train_patients"] == 1 and summary["validation_patients"] == 1 and summary["cache"]
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert len(split["train"]) == 1 and set(split["train"]).isdisjoint(split["validation"])
    assert len(CacheStore.open(tmp_path / "cache")) == 4


def test_region_labels_need_an_explicit_policy_and_nothing_is_created(tmp_path, capsys):
    root = tmp_path / "cbis"
    replicas.cbis_replica(root)
    assert cli_main(["prepare", "cbis-ddsm", str(root), "--out", str(tmp_path / "m"), "--no-progress"]) == 0
    capsys.readouterr()
    out = tmp_path / "run"
    assert cli_main(["train", "--data", str(tmp_path / "m"), "--out", str(out), "--config", "tiny-stem"]) == 2
    err = capsys.readouterr().err
    assert "label kind 'region'" in err and "--region-labels detect" in err and not out.exists()
    plan_cfg = _cfg(tmp_path / "m", out, region_labels="skip")
    with pytest.raises(InputError, match="no training case left"):
        train(plan_cfg)
    assert not out.exists()


def test_in_memory_data_larger_than_the_limit_asks_for_the_cache(synth, tmp_path):
    with pytest.raises(InputError, match="pass --cache DIR"):
        train(_cfg(synth, tmp_path / "run", max_memory_gb=0.0001))
    assert not (tmp_path / "run").exists()


def test_existing_run_refused_before_the_data_is_read(synth, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="already holds a training run"):
        train(_cfg(tmp_path / "missing_data", tmp_path / "run"))


def test_train_data_benchmark_reports_flat_memory(capsys):
    assert cli_main(["benchmark", "train-data", "--images", "3", "15", "--shape", "300", "400", "--batches", "10",
                     "--warmup", "2", "--workers", "1", "--tile", "64", "--memory-peer", "2"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["images"] for r in result["runs"]] == [3, 15]
    assert all(r["tiles_per_s"] > 0 and r["memory_mb"]["processes"] == 2 for r in result["runs"])
    assert result["runs"][0]["same_cases"]["memory"]["tiles_per_s"] > 0
    assert result["meets_target"] is True and result["rss_anon_growth_mb"] < 64


def test_prepare_cache_command_builds_once(synth, tmp_path, capsys):
    args = ["prepare", "cache", str(synth), "--out", str(tmp_path / "c"), "--domain", "ffdm", "--no-progress"]
    assert cli_main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["cases"] == 4 and first["built"] == 4 and first["spacing_mm"] == [0.1, 0.1]
    assert cli_main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["reused"] == 4
