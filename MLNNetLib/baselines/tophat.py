"""The classical floor every learned model must beat: white top-hat filtering plus one global threshold.

Microcalcifications are small bright spots; a white top-hat (the image minus its grey opening with a
structuring element larger than a calcification) keeps exactly such spots and removes the tissue
background. The detector has two numbers: the element size (0.7 mm, i.e. 7x7 px at 0.1 mm, scaled with
the image's spacing) and the threshold on the top-hat response. The threshold is chosen on labelled images
of the source domain (the model's validation images) and then fixed — never re-chosen per test image, which
would be an oracle no user has.

It gets the same image preparation as the models (normalisation on breast tissue, resampling to the
training spacing) and the same tissue-polarity reading the default selection uses: on an image read as
inverted it looks for dark spots. Without that the floor would score zero on inverted styles by
construction, and beating it there would prove nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from MLNNetLib.errors import InputError
from MLNNetLib.log import get_logger
from MLNNetLib.preprocess import prepare_image
from MLNNetLib.selection.polarity import polarity

log = get_logger(__name__)

ELEMENT_MM = 0.7
THRESHOLDS = tuple(np.round(np.linspace(0.01, 0.80, 80), 4))  # 0.40 was the best on the source once: the grid ends well past it


@dataclass(frozen=True)
class TophatDetector:
    """White top-hat + threshold; ``threshold`` is on the [0, 1]-normalised top-hat response."""

    threshold: float
    element_mm: float = ELEMENT_MM
    fitted_on: int = 0  # number of labelled source images the threshold was chosen on
    fitted_dice: float | None = None  # their mean DSC at that threshold

    def to_dict(self) -> dict:
        return asdict(self)


def element_px(spacing_mm: Sequence[float], element_mm: float = ELEMENT_MM) -> tuple[int, int]:
    """Odd element size per axis, at least 3 px."""
    return tuple(max(3, int(round(element_mm / float(s))) | 1) for s in spacing_mm[-2:])


def tophat_response(image: np.ndarray, spacing_mm: Sequence[float], element_mm: float = ELEMENT_MM,
                    polarity_aware: bool = True) -> tuple[np.ndarray, np.ndarray, bool]:
    """(top-hat response in [0, 1] inside the breast, breast mask, read as inverted) of a raw 2-D image."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim != 2:
        raise InputError(None, f"the top-hat baseline works on 2-D images, got shape {arr.shape}")
    img01, breast = prepare_image(arr)
    inverted = False
    if polarity_aware:
        p = polarity(img01, breast, tuple(spacing_mm[-2:]))
        inverted = p.branch == 1
    work = np.where(breast, 1.0 - img01, 0.0) if inverted else img01
    response = ndimage.white_tophat(work, size=element_px(spacing_mm, element_mm))
    return np.where(breast, response, 0.0).astype(np.float32), breast, inverted


def _dice(pred: np.ndarray, ref: np.ndarray) -> float:
    s = int(pred.sum()) + int(ref.sum())
    return 1.0 if s == 0 else 2.0 * int(np.logical_and(pred, ref).sum()) / s


def fit_threshold(samples: Iterable[tuple[np.ndarray, np.ndarray, Sequence[float]]],
                  thresholds: Sequence[float] = THRESHOLDS, element_mm: float = ELEMENT_MM) -> TophatDetector:
    """The threshold with the best mean DSC over labelled (image, mask, spacing) samples of the source domain."""
    responses = [(tophat_response(img, sp, element_mm)[0], np.asarray(mask) > 0) for img, mask, sp in samples]
    if not responses:
        raise InputError(None, "the top-hat threshold needs at least one labelled source image")
    means = [float(np.mean([_dice(r > t, m) for r, m in responses])) for t in thresholds]
    best = int(np.argmax(means))
    if best == len(thresholds) - 1:
        log.warning("top-hat threshold %.3f is the last of the grid: the best may lie beyond it", thresholds[best])
    return TophatDetector(float(thresholds[best]), element_mm, len(responses), means[best])


def detect(detector: TophatDetector, image: np.ndarray, spacing_mm: Sequence[float]) -> tuple[np.ndarray, bool]:
    """(uint8 mask, read as inverted) of a raw 2-D image."""
    response, _, inverted = tophat_response(image, spacing_mm, detector.element_mm)
    return (response > detector.threshold).astype(np.uint8), inverted
