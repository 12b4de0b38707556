"""Object-level detection: per calcification and per cluster (DESIGN §6), matched one to one.

A calcification is a connected component of a mask with full connectivity (8-connected in 2-D,
26-connected in 3-D), the same as MLNNetLib.quantify. Matching rule (why each part):
1. A predicted object can only count when it is *on target*: at least ``MIN_ON_TARGET`` (half) of its pixels lie
   within ``TOLERANCE_MM`` (0.5 mm, half the seed's 1.09 mm cluster kernel) of a reference calcification pixel.
   A blob somewhat larger than its calcification, or one blob drawn over a tight cluster, is on target; a region
   mostly over tissue is not — an all-foreground prediction touches every calcification and would otherwise be
   a perfect detector.
2. A pair (predicted object, reference object) is a candidate when the predicted object is on target and the
   two share at least one pixel.
3. Pairs are chosen one to one, as many as possible (maximum bipartite matching): one predicted blob over a
   whole cluster is ONE detection (it finds one calcification, the others are missed), and two predicted
   fragments of one calcification are one hit and one false positive.
Sensitivity = pairs / reference objects, precision = pairs / predicted objects. Undefined (None, JSON null)
when its denominator is zero: a reference without objects has no sensitivity, an empty prediction no
precision; averages over images skip them (pool the counts with ``+`` instead to weigh images by objects).

Clusters come from :func:`MLNNetLib.quantify.clusters.find_clusters` (dilate, > 5 calcifications); a predicted
and a reference cluster are a candidate pair when a calcification pixel of one coincides with a calcification
pixel of the other, matched one to one the same way. Clusters are 2-D; a 3-D stack is handled slice by slice
and the counts are pooled over slices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import maximum_bipartite_matching

TOLERANCE_MM = 0.5
MIN_ON_TARGET = 0.5


@dataclass
class Detection:
    """Counts behind object-level sensitivity and precision (sum them to pool over a data set)."""

    n_ref: int
    n_pred: int
    found: int    # reference objects matched to a predicted object (one to one)
    matched: int  # predicted objects matched to a reference object (= found)

    @property
    def sensitivity(self) -> float | None:
        return self.found / self.n_ref if self.n_ref else None

    @property
    def precision(self) -> float | None:
        return self.matched / self.n_pred if self.n_pred else None

    def __add__(self, other: "Detection") -> "Detection":
        return Detection(self.n_ref + other.n_ref, self.n_pred + other.n_pred,
                         self.found + other.found, self.matched + other.matched)

    def to_dict(self) -> dict:
        return {**asdict(self), "sensitivity": self.sensitivity, "precision": self.precision}


def one_to_one(pred_ids: np.ndarray, ref_ids: np.ndarray, n_pred: int, n_ref: int) -> int:
    """Size of a maximum one-to-one matching of candidate pairs (pred_ids[i], ref_ids[i]) (labels 1..n)."""
    if len(pred_ids) == 0:
        return 0
    graph = sparse.csr_matrix((np.ones(len(pred_ids), dtype=np.int8), (pred_ids - 1, ref_ids - 1)),
                              shape=(n_pred, n_ref))
    graph.data[:] = 1  # duplicate pairs were summed
    return int((maximum_bipartite_matching(graph, perm_type="column") >= 0).sum())


def _pairs(pred_labels: np.ndarray, ref_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (pred, ref) label pairs that share a pixel."""
    both = (pred_labels > 0) & (ref_labels > 0)
    if not both.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pairs = np.unique(np.stack([pred_labels[both], ref_labels[both]], axis=1).astype(np.int64), axis=0)
    return pairs[:, 0], pairs[:, 1]


def match_labels(pred_labels: np.ndarray, n_pred: int, ref_labels: np.ndarray, n_ref: int) -> Detection:
    """One-to-one detection counts from two label images (0 = background, objects 1..n), any overlap a candidate."""
    p, r = _pairs(pred_labels, ref_labels)
    k = one_to_one(p, r, int(n_pred), int(n_ref))
    return Detection(int(n_ref), int(n_pred), k, k)


def on_target(pred_labels: np.ndarray, n_pred: int, ref: np.ndarray, spacing, candidates: np.ndarray,
              tolerance_mm: float = TOLERANCE_MM) -> np.ndarray:
    """Bool per predicted label 1..n (index 0 unused): at least MIN_ON_TARGET of its pixels within
    ``tolerance_mm`` of a reference pixel. Only ``candidates`` (labels touching the reference) are measured,
    each in its own bounding box grown by the tolerance (reference pixels farther out cannot be within it)."""
    flags = np.zeros(n_pred + 1, dtype=bool)
    if len(candidates) == 0:
        return flags
    sp = np.broadcast_to(np.asarray(spacing, dtype=np.float64), (ref.ndim,))
    margin = [int(np.ceil(tolerance_mm / s)) + 1 for s in sp]
    boxes = ndimage.find_objects(pred_labels, max_label=n_pred)
    for label in np.asarray(candidates, dtype=np.int64):
        box = tuple(slice(max(0, b.start - m), min(n, b.stop + m)) for b, m, n in zip(boxes[label - 1], margin, ref.shape))
        obj = pred_labels[box] == label
        near = ndimage.distance_transform_edt(~ref[box], sampling=sp) <= tolerance_mm + 1e-9
        flags[label] = np.count_nonzero(near & obj) >= MIN_ON_TARGET * np.count_nonzero(obj)
    return flags


def label_objects(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components with full connectivity (8 in 2-D, 26 in 3-D)."""
    mask = np.asarray(mask, dtype=bool)
    labels, n = ndimage.label(mask, structure=np.ones((3,) * mask.ndim, dtype=bool))
    return labels, int(n)


def lesion_detection(pred: np.ndarray, ref: np.ndarray, spacing=None) -> Detection:
    """Per-calcification detection counts of ``pred`` against ``ref`` (module docstring: the matching rule).

    ``spacing`` in mm per axis (None = 1 mm) sets the on-target tolerance in pixels.
    """
    pred, ref = np.asarray(pred, dtype=bool), np.asarray(ref, dtype=bool)
    pl, pn = label_objects(pred)
    rl, rn = label_objects(ref)
    p, r = _pairs(pl, rl)
    ok = on_target(pl, pn, ref, 1.0 if spacing is None else spacing, np.unique(p))
    keep = ok[p]
    k = one_to_one(p[keep], r[keep], pn, rn)
    return Detection(rn, pn, k, k)


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
