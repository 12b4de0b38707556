"""Scanner styles: every style renders and is deterministic, pitches carry their spacing and the same objects,
inversion appears only as real files carry it (MONOCHROME1 converted by the reader, a wrong tag not), DBT
slices ghost out-of-plane calcifications and annotate the ones in focus, detector noise spectra differ."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy import ndimage

from MLNNetLib.augment import is_inverted
from MLNNetLib.io import read_image, read_mask
from MLNNetLib.synth import DOMAINS, build_scene, load_manifest, render_case, write_datasets
from MLNNetLib.synth.contact_sheet import as_read
from MLNNetLib.synth.detector import detect
from MLNNetLib.synth.domains import SOURCE_DOMAIN
from MLNNetLib.synth.grid import grid_shape
from MLNNetLib.synth.tomo import _angles, _ghosted_calcs, in_focus

SHAPE = (512, 416)


@lru_cache(maxsize=None)
def scene(seed: int = 0):
    return build_scene(seed, SHAPE, 0.1)


@lru_cache(maxsize=None)
def case(domain: str, seed: int = 0):
    return render_case(scene(seed), domain)


def test_at_least_eight_styles_and_the_source_is_ffdm():
    assert len(DOMAINS) >= 9 and SOURCE_DOMAIN == "ffdm" == list(DOMAINS)[0]
    assert {"ffdm", "dbt", "film", "mono1"} <= set(DOMAINS)  # the old names still work
    pitches = {s.pixel_mm for s in DOMAINS.values()}
    assert {0.05, 0.07} <= pitches and None in pitches
    assert {s.mapping for s in DOMAINS.values()} == {"processed", "raw", "film", "dbt", "s2d"}


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_every_style_renders_deterministically_on_its_own_grid(domain):
    spec = DOMAINS[domain]
    img, mask, info = case(domain)
    again = render_case(build_scene(0, SHAPE, 0.1), domain)
    assert np.array_equal(img, again[0]) and np.array_equal(mask, again[1])
    pitch = spec.pixel_mm or 0.1
    assert info["spacing_mm"] == pitch and img.shape == mask.shape == grid_shape(SHAPE, 0.1, pitch)
    assert img.min() >= 0 and img.max() <= spec.max_value and np.all(img == np.rint(img))
    assert info["n_calcifications"] == ndimage.label(mask, structure=np.ones((3, 3)))[1] > 0
    other = render_case(scene(1), domain)[0]
    assert other.shape != img.shape or not np.array_equal(other, img)


def test_styles_of_one_pitch_share_the_mask_and_other_pitches_hold_the_same_objects():
    ref_mask, ref_info = case("ffdm")[1], case("ffdm")[2]
    ref = {tuple(c["centre_mm"]): c for c in ref_info["calcifications"]}
    for d, spec in DOMAINS.items():
        img, mask, info = case(d)
        if spec.mapping == "dbt":
            continue
        if spec.pixel_mm is None:
            assert np.array_equal(mask, ref_mask)
            continue
        p = spec.pixel_mm
        assert len(info["calcifications"]) == len(ref)
        for c in info["calcifications"]:
            r = ref[tuple(c["centre_mm"])]  # the same physical object ...
            centroid_mm = (np.array(c["centroid_px"]) + 0.5) * p
            assert np.allclose(centroid_mm, (np.array(r["centroid_px"]) + 0.5) * 0.1, atol=0.1)  # ... at the same place
            area, ref_area = c["area_px"] * p * p, r["area_px"] * 0.01
            assert abs(area - ref_area) <= 0.5 * ref_area + 0.02  # ... of the same size (pixelisation aside)
        # the mask resampled to the 0.1 mm grid overlaps the shared one
        back = ndimage.zoom(mask.astype(np.float32), (ref_mask.shape[0] / mask.shape[0], ref_mask.shape[1] / mask.shape[1]),
                            order=1, grid_mode=True, mode="nearest") > 0.5
        inter = (back & (ref_mask > 0)).sum()
        assert 2 * inter / (back.sum() + ref_mask.sum()) > 0.6


def test_dbt_annotates_in_focus_calcifications_and_ghosts_the_others():
    s = scene(0)
    spec = DOMAINS["dbt"]
    img, mask, info = case("dbt")
    visible = in_focus(s, spec)
    assert 0 < len(visible) < len(s.calcs)  # clusters extend over depth; isolated ones lie elsewhere
    assert info["n_calcifications"] == len(visible)
    assert not (mask & (case("ffdm")[1] == 0)).any()  # a subset of the 2-D annotation
    tan_half = np.tan(np.radians(spec.params["arc_deg"] / 2))
    for i, c in enumerate(s.calcs):
        assert (i in visible) == (2 * abs(c.depth_mm - s.slice_mm) * tan_half <= c.diameter_mm)
    # shift-and-add: an out-of-plane calcification keeps its total attenuation but is spread along the sweep
    # (rows) over 2 |dz| tan(arc/2), not across it
    far = max(range(len(s.calcs)), key=lambda i: abs(s.calcs[i].depth_mm - s.slice_mm))
    layers = s.layers()
    single = type(s)(**{**s.__dict__, "calcs": [s.calcs[far]], "_layers": {}})
    ghost = _ghosted_calcs(single, single.layers(), spec)
    st = single.layers().calcs.stamps[0]
    assert ghost.sum() == pytest.approx(float(s.calcs[far].mu * st.path.sum()), rel=1e-3)
    rows, cols = np.nonzero(ghost > 1e-6)
    spread = 2 * abs(s.calcs[far].depth_mm - s.slice_mm) * tan_half / layers.pitch_mm
    assert np.ptp(rows) >= 0.9 * spread and np.ptp(cols) <= st.path.shape[1]
    assert len(_angles(spec)) == spec.params["projections"]
    assert info["slice_mm"] == pytest.approx(s.slice_mm, abs=0.01)


def test_polarity_as_real_files_carry_it():
    s = scene(0)
    air = ~ndimage.binary_dilation(s.anatomy.breast, iterations=5)
    inner = s.anatomy.breast & (s.anatomy.thickness > 0.9) & ~s.anatomy.pectoral_mask
    g = s.anatomy.gland
    dense = inner & (g >= np.percentile(g[inner], 90))
    fatty = inner & (g <= np.percentile(g[inner], 20))
    for d, spec in DOMAINS.items():
        if spec.pixel_mm is not None:
            continue
        stored, _, info = case(d)
        shown = as_read(stored, spec)
        if spec.stored_inverted:  # the file holds air bright, dense tissue dark
            assert stored[air].mean() > stored[s.anatomy.breast].mean() and stored[dense].mean() < stored[fatty].mean()
        if d == "wrongtag":  # MONOCHROME2 tag on inverted pixels: still inverted after reading, air bright
            assert spec.photometric == "MONOCHROME2" and info["air_bright_when_read"]
            assert shown[air].mean() > shown[s.anatomy.breast].mean() and shown[dense].mean() < shown[fatty].mean()
            assert np.array_equal(stored, case("mono1")[0])  # the mono1 acquisition, only the tag differs
        else:
            assert shown[air].mean() < shown[s.anatomy.breast].mean() and shown[dense].mean() > shown[fatty].mean()


def test_dicom_files_are_read_the_way_their_tag_says(tmp_path):
    domains = ["ffdm", "mono1", "wrongtag", "raw"]
    manifests = write_datasets(domains, 1, 4, tmp_path, shape=(384, 320))
    read = {}
    for d in domains:
        m = load_manifest(manifests[d].parent)
        item = m["items"][0]
        image = read_image(item["image"])
        mask = read_mask(item["mask"], like=image)  # geometry agrees with the image
        read[d] = image.array
        assert image.spacing == pytest.approx((m["pixel_spacing_mm"],) * 2) and image.meta["spacing_source"] != "default"
        assert mask.array.any()
        if DOMAINS[d].file_format == "dicom":
            ds = pydicom.dcmread(item["image"])
            assert ds.PhotometricInterpretation == DOMAINS[d].photometric and int(ds.BitsStored) == DOMAINS[d].bits
            assert ds.Modality == "MG" and list(ds.ImagerPixelSpacing) == [m["pixel_spacing_mm"]] * 2
            stored = ds.pixel_array.astype(np.float32)
            expect = (DOMAINS[d].max_value - stored) if DOMAINS[d].photometric == "MONOCHROME1" else stored
            assert np.array_equal(image.array, expect)  # the reader converts MONOCHROME1 and nothing else
    for d in domains:
        img = read[d]
        img01 = (img - img.min()) / (img.max() - img.min())
        assert is_inverted(img01) == (d == "wrongtag"), d  # only the wrong tag leaves the air bright
    assert sitk.ReadImage(str(manifests["ffdm"].parent / "images" / "ffdm_4_0000.nrrd")).GetSpacing() == pytest.approx((0.1, 0.1))


def test_raw_style_is_linear_in_exposure():
    s = scene(0)
    layers = s.layers(DOMAINS["raw"].pixel_mm)
    shown = as_read(case("raw")[0], DOMAINS["raw"])
    exposure = np.exp(-layers.projection())
    b = layers.breast
    r = np.corrcoef(shown[b], exposure[b])[0, 1]
    assert r < -0.97  # read value = full scale - gain * exposure: a straight line, no log, no LUT
    processed = case("ffdm")[0]
    log_r = np.corrcoef(processed[s.anatomy.breast], exposure[s.anatomy.breast] if exposure.shape == processed.shape
                        else np.exp(-s.layers().projection())[s.anatomy.breast])[0, 1]
    assert abs(log_r) < abs(r)


def _noise_spectrum(spec_name: str, pitch: float) -> tuple[float, float]:
    """Mid (1-2 cy/mm) and high (0.6-1 x Nyquist) power of detector noise on a flat attenuation field."""
    spec = DOMAINS[spec_name]
    rng = np.random.default_rng(1)
    a = np.full((256, 256), 1.5, np.float32)
    n = -np.log(detect(a, spec, rng, pitch))
    p = np.abs(np.fft.fft2(n - n.mean())) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(256, pitch), np.fft.fftfreq(256, pitch), indexing="ij"))
    nyq = 0.5 / pitch
    return float(p[(f > 1) & (f < 2)].mean()), float(p[(f > 0.6 * nyq) & (f < nyq)].mean())


def test_direct_detector_noise_is_whiter_than_indirect():
    mid_i, high_i = _noise_spectrum("ffdm", 0.1)  # CsI: quantum noise blurred by the scintillator
    mid_d, high_d = _noise_spectrum("ase", 0.07)  # a-Se: nearly white up to Nyquist
    assert high_d / mid_d > 0.8 and high_i / mid_i < 0.6
    mid_c, high_c = _noise_spectrum("cr", 0.05)  # phosphor scatter: strongly correlated
    assert high_c / mid_c < high_i / mid_i


def test_analysis_reads_density_bright_for_monochrome1_files_and_dark_only_for_the_wrong_tag(tmp_path):
    """The reader already converts MONOCHROME1; the analysis must not invert it a second time."""
    from MLNNetLib.experiments.malignancy import density_image
    from MLNNetLib.experiments.malignancy_data import CaseGroup, ensure_cases

    s = build_scene(case_seed_for(7), (384, 320), 0.1, "benign")
    inner = s.anatomy.breast & (s.anatomy.thickness > 0.9) & ~s.anatomy.pectoral_mask
    g = s.anatomy.gland
    dense, fatty = inner & (g >= np.percentile(g[inner], 90)), inner & (g <= np.percentile(g[inner], 20))
    for d in ("mono1", "wrongtag"):
        item = ensure_cases(CaseGroup(d, "benign", 7, tmp_path / d), 1, (384, 320), 0.1)[0]
        dens = density_image(read_image(item["image"]).array, item["photometric"])
        assert dens[dense].mean() > dens[fatty].mean(), d


def case_seed_for(seed: int) -> int:
    from MLNNetLib.synth.dataset import case_seed

    return case_seed(seed, 0)
