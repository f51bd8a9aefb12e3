"""Runners: turn a config into a training run (run folder, TensorBoard, checkpoints, summary)."""

from advrl.runners.ppo import make_env, train_ppo

__all__ = ["make_env", "train_ppo"]
