"""Training MLN-net / Basenet from one labelled source domain (paper §3, DESIGN §3)."""

from MLNNetLib.training.config import VARIANTS, TrainConfig


def train(cfg: TrainConfig, progress=None):
    from MLNNetLib.training.loop import train as _train

    return _train(cfg, progress)


__all__ = ["TrainConfig", "VARIANTS", "train"]
