"""Runners: turn a config into a training run (run folder, TensorBoard, checkpoints, summary)."""

from advrl.runners.ppo import train_ppo

__all__ = ["train_ppo"]
