"""Driving SB3's on-policy algorithms by hand: the one module that touches their private state.

UED plays each batch of levels for one rollout and decides itself whether an agent updates on it,
so it calls SB3's own ``collect_rollouts`` and ``train`` instead of ``learn``; these helpers set up
and advance what ``learn`` would. Checkpoints read and restore the update counter here too. An SB3
upgrade that renames any of these attributes touches this module only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm


def setup_learning(model: OnPolicyAlgorithm, total_timesteps: int, callback: BaseCallback) -> None:
    """What ``learn`` sets up before its loop: counters, schedules' horizon, the callback."""
    model._setup_learn(total_timesteps, reset_num_timesteps=False)
    model._total_timesteps = int(total_timesteps)
    callback.init_callback(model)


def start_rollout(model: OnPolicyAlgorithm) -> None:
    """Reset the model's envs, so the next ``collect_rollouts`` starts fresh episodes (on the
    levels just assigned to them)."""
    env = model.env
    assert env is not None
    model._last_obs = env.reset()  # type: ignore[assignment]
    model._last_episode_starts = np.ones(env.num_envs, dtype=bool)


def update(model: OnPolicyAlgorithm) -> None:
    """PPO's update on the collected rollout, with the schedules at the current progress."""
    model._update_current_progress_remaining(model.num_timesteps, model._total_timesteps)
    model.train()


def update_count(model: BaseAlgorithm) -> int:
    """How many gradient updates the model has taken (SB3's ``train/n_updates``)."""
    return int(getattr(model, "_n_updates", 0))


def set_update_count(model: BaseAlgorithm, count: int) -> None:
    """Restore :func:`update_count`."""
    model._n_updates = int(count)


class PrefixLogger(Logger):
    """Records into another SB3 logger under a prefix (``protagonist/train/value_loss``).

    Several agents share one TensorBoard run this way; only the owner of ``inner`` dumps.
    """

    def __init__(self, inner: Logger, prefix: str) -> None:
        super().__init__(inner.dir, [])
        self.inner = inner
        self.prefix = prefix

    def record(self, key: str, value: Any, exclude: str | tuple[str, ...] | None = None) -> None:
        """Record ``prefix + key`` in the inner logger."""
        self.inner.record(self.prefix + key, value, exclude)

    def record_mean(
        self, key: str, value: float | None, exclude: str | tuple[str, ...] | None = None
    ) -> None:
        """Average ``prefix + key`` in the inner logger."""
        self.inner.record_mean(self.prefix + key, value, exclude)

    def dump(self, step: int = 0) -> None:
        """Nothing: the inner logger's owner dumps."""
