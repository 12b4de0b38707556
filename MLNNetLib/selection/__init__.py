"""Domain statistics of the LayerNorm inputs and test-time branch selection (DESIGN §4)."""

from MLNNetLib.selection.branch import (
    DEFAULT_METHOD, METHODS, Selection, branch_moments, calibrate_ood, canonical_method, fallback_input_mean, ideal_score,
    score_branches, select_branch,
)
from MLNNetLib.selection.statistics import DomainStatistics, LayerMoments, MomentRecorder, record_domain_statistics

__all__ = [
    "DEFAULT_METHOD", "METHODS", "DomainStatistics", "LayerMoments", "MomentRecorder", "Selection", "branch_moments", "calibrate_ood",
    "canonical_method", "fallback_input_mean", "ideal_score", "record_domain_statistics", "score_branches",
    "select_branch",
]
