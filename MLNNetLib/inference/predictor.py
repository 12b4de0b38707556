"""Turn a domain-routed model into a function from a tile batch to probabilities, for one branch or all."""

from __future__ import annotations

import numpy as np
import torch

from MLNNetLib.inference.sliding_window import Predictor


def make_predictor(model: torch.nn.Module, branch: int | None, num_domains: int, device: torch.device) -> Predictor:
    """Sigmoid probabilities of ``branch``; ``branch=None`` runs every branch and keeps the per-pixel maximum.

    The maximum implements MLN-net-R's union: a pixel is foreground (p > t) if any branch says so.
    """

    def predict(batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
        b = x.shape[0]
        with torch.inference_mode():
            if branch is None:
                xx = x.repeat(num_domains, 1, 1, 1)
                d = torch.arange(num_domains, device=device).repeat_interleave(b)
                p = torch.sigmoid(model(xx, d).float()).reshape(num_domains, b, *x.shape[-2:]).amax(dim=0)
            else:
                d = torch.full((b,), int(branch), dtype=torch.long, device=device)
                p = torch.sigmoid(model(x, d).float())[:, 0]
        return p.cpu().numpy()

    return predict
