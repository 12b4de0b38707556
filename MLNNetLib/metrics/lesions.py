"""Object-level detection: per calcification and per cluster (DESIGN §6).

A calcification is a connected component of a mask with full connectivity (8-connected in 2-D,
26-connected in 3-D), the same as MLNNetLib.quantify. A reference object is *found* when at least one
predicted object overlaps it by one pixel or more; a predicted object is *matched* when it overlaps at
least one reference object. Sensitivity = found / reference objects, precision = matched / predicted
objects. Zero denominators follow the pixel-level policy: 1 when both masks have no objects, else 0.

Clusters come from :func:`MLNNetLib.quantify.clusters.find_clusters` (dilate, > 5 calcifications);
two clusters overlap when a calcification pixel of one coincides with a calcification pixel of the
other. Clusters are 2-D; a 3-D stack is handled slice by slice and the counts are pooled over slices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage


@dataclass
class Detection:
    """Counts behind object-level sensitivity and precision (sum them to pool over a data set)."""

    n_ref: int
    n_pred: int
    found: int    # reference objects overlapped by a predicted object
    matched: int  # predicted objects overlapping a reference object

    @property
    def sensitivity(self) -> float:
        if self.n_ref == 0:
            return 1.0 if self.n_pred == 0 else 0.0
        return self.found / self.n_ref

    @property
    def precision(self) -> float:
        if self.n_pred == 0:
            return 1.0 if self.n_ref == 0 else 0.0
        return self.matched / self.n_pred

    def __add__(self, other: "Detection") -> "Detection":
        return Detection(self.n_ref + other.n_ref, self.n_pred + other.n_pred,
                         self.found + other.found, self.matched + other.matched)

    def to_dict(self) -> dict:
        return {**asdict(self), "sensitivity": self.sensitivity, "precision": self.precision}


def match_labels(pred_labels: np.ndarray, n_pred: int, ref_labels: np.ndarray, n_ref: int) -> Detection:
    """Detection counts from two label images (0 = background, objects 1..n)."""
    both = (pred_labels > 0) & (ref_labels > 0)
    found = np.unique(ref_labels[both]).size
    matched = np.unique(pred_labels[both]).size
    return Detection(int(n_ref), int(n_pred), int(found), int(matched))


def label_objects(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components with full connectivity (8 in 2-D, 26 in 3-D)."""
    mask = np.asarray(mask, dtype=bool)
    labels, n = ndimage.label(mask, structure=np.ones((3,) * mask.ndim, dtype=bool))
    return labels, int(n)


def lesion_detection(pred: np.ndarray, ref: np.ndarray) -> Detection:
    """Per-calcification detection counts of ``pred`` against ``ref``."""
    pl, pn = label_objects(pred)
    rl, rn = label_objects(ref)
    return match_labels(pl, pn, rl, rn)


def _crop_to_objects(pred: np.ndarray, ref: np.ndarray, margin: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Both masks cut to the bounding box of their union plus ``margin`` (clipped to the image).

    Clustering only dilates and labels, so with a margin wider than the dilation kernel nothing
    outside the box can change a cluster: the result is the same, on far fewer pixels.
    """
    union = pred | ref
    lo, hi = [], []
    for axis in range(union.ndim):
        hit = np.flatnonzero(union.any(axis=tuple(a for a in range(union.ndim) if a != axis)))
        lo.append(max(0, int(hit[0]) - margin[axis]))
        hi.append(min(union.shape[axis], int(hit[-1]) + 1 + margin[axis]))
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    return pred[box], ref[box]


def cluster_detection(pred: np.ndarray, ref: np.ndarray, spacing, **cluster_options) -> Detection:
    """Per-cluster detection counts; ``cluster_options`` go to ``find_clusters`` (kernel, min count)."""
    from MLNNetLib.quantify.clusters import find_clusters, kernel_shape_for  # lazy: only the cluster level needs it

    pred, ref = np.asarray(pred, dtype=bool), np.asarray(ref, dtype=bool)
    spacing = tuple(float(s) for s in np.broadcast_to(np.asarray(spacing, dtype=np.float64), (pred.ndim,)))
    if pred.ndim == 3:
        total = Detection(0, 0, 0, 0)
        for p, r in zip(pred, ref):
            total = total + cluster_detection(p, r, spacing[1:], **cluster_options)
        return total
    if not (pred.any() or ref.any()):
        return Detection(0, 0, 0, 0)
    kernel = kernel_shape_for(spacing, **{k: v for k, v in cluster_options.items() if k.startswith("kernel_")})
    pred, ref = _crop_to_objects(pred, ref, tuple(2 * k + 2 for k in kernel))
    pc = find_clusters(pred, spacing, **cluster_options)
    rc = find_clusters(ref, spacing, **cluster_options)
    return match_labels(pc.cluster_labels, pc.n_clusters, rc.cluster_labels, rc.n_clusters)
