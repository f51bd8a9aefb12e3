"""PAIRED's adversary: an SB3 PPO agent on a designer env, rewarded once its levels were played."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from advrl.agents.sb3_driver import start_rollout, update
from advrl.pair.students import start_manual_rollouts


class DesignCollector(BaseCallback):
    """Collects the level each slot finished (``info["level"]``) and the step it finished at."""

    def __init__(self) -> None:
        super().__init__()
        self.levels: list[Any] = []
        self.finished_at: list[int] = []
        self._step = 0

    def _on_rollout_start(self) -> None:
        self.levels = [None] * self.training_env.num_envs
        self.finished_at = [-1] * self.training_env.num_envs
        self._step = 0

    def _on_step(self) -> bool:
        for i in np.flatnonzero(self.locals["dones"]):
            if self.finished_at[i] >= 0:
                raise RuntimeError("a designer finished two levels in one rollout")
            self.levels[i] = self.locals["infos"][i].get("level")
            self.finished_at[i] = self._step
        self._step += 1
        return True


class Adversary:
    """The teacher agent of PAIRED and minimax: designs one level per slot per rollout.

    Its designer env must end every design together after exactly ``model.n_steps`` steps (as
    :class:`~advrl.envs.MazeDesignerEnv` does after ``wall_budget + 2``), and give no reward of its
    own: the score of each level (regret, or minus the protagonist's return) is written into the
    last step of the rollout by :meth:`reward`, the returns and advantages are recomputed, and PPO
    takes its update. Every earlier step's reward stays 0.

    Args:
        model: SB3 PPO on the designer VecEnv.
        name: prefix of its TensorBoard keys.
    """

    def __init__(self, model: OnPolicyAlgorithm, name: str = "adversary") -> None:
        if model.env is None:
            raise ValueError("the adversary's model has no env")
        self.model = model
        self.name = name
        self.collector = DesignCollector()

    @property
    def num_levels(self) -> int:
        """Levels designed per rollout."""
        assert self.model.env is not None
        return self.model.env.num_envs

    def start(self, total_timesteps: int, logger: Logger) -> None:
        """Prepare SB3's state for manual rollouts; log under ``<name>/``."""
        start_manual_rollouts(self.model, total_timesteps, logger, f"{self.name}/", self.collector)

    def design(self) -> list[Any]:
        """Build one level per slot (a full rollout of the designer)."""
        model, env = self.model, self.model.env
        assert env is not None
        start_rollout(model)
        model.collect_rollouts(env, self.collector, model.rollout_buffer, model.n_steps)
        last = model.n_steps - 1
        if any(step != last for step in self.collector.finished_at):
            raise ValueError(
                f"the adversary's n_steps ({model.n_steps}) must equal the designer's episode "
                f"length; designs finished at steps {sorted(set(self.collector.finished_at))}"
            )
        return list(self.collector.levels)

    def assign(self, scores: Sequence[float] | np.ndarray) -> None:
        """Write ``scores`` (one per level) into the last design step and recompute the returns."""
        buffer = self.model.rollout_buffer
        values = np.asarray(scores, dtype=np.float32)
        if values.shape != (self.num_levels,):
            raise ValueError(f"need one score per level ({self.num_levels}), got {values.shape}")
        buffer.rewards[-1, :] = values
        # Every design ended on the last step, so nothing is bootstrapped past it.
        buffer.compute_returns_and_advantage(
            last_values=torch.zeros(self.num_levels), dones=np.ones(self.num_levels)
        )

    def update(self) -> None:
        """PPO's update on the rollout (after :meth:`assign`)."""
        update(self.model)

    def reward(self, scores: Sequence[float] | np.ndarray) -> None:
        """Reward the last design step with ``scores`` (one per level) and take the PPO update."""
        self.assign(scores)
        self.update()
