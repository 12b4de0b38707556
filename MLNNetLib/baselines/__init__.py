"""Non-learned baselines the learned models are measured against (the top-hat floor)."""

from MLNNetLib.baselines.tophat import TophatDetector, detect, fit_threshold, tophat_response

__all__ = ["TophatDetector", "detect", "fit_threshold", "tophat_response"]
