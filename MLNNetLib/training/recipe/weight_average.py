"""Exponential moving average of the weights: the network that is validated, selected and shipped.

Why: averaging the weights along the end of a run lands in a flatter region of the loss than the last iterate,
and flat minima transfer better to unseen domains (Izmailov et al. 2018, SWA; Cha et al. 2021, SWAD, which
makes this argument for domain generalisation). It costs one ``lerp`` per parameter and step. The average
starts after the warm-up (the first update copies the weights), and BatchNorm statistics are not averaged:
the caller recomputes them on the averaged weights (precise BN), since averaged weights need their own.
Built on ``torch.optim.swa_utils.AveragedModel`` with its EMA update.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from MLNNetLib.errors import InputError


def check_decay(decay: float) -> None:
    """0 turns averaging off; otherwise a decay in (0, 1): the average's memory is about 1 / (1 - decay) steps."""
    if not (decay == 0.0 or 0.0 < decay < 1.0):
        raise InputError(None, f"ema_decay={decay}: use 0 (no weight averaging) or a decay between 0 and 1, e.g. 0.99")


class WeightAverage:
    """EMA of a model's parameters from step ``start`` on; ``module`` is the averaged network."""

    def __init__(self, model: nn.Module, decay: float, start: int) -> None:
        check_decay(decay)
        self.decay, self.start = float(decay), int(start)
        self._avg = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=False)

    @property
    def module(self) -> nn.Module:
        return self._avg.module

    @property
    def updates(self) -> int:
        return int(self._avg.n_averaged)

    def update(self, model: nn.Module, step: int) -> None:
        """Fold the weights after optimiser step ``step`` (0-based) into the average; before ``start``, follow them."""
        if step < self.start:
            self.module.load_state_dict(model.state_dict())
            return
        self._avg.update_parameters(model)

    def restore(self, path: Path, updates: int) -> None:
        """Resume: the averaged weights saved at the last epoch, and how many steps they hold."""
        from MLNNetLib.checkpoint import load_checkpoint

        if not path.exists():
            raise InputError(path, "cannot resume: the run averages its weights but the saved average is missing")
        self.module.load_state_dict(load_checkpoint(path).model.state_dict())
        self._avg.n_averaged.fill_(int(updates))
