"""All metrics of one predicted mask against its reference, as one JSON-able dict (DESIGN §6).

Metrics are per 2-D image (never on a stacked batch); a 3-D array is a volume and is measured in 3-D
with its spacing (clusters excepted: they are 2-D, pooled over slices); a 3-D array with a single
slice is measured as the 2-D image it is. Spacing is in mm, array-axis
order. Distances are in mm.

Surface distances: ``asd`` is the paper's ASD (eq. 24), the mean over BOTH surface sets of each surface pixel's
distance to the other surface (= medpy's ``assd``); ``asd_directed`` is the one-way mean from the prediction's
surface to the reference's (= medpy's ``asd(result, reference)``). ``hd`` is the symmetric Hausdorff distance
(eq. 25), ``hd95`` the 95th percentile of both sets joined.

Empty-mask policy, reported in ``"empty"``:
- ``None``   neither mask is empty: every value as defined (surface distances equal to medpy's);
- ``"both"`` both empty: dice = tpr = precision = 1, hd = hd95 = asd = asd_directed = 0;
- ``"pred"`` / ``"ref"`` (the one that is empty): dice = 0 (tpr, precision 0 where undefined) and every
  distance = the image diagonal in mm, sqrt(sum((shape_i * spacing_i)^2)), the worst possible value.
Object-level (lesion, cluster) sensitivity and precision are None where undefined (no reference objects / no
predicted objects), see ``metrics.lesions``.
"""

from __future__ import annotations

import math

import numpy as np

from MLNNetLib.errors import InputError
from MLNNetLib.metrics.lesions import cluster_detection, lesion_detection
from MLNNetLib.metrics.overlap import dice, precision, tpr
from MLNNetLib.metrics.surface import _spacing, surface_distances

METRIC_KEYS = ("tpr", "precision", "dice", "hd", "hd95", "asd", "asd_directed", "lesion_sensitivity",
               "lesion_precision", "cluster_sensitivity", "cluster_precision", "empty")


def image_diagonal_mm(shape: tuple[int, ...], spacing) -> float:
    """Length of the image diagonal in mm (the distance reported when one mask is empty)."""
    sp = _spacing(spacing, len(shape))
    return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, sp))))


def empty_state(pred: np.ndarray, ref: np.ndarray) -> str | None:
    """None, "both", "pred" or "ref" (which mask is empty)."""
    p, r = bool(np.any(pred)), bool(np.any(ref))
    if p and r:
        return None
    if not p and not r:
        return "both"
    return "pred" if not p else "ref"


def evaluate_masks(pred: np.ndarray, ref: np.ndarray, spacing=None, clusters: bool = True,
                   cluster_options: dict | None = None) -> dict:
    """Pixel, surface, lesion and cluster metrics of ``pred`` against ``ref`` (keys: METRIC_KEYS + counts).

    ``spacing`` is mm per array axis (None = 1 mm, a number = isotropic). ``clusters=False`` skips the
    cluster level (values None). Raises InputError when shapes or spacing do not fit.
    """
    pred, ref = np.asarray(pred) != 0, np.asarray(ref) != 0
    if pred.shape != ref.shape:
        raise InputError(None, f"predicted mask shape {pred.shape} differs from reference shape {ref.shape}")
    if pred.ndim not in (2, 3):
        raise InputError(None, f"masks must be 2-D images or 3-D volumes, got shape {pred.shape}")
    try:
        sp = _spacing(spacing, pred.ndim)
    except ValueError as exc:
        raise InputError(None, str(exc)) from None
    if pred.ndim == 3 and pred.shape[0] == 1:  # a single-slice "volume" is a 2-D image (metrics are per 2-D image)
        pred, ref, sp = pred[0], ref[0], sp[1:]
    empty = empty_state(pred, ref)
    out: dict = {"tpr": tpr(pred, ref), "precision": precision(pred, ref), "dice": dice(pred, ref)}
    if empty is None:
        sd = surface_distances(pred, ref, sp)
        out.update(hd=sd.hd, hd95=sd.hd95, asd=sd.assd, asd_directed=sd.asd)  # paper's ASD = symmetric
    else:
        d = 0.0 if empty == "both" else image_diagonal_mm(pred.shape, sp)
        out.update(hd=d, hd95=d, asd=d, asd_directed=d)
    lesions = lesion_detection(pred, ref, sp)
    out.update(lesion_sensitivity=lesions.sensitivity, lesion_precision=lesions.precision)
    cl = cluster_detection(pred, ref, sp, **(cluster_options or {})) if clusters else None
    out.update(cluster_sensitivity=None if cl is None else cl.sensitivity,
               cluster_precision=None if cl is None else cl.precision)
    out["empty"] = empty
    out["counts"] = {"lesions": lesions.to_dict(), "clusters": None if cl is None else cl.to_dict(),
                     "pred_pixels": int(pred.sum()), "ref_pixels": int(ref.sum())}
    out["spacing"] = [float(s) for s in sp]
    return out
