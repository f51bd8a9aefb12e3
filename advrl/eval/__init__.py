"""Evaluation: returns and solve rates over levels and seeds, robustness metrics."""

from advrl.eval.ara import ara, normalized_ara
from advrl.eval.rollouts import EpisodeStats, evaluate, random_policy, sb3_policy

__all__ = ["EpisodeStats", "ara", "evaluate", "normalized_ara", "random_policy", "sb3_policy"]
