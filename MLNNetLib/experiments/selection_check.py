"""The polarity x brightness test of a branch selection (DESIGN §4), on held-out source images.

Each image appears four ways: as it is; brightened by a gamma remap until its breast mean equals its
inversion's; inverted inside the breast (the source-dissimilar domain as training makes it, air kept dark);
and that inversion darkened to the original's breast mean. A selection that reads the domain picks branch 0
for the first two and branch 1 for the last two; one that reads brightness gets the middle two wrong.
A single-branch model has no branch to pick: there the decision tested is whether polarity selection inverts
the image back (1) or not (0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from MLNNetLib.augment import invert
from MLNNetLib.image import Image
from MLNNetLib.preprocess import prepare_image

CONDITIONS = (("normal", 0), ("normal, brightened", 0), ("inverted", 1), ("inverted, darkened", 1))


def gamma_to_mean(img01: np.ndarray, breast: np.ndarray, target: float) -> np.ndarray:
    """Gamma remap inside the breast (monotone: the domain does not change) to a breast mean of ``target``."""
    lo, hi = 0.02, 50.0
    v = np.clip(img01[breast], 0.0, 1.0).astype(np.float64)
    g = 1.0
    for _ in range(60):
        g = float(np.sqrt(lo * hi))
        if np.power(v, g).mean() > target:
            lo = g
        else:
            hi = g
    out = img01.copy()
    out[breast] = np.power(v, g)
    return out.astype(np.float32)


def versions(image: Image) -> list[tuple[str, int, Image]]:
    """(condition, expected branch, image) for the four conditions of one 2-D source image."""
    x, breast = prepare_image(image.array)
    inv = invert(x, breast)
    m_x, m_inv = float(x[breast].mean()), float(inv[breast].mean())
    arrays = {"normal": x, "normal, brightened": gamma_to_mean(x, breast, m_inv),
              "inverted": inv, "inverted, darkened": gamma_to_mean(inv, breast, m_x)}
    return [(name, expected, Image(arrays[name], image.geometry, image.path, dict(image.meta)))
            for name, expected in CONDITIONS]


@dataclass
class SelectionCheck:
    method: str
    correct: dict[str, int]  # condition -> images with the expected branch
    total: int  # images per condition

    @property
    def accuracy(self) -> float:
        return sum(self.correct.values()) / max(1, self.total * len(self.correct))

    def row(self) -> str:
        cells = " | ".join(f"{self.correct[c]}/{self.total}" for c, _ in CONDITIONS)
        return f"| {self.method} | {cells} | {100 * self.accuracy:.0f} % |"


def check_selection(ckpt, images: list[Image], methods: list[str], options=None) -> list[SelectionCheck]:
    """Run every method's selection (as segmentation runs it) on the four versions of every image."""
    from MLNNetLib.inference.segment import choose_branches_for_image

    results = {m: SelectionCheck(m, {c: 0 for c, _ in CONDITIONS}, len(images)) for m in methods}
    single = int(getattr(ckpt.model, "num_domains", 1)) == 1
    for image in images:
        for name, expected, version in versions(image):
            choices = choose_branches_for_image(ckpt, version, methods, options)  # one plan, one forward pass
            for m, choice in choices.items():
                decided = int(choice.inverted) if single else choice.branch
                results[m].correct[name] += int(decided == expected)
    return list(results.values())


def markdown(checks: list[SelectionCheck]) -> str:
    head = "| selection | " + " | ".join(c for c, _ in CONDITIONS) + " | accuracy |"
    sep = "|---|" + "---|" * (len(CONDITIONS) + 1)
    return "\n".join([head, sep, *(c.row() for c in checks)])
