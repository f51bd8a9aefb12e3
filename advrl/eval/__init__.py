"""Evaluation: returns and solve rates over level sets and seeds (zero-shot, held-out, the
sampled-level worst case), robustness curves and ARA, and their statistics. The episode loops it
plays with are :mod:`advrl.episodes`."""

from advrl.eval.ara import ara, normalized_ara
from advrl.eval.robustness import (
    CurvePoint,
    CurveReport,
    RobustnessResult,
    curve_report,
    robustness_curve,
)

__all__ = [
    "CurvePoint",
    "CurveReport",
    "RobustnessResult",
    "ara",
    "curve_report",
    "normalized_ara",
    "robustness_curve",
]
