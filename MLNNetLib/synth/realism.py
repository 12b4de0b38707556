"""Realism statistics of a mammogram, computed the same way on real films and on synthetic images.

Why these three (and how, so the numbers can be judged):
- **Texture: radial power-spectrum slope beta.** Mammographic parenchyma has a power-law spectrum
  P(f) ~ 1/f**beta with beta about 2.5-3.5 on digitised film and FFDM (Burgess et al. 2001; Heine &
  Velthuizen 2002). Measured on square ROIs (12.8 mm) fully inside the breast interior, each mean-removed and
  Hann-windowed; the ROI spectra are averaged per image and log P is fitted against log f over
  ``BETA_BAND`` (cycles/mm), where anatomy, not noise, dominates.
- **Noise: high-frequency power.** log10 of the mean power at 2.5-4.5 cycles/mm over that at 0.3-0.5 cycles/mm:
  how much of the image at the pixel scale is noise or grain rather than tissue.
- **Histogram shape** of breast-interior pixels after the project's own normalisation (``prepare_image``:
  0.01/99.99 breast percentiles): quantiles, skewness, excess kurtosis.
- **Calcification-like specks**: local residual ``r = image - median(image, 1.4 mm)``, robust noise sigma of
  ``r`` (MAD) over the interior, specks = 8-connected components with ``r > SPECK_SIGMAS * sigma`` of
  0.01-0.3 mm^2 whose peak is a local maximum; CNR = peak residual / sigma. On real films this finds
  calcifications *and* dust, scratches and grain clumps (there are no annotations to tell them apart), so it
  is compared with the same detector run on synthetic images, where the specks are calcifications, noise
  spikes and vessel rims. For synthetic images the CNR of every true calcification is reported too.
Everything is measured on a common 0.1 mm grid (block averaging), the pitch the model works at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, stats

ANALYSIS_MM = 0.1
ROI_MM = 12.8
BETA_BAND = (0.15, 1.0)  # cycles/mm
HF_BAND, LF_BAND = (2.5, 4.5), (0.3, 0.5)
INTERIOR_MM = 6.0  # erode the breast mask this far: no skin line, no thickness roll-off
SPECK_SIGMAS = 4.0
VISIBLE_CNR = 6.0  # specks this far above the noise are what a reader notices
SPECK_AREA_MM2 = (0.01, 0.3)
QUANTILES = (5, 25, 50, 75, 95)
HIST_BINS = 50


@dataclass
class ImageStats:
    name: str
    beta: float | None
    hf_power: float | None
    n_rois: int
    quantiles: list[float]
    skewness: float
    kurtosis: float
    speck_density_per_cm2: float
    residual_sigma: float
    speck_cnr: list[float] = field(default_factory=list)
    true_calc_cnr: list[float] | None = None  # synthetic images only
    true_calc_found: float | None = None  # fraction of true calcifications the speck detector finds
    spectrum: tuple[list[float], list[float]] | None = None  # (f cycles/mm, mean power) for the figure
    histogram: list[float] | None = None  # density of interior values over HIST_BINS bins of [0, 1]

    def summary(self) -> dict:
        cnr = np.asarray(self.speck_cnr)
        out = {"name": self.name, "beta": _r(self.beta), "hf_power_log10": _r(self.hf_power), "rois": self.n_rois,
               "quantiles": [_r(q) for q in self.quantiles], "skewness": _r(self.skewness),
               "kurtosis": _r(self.kurtosis), "specks_per_cm2": _r(self.speck_density_per_cm2),
               "speck_cnr_median": _r(float(np.median(cnr))) if cnr.size else None,
               "speck_cnr_p90": _r(float(np.percentile(cnr, 90))) if cnr.size else None,
               "visible_specks_per_cm2": _r(self.speck_density_per_cm2 * float(np.mean(cnr >= VISIBLE_CNR))) if cnr.size else 0.0,
               "visible_speck_cnr_median": _r(float(np.median(cnr[cnr >= VISIBLE_CNR]))) if np.any(cnr >= VISIBLE_CNR) else None,
               "residual_sigma": _r(self.residual_sigma, 5)}
        if self.true_calc_cnr is not None:
            t = np.asarray(self.true_calc_cnr)
            out["true_calc_cnr_median"] = _r(float(np.median(t))) if t.size else None
            out["true_calc_found"] = _r(self.true_calc_found)
        return out


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def to_analysis_grid(array: np.ndarray, spacing_mm: float, target_mm: float = ANALYSIS_MM) -> np.ndarray:
    """Block-average (integer factor) or linearly resample to ``target_mm`` with a matching anti-alias blur."""
    a = np.asarray(array, dtype=np.float32)
    ratio = target_mm / float(spacing_mm)
    k = int(round(ratio))
    if k >= 1 and abs(ratio - k) < 1e-3:
        if k == 1:
            return a
        h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
        return a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))
    if ratio > 1:
        a = ndimage.gaussian_filter(a, 0.5 * np.sqrt(ratio ** 2 - 1))
    return ndimage.zoom(a, 1.0 / ratio, order=1, grid_mode=True, mode="nearest")


def _interior(breast: np.ndarray) -> np.ndarray:
    r = int(round(INTERIOR_MM / ANALYSIS_MM))
    return ndimage.binary_erosion(breast, structure=np.ones((3, 3), bool), iterations=r, border_value=0)


def power_spectrum(img: np.ndarray, interior: np.ndarray, max_rois: int = 24) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean radial power spectrum of ROI_MM squares lying fully in ``interior`` (stride half an ROI)."""
    n = int(round(ROI_MM / ANALYSIS_MM))
    win = np.outer(np.hanning(n), np.hanning(n)).astype(np.float64)
    fy = np.fft.fftfreq(n, d=ANALYSIS_MM)
    f = np.hypot(fy[:, None], fy[None, :])
    edges = np.arange(0.5, n // 2 + 1) / (n * ANALYSIS_MM)
    which = np.digitize(f.ravel(), edges)
    # integral image: an ROI is inside when all its pixels are interior
    inside = ndimage.minimum_filter(interior.view(np.uint8), size=n, mode="constant", origin=-(n // 2))
    spectra = []
    step = n // 2
    rows = range(0, img.shape[0] - n + 1, step)
    cols = range(0, img.shape[1] - n + 1, step)
    cand = [(r, c) for r in rows for c in cols if inside[r, c]]
    if len(cand) > max_rois:  # evenly spread subset, deterministic
        cand = [cand[i] for i in np.linspace(0, len(cand) - 1, max_rois).round().astype(int)]
    for r, c in cand:
        roi = img[r:r + n, c:c + n].astype(np.float64)
        roi = roi - roi.mean()
        p = np.abs(np.fft.fft2(roi * win)) ** 2 / win.sum()
        spectra.append(np.bincount(which, weights=p.ravel(), minlength=len(edges) + 1))
    counts = np.bincount(which, minlength=len(edges) + 1)
    if not spectra:
        return np.zeros(0), np.zeros(0), 0
    mean = np.mean(spectra, axis=0) / np.maximum(counts, 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    return centres, mean[1:len(edges)], len(spectra)


def spectrum_numbers(f: np.ndarray, p: np.ndarray) -> tuple[float | None, float | None]:
    """(beta, log10 high/low band power) from a radial spectrum."""
    if f.size == 0:
        return None, None
    band = (f >= BETA_BAND[0]) & (f <= BETA_BAND[1]) & (p > 0)
    beta = -float(np.polyfit(np.log(f[band]), np.log(p[band]), 1)[0]) if band.sum() >= 3 else None
    hf = p[(f >= HF_BAND[0]) & (f <= HF_BAND[1])]
    lf = p[(f >= LF_BAND[0]) & (f <= LF_BAND[1])]
    ratio = float(np.log10(hf.mean() / lf.mean())) if hf.size and lf.size and lf.mean() > 0 else None
    return beta, ratio


def local_background(img: np.ndarray, window_mm: float = 1.4) -> np.ndarray:
    """Median over ``window_mm``, computed on a 2x block-averaged copy and interpolated back (a full-resolution
    median filter takes seconds per film; the background is smooth at this scale and specks <= 0.6 mm do not
    move a 7 x 7 median)."""
    h, w = (img.shape[0] // 2) * 2, (img.shape[1] // 2) * 2
    half = img[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    size = int(round(window_mm / (2 * ANALYSIS_MM))) | 1
    med = ndimage.median_filter(half, size=size, mode="nearest")
    out = ndimage.zoom(med, 2, order=1, grid_mode=True, mode="nearest")
    full = np.empty_like(img)
    full[:out.shape[0], :out.shape[1]] = out
    full[out.shape[0]:, :] = full[out.shape[0] - 1:out.shape[0], :] if out.shape[0] < img.shape[0] else full[out.shape[0]:, :]
    full[:, out.shape[1]:] = full[:, out.shape[1] - 1:out.shape[1]] if out.shape[1] < img.shape[1] else full[:, out.shape[1]:]
    return full


def specks(img: np.ndarray, interior: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(residual, noise sigma, speck label image, CNR per speck) of the bright-speck detector."""
    resid = img - local_background(img)
    vals = resid[interior]
    sigma = 1.4826 * float(np.median(np.abs(vals - np.median(vals)))) if vals.size else 1.0
    sigma = max(sigma, 1e-6)
    cand = (resid > SPECK_SIGMAS * sigma) & interior
    lab, n = ndimage.label(cand, structure=np.ones((3, 3), bool))
    if n == 0:
        return resid, sigma, lab, np.zeros(0)
    idx = np.arange(1, n + 1)
    area = ndimage.sum_labels(np.ones_like(lab), lab, idx) * ANALYSIS_MM ** 2
    peak = ndimage.maximum(resid, lab, idx)
    keep = (area >= SPECK_AREA_MM2[0] - 1e-9) & (area <= SPECK_AREA_MM2[1])
    lut = np.zeros(n + 1, dtype=np.int32)
    lut[idx[keep]] = np.arange(1, int(keep.sum()) + 1)
    return resid, sigma, lut[lab], np.asarray(peak[keep] / sigma)


def measure(name: str, array: np.ndarray, spacing_mm: float, calc_mask: np.ndarray | None = None) -> ImageStats:
    """All realism numbers of one image (MONOCHROME2 convention: dense is bright)."""
    from MLNNetLib.preprocess import prepare_image

    small = to_analysis_grid(array, spacing_mm)
    img01, breast = prepare_image(small)
    interior = _interior(breast)
    if interior.sum() < 100:
        raise ValueError(f"{name}: breast interior too small for realism statistics")
    f, p, n_rois = power_spectrum(img01, interior)
    beta, hf = spectrum_numbers(f, p)
    v = img01[interior].astype(np.float64)
    resid, sigma, lab, cnr = specks(img01, interior)
    area_cm2 = interior.sum() * ANALYSIS_MM ** 2 / 100.0
    out = ImageStats(name=name, beta=beta, hf_power=hf, n_rois=n_rois,
                     quantiles=[float(q) for q in np.percentile(v, QUANTILES)], skewness=float(stats.skew(v)),
                     kurtosis=float(stats.kurtosis(v)), speck_density_per_cm2=float(len(cnr) / max(area_cm2, 1e-9)),
                     residual_sigma=sigma, speck_cnr=[float(c) for c in cnr], spectrum=(f.tolist(), p.tolist()),
                     histogram=np.histogram(v, bins=HIST_BINS, range=(0, 1), density=True)[0].tolist())
    if calc_mask is not None:
        m = to_analysis_grid(calc_mask.astype(np.float32), spacing_mm) > 0.25
        m = m[:img01.shape[0], :img01.shape[1]]
        clab, nc = ndimage.label(m, structure=np.ones((3, 3), bool))
        idx = np.arange(1, nc + 1)
        inside = ndimage.minimum(interior.astype(np.uint8), clab, idx) > 0 if nc else np.zeros(0, bool)
        peaks = ndimage.maximum(resid, clab, idx) / sigma if nc else np.zeros(0)
        hit = ndimage.maximum(lab > 0, clab, idx) if nc else np.zeros(0)
        out.true_calc_cnr = [float(c) for c in np.asarray(peaks)[inside]]
        out.true_calc_found = float(np.mean(np.asarray(hit)[inside])) if np.any(inside) else None
    return out
