"""Evaluation: returns and solve rates over levels and seeds, robustness metrics. (The episode
loops it plays with live in :mod:`advrl.episodes`; the names below are kept here too.)"""

from advrl.episodes.actors import PolicyActor, RandomActor, episode_keys
from advrl.episodes.rollouts import (
    EVAL_SEED_OFFSET,
    EpisodeStats,
    PolicyModes,
    evaluate,
    evaluate_batch,
    evaluate_modes,
    play,
    play_env,
    random_policy,
    sb3_policy,
)
from advrl.eval.ara import ara, normalized_ara
from advrl.eval.robustness import (
    CurvePoint,
    CurveReport,
    RobustnessResult,
    curve_report,
    robustness_curve,
)

__all__ = [
    "EVAL_SEED_OFFSET",
    "CurvePoint",
    "CurveReport",
    "EpisodeStats",
    "PolicyActor",
    "PolicyModes",
    "RandomActor",
    "RobustnessResult",
    "ara",
    "curve_report",
    "episode_keys",
    "evaluate",
    "evaluate_batch",
    "evaluate_modes",
    "normalized_ara",
    "play",
    "play_env",
    "random_policy",
    "robustness_curve",
    "sb3_policy",
]
