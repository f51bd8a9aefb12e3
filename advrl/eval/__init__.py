"""Evaluation: returns and solve rates over levels and seeds."""

from advrl.eval.rollouts import EpisodeStats, evaluate, random_policy, sb3_policy

__all__ = ["EpisodeStats", "evaluate", "random_policy", "sb3_policy"]
