"""Local contrast normalisation of the network input (model/input_norm.py)."""

from __future__ import annotations

import numpy as np
import torch

from MLNNetLib.model import build_model, get_config
from MLNNetLib.model.input_norm import LocalContrastNorm


def _tile(seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    from scipy import ndimage

    t = ndimage.gaussian_filter(rng.standard_normal((128, 128)), 6) * 1.5 + 0.45
    t[60:63, 60:63] += 0.2  # a calcification
    return torch.from_numpy(t.astype(np.float32))[None, None]


def test_the_transform_ignores_gain_and_offset_and_flips_with_inversion():
    lcn = LocalContrastNorm(15.0)
    x = _tile()
    y = lcn(x)
    torch.testing.assert_close(lcn(0.4 * x + 0.3), y, atol=2e-3, rtol=0)  # a linear LUT change: nothing changes
    torch.testing.assert_close(lcn(1.0 - x), -y, atol=1e-5, rtol=0)  # inversion: the sign flips
    assert float(y[0, 0, 61, 61]) > 5 * float(y.abs().median())  # the calcification stands out
    assert float(lcn(torch.zeros(1, 1, 64, 64)).abs().max()) == 0.0  # flat air stays 0


def test_a_smooth_monotone_lut_barely_moves_the_normalised_tile():
    lcn = LocalContrastNorm(15.0)
    x = _tile(1)
    y, yg = lcn(x), lcn(x.clamp(0, 1) ** 1.8)  # a gamma LUT: close to linear over the window
    corr = float(torch.corrcoef(torch.stack([y.flatten(), yg.flatten()]))[0, 1])
    assert corr > 0.97, corr


def test_both_architectures_take_the_option_and_it_survives_a_checkpoint(tmp_path):
    from MLNNetLib.checkpoint import load_checkpoint, save_checkpoint

    for name in ("tiny-stem", "pro_unext-tiny"):
        cfg = get_config(name).replace(input_norm="local")
        torch.manual_seed(0)
        model = build_model(cfg, num_domains=2).eval()
        x = torch.rand(2, 1, 64, 64)
        d = torch.tensor([0, 1])
        path = save_checkpoint(tmp_path / f"{name}.safetensors", model, {"spacing_mm": [0.1, 0.1]})
        loaded = load_checkpoint(path).model
        assert loaded.config.input_norm == "local"
        with torch.no_grad():
            torch.testing.assert_close(loaded(x, d), model(x, d))
            plain = build_model(name, num_domains=2).eval()
            plain.load_state_dict(model.state_dict())  # same parameters: the transform has none
            assert not torch.allclose(plain(x, d), model(x, d))
