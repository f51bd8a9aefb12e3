"""Evaluation: returns and solve rates over levels and seeds, robustness metrics."""

from advrl.eval.actors import PolicyActor, RandomActor, episode_keys
from advrl.eval.ara import ara, normalized_ara
from advrl.eval.robustness import (
    CurvePoint,
    CurveReport,
    RobustnessResult,
    curve_report,
    robustness_curve,
)
from advrl.eval.rollouts import (
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
