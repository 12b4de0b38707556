"""Synthetic mammogram generator: reproducible, shared ground truth across domains, physically sized
calcifications that are local extrema, domains that differ like scanners, and a working dataset/CLI."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from MLNNetLib.cli import main
from MLNNetLib.errors import InputError
from MLNNetLib.synth import DOMAINS, DomainSpec, build_scene, generate_case, load_manifest, render_case, write_dataset
from MLNNetLib.synth.dataset import case_seed

SHAPE = (512, 416)  # 51 x 42 mm at 0.1 mm: big enough for clusters, small enough for a 2-core CI
SEEDS = (0, 1, 2)


@lru_cache(maxsize=None)
def scene(seed: int, label: str | None = None):
    return build_scene(seed, SHAPE, 0.1, label)


@lru_cache(maxsize=None)
def case(seed: int, domain: str):
    return render_case(scene(seed), domain)


def components(mask: np.ndarray):
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    return lab, n


def test_same_seed_is_bit_identical_and_other_seed_differs():
    a_img, a_mask, a_info = generate_case("ffdm", 11, SHAPE)
    b_img, b_mask, b_info = generate_case("ffdm", 11, SHAPE)
    assert a_img.dtype == np.float32 and a_mask.dtype == np.uint8
    assert np.array_equal(a_img, b_img) and np.array_equal(a_mask, b_mask)
    assert json.dumps(a_info, sort_keys=True) == json.dumps(b_info, sort_keys=True)
    c_img, c_mask, _ = generate_case("ffdm", 12, SHAPE)
    assert not np.array_equal(a_mask, c_mask) and not np.array_equal(a_img, c_img)


def test_same_seed_gives_same_mask_and_objects_in_every_domain():
    images = {}
    for d in DOMAINS:
        img, mask, info = case(0, d)
        assert np.array_equal(mask, case(0, "ffdm")[1])
        assert info["calcifications"] == case(0, "ffdm")[2]["calcifications"]
        assert info["domain"] == d and info["bits"] == DOMAINS[d].bits
        assert img.min() >= 0 and img.max() <= DOMAINS[d].max_value and np.all(img == np.rint(img))
        images[d] = img
    # the rendering itself differs between domains (noise and mapping), not just the gray scale
    assert len({im.tobytes() for im in images.values()}) == len(DOMAINS)


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_every_calcification_is_a_local_extremum(domain):
    inverted = DOMAINS[domain].inverted
    checked = 0
    for seed in SEEDS:
        img, mask, info = case(seed, domain)
        lab, n = components(mask)
        assert n == info["n_calcifications"] > 0  # one mask component per calcification, none merged
        for i, sl in enumerate(ndimage.find_objects(lab), start=1):
            box = tuple(slice(max(s.start - 3, 0), s.stop + 3) for s in sl)
            comp = lab[box] == i
            ring = ndimage.binary_dilation(comp, structure=np.ones((5, 5))) & ~comp
            v = img[box]
            if inverted:
                assert v[comp].min() < v[ring].min(), (seed, domain, i)
            else:
                assert v[comp].max() > v[ring].max(), (seed, domain, i)
            checked += 1
    assert checked >= 20


def test_inverted_domain_has_dense_tissue_dark():
    s = scene(0)
    inner = s.anatomy.breast & (s.anatomy.thickness > 0.9) & ~s.anatomy.pectoral_mask
    g = s.anatomy.gland
    dense = inner & (g >= np.percentile(g[inner], 90))
    fatty = inner & (g <= np.percentile(g[inner], 20))
    assert dense.sum() > 1000 and fatty.sum() > 1000
    for d, spec in DOMAINS.items():
        img = case(0, d)[0]
        if spec.inverted:
            assert img[dense].mean() < img[fatty].mean()
        else:
            assert img[dense].mean() > img[fatty].mean()
        air = ~ndimage.binary_dilation(s.anatomy.breast, iterations=5)
        assert img[air].mean() < img[s.anatomy.breast].mean()  # air stays dark in every domain


def _hist(img: np.ndarray, breast: np.ndarray) -> np.ndarray:
    v = img[breast].astype(np.float64)
    lo, hi = np.percentile(img, [0, 100])
    h, _ = np.histogram((v - lo) / max(hi - lo, 1e-9), bins=32, range=(0, 1))
    return h / h.sum()


def test_domains_differ_more_than_cases_within_a_domain():
    hists = {(d, s): _hist(case(s, d)[0], scene(s).anatomy.breast) for d in DOMAINS for s in SEEDS}
    within = [np.abs(hists[d, a] - hists[d, b]).sum() for d in DOMAINS for a in SEEDS for b in SEEDS if a < b]
    between = [np.abs(hists[d, s] - hists[e, s]).sum() for s in SEEDS for d in DOMAINS for e in DOMAINS if d < e]
    assert np.mean(between) > 1.5 * np.mean(within)
    # the noise differs too: high-pass residual std relative to the local signal range
    def noise(d):
        img = case(0, d)[0].astype(np.float64)
        hp = img - ndimage.uniform_filter(img, 3)
        inner = scene(0).anatomy.thickness > 0.95
        return hp[inner].std() / (np.percentile(img[inner], 95) - np.percentile(img[inner], 5))
    levels = {d: noise(d) for d in DOMAINS}
    assert levels["dbt"] > levels["ffdm"] and levels["dbt"] > levels["film"]


def test_calcification_sizes_are_physical():
    for spacing in (0.1, 0.07):
        s = build_scene(3, (512, 416), spacing)
        lab, n = components(s.calcs.mask)
        assert n == len(s.calcs.calcifications)
        for c in s.calcs.calcifications:
            assert 0.1 <= c["diameter_mm"] <= 0.6
            r, col = (int(round(x)) for x in c["centroid_px"])
            sl = ndimage.find_objects((lab == lab[r, col]).astype(int))[0] if lab[r, col] else None
            if sl is None:  # a curved (branching) object's centroid can fall outside it: find it by nearest
                i = lab[max(r - 3, 0):r + 4, max(col - 3, 0):col + 4].max()
                sl = ndimage.find_objects((lab == i).astype(int))[0]
            extent = max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start) * spacing
            assert extent <= c["diameter_mm"] + 2 * spacing + 1e-9, (c, extent)


def test_clusters_have_at_least_five_members_within_a_square_centimetre():
    seen = 0
    for seed in range(4):
        for label in ("benign", "malignant"):
            info = render_case(scene(seed, label), "ffdm")[2]
            assert info["n_clusters"] >= 1
            by = {}
            for c in info["calcifications"]:
                by.setdefault(c["cluster"], []).append(c["centroid_px"])
            assert len([k for k in by if k > 0]) == info["n_clusters"]
            for cid, pts in by.items():
                pts = np.array(pts) * 0.1
                if cid == 0:
                    continue
                assert len(pts) >= 5
                assert np.all(pts.max(0) - pts.min(0) <= 10.0 + 0.6)
                seen += 1
            isolated = np.array(by.get(0, np.zeros((0, 2)))) * 0.1
            clustered = np.array([p for k, v in by.items() if k > 0 for p in v]) * 0.1
            for p in isolated:  # isolated ones are far from every cluster member
                assert np.min(np.hypot(*(clustered - p).T)) > 5.0
    assert seen >= 8


def test_malignant_cases_have_more_and_finer_calcifications():
    stats = {}
    for label in ("benign", "malignant"):
        infos = [render_case(scene(s, label), "ffdm")[2] for s in range(4)]
        n = np.mean([i["n_calcifications"] for i in infos])
        size = np.mean([c["diameter_mm"] for i in infos for c in i["calcifications"]])
        shapes = {c["shape"] for i in infos for c in i["calcifications"]}
        stats[label] = (n, size, shapes)
        assert all(i["case_label"] == label for i in infos)
    assert stats["malignant"][0] > 1.5 * stats["benign"][0]
    assert stats["malignant"][1] < stats["benign"][1] - 0.05
    assert {"linear", "branching", "pleomorphic"} <= stats["malignant"][2]
    assert not ({"linear", "branching"} & stats["benign"][2])


def test_distractors_are_not_in_the_mask():
    for seed in range(4):
        s = scene(seed)
        mask = s.calcs.mask.astype(bool)
        for r, c in s.spikes:
            assert not mask[max(r - 5, 0):r + 6, max(c - 5, 0):c + 6].any()
        assert not (mask & s.distractors.keep_out).any()
        img = render_case(s, "ffdm")[0]
        if len(s.spikes):  # spikes are real, bright, and outside the mask
            r, c = s.spikes[0]
            assert img[r, c] > np.median(img[max(r - 3, 0):r + 4, max(c - 3, 0):c + 4])
    markers = [m for seed in range(6) for m in scene(seed).distractors.markers]
    assert markers and all(m["diameter_mm"] >= 2.0 for m in markers)  # larger than any calcification


def test_bad_parameters_raise_input_error():
    with pytest.raises(InputError, match="unknown synthetic domain"):
        generate_case("xray", 0, SHAPE)
    with pytest.raises(InputError, match="too small"):
        generate_case("ffdm", 0, (40, 40))
    with pytest.raises(InputError, match="spacing"):
        generate_case("ffdm", 0, SHAPE, spacing_mm=2.0)
    with pytest.raises(InputError, match="case label"):
        generate_case("ffdm", 0, SHAPE, case_label="cancer")


def test_new_domain_is_a_few_lines_of_data():
    spec = DomainSpec(name="ffdm_lowdose", mapping="processed", bits=12, description="noisier FFDM",
                      quantum_noise=0.02, unsharp_amount=1.0, gamma=1.5)
    img, mask, info = render_case(scene(0), spec)
    assert info["domain"] == "ffdm_lowdose" and np.array_equal(mask, case(0, "ffdm")[1])
    assert img.max() <= 4095 and not np.array_equal(img, case(0, "ffdm")[0])


def test_write_dataset_manifest_round_trip_and_refusal(tmp_path):
    out = tmp_path / "film"
    manifest_path = write_dataset("film", 2, 5, out, shape=SHAPE, case_label="malignant")
    m = load_manifest(out)
    assert manifest_path == out / "manifest.json"
    assert m["domain"] == "film" and m["spacing_mm"] == 0.1 and m["shape"] == list(SHAPE) and len(m["items"]) == 2
    assert (out / "contact_sheet.png").stat().st_size > 10_000
    for i, item in enumerate(m["items"]):
        assert item["seed"] == case_seed(5, i) and item["case_label"] == "malignant"
        img = sitk.ReadImage(item["image"])
        msk = sitk.ReadImage(item["mask"])
        assert img.GetPixelID() == sitk.sitkUInt16 and msk.GetPixelID() == sitk.sitkUInt8
        assert img.GetSpacing() == pytest.approx((0.1, 0.1)) and msk.GetSpacing() == pytest.approx((0.1, 0.1))
        ref_img, ref_mask, ref_info = generate_case("film", item["seed"], SHAPE, case_label="malignant")
        assert np.array_equal(sitk.GetArrayFromImage(img), ref_img.astype(np.uint16))
        assert np.array_equal(sitk.GetArrayFromImage(msk), ref_mask)
        assert item["n_calcifications"] == len(item["calcifications"]) == ref_info["n_calcifications"]
        assert set(item["calcifications"][0]) == {"centroid_px", "diameter_mm", "shape", "cluster"}
    with pytest.raises(FileExistsError):
        write_dataset("film", 2, 5, out, shape=SHAPE)
    before = (out / "manifest.json").read_bytes()
    write_dataset("film", 1, 6, out, shape=SHAPE, overwrite=True)
    assert (out / "manifest.json").read_bytes() != before and len(load_manifest(out)["items"]) == 1


def test_load_manifest_refuses_broken_folders(tmp_path):
    with pytest.raises(InputError, match="no synthetic-dataset manifest"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="not readable JSON"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"generator": "MLNNetLib.synth", "items": [
        {"id": "a", "image": "images/a.nrrd", "mask": "masks/a.nrrd", "domain": "ffdm", "seed": 1, "case_label": "benign",
         "n_calcifications": 0, "n_clusters": 0, "calcifications": []}]}))
    with pytest.raises(InputError, match="missing"):
        load_manifest(tmp_path)


def test_cli_all_domains_share_cases_and_refuses_overwrite(tmp_path, capsys):
    out = tmp_path / "all"
    args = ["synth", "--domain", "all", "--count", "1", "--seed", "3", "--out", str(out), "--shape", "384", "320",
            "--case-label", "benign"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["manifests"]) == set(DOMAINS)
    index = load_manifest(out)
    masks = []
    for d in DOMAINS:
        item = index["domains"][d]["items"][0]
        assert item["domain"] == d and item["case_label"] == "benign"
        masks.append(sitk.GetArrayFromImage(sitk.ReadImage(item["mask"])))
    assert all(np.array_equal(masks[0], k) for k in masks[1:]) and masks[0].any()
    assert (out / "contact_sheet.png").is_file()
    assert main(args) == 2  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
