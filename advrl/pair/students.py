"""Students: SB3 on-policy agents that play a batch of levels for one rollout, and may learn from it.

SB3 PPO is driven through its own ``collect_rollouts`` and ``train``: :class:`Student` only puts
the levels into the VecEnv, resets it, and reads what happened on each level from the ``episode``
entries of the infos (the Monitor convention, which :class:`~advrl.envs.batched.BatchedMaze` also
follows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from advrl.agents.distillation import kl_toward
from advrl.agents.sb3_driver import PrefixLogger, setup_learning, start_rollout, update
from advrl.pair.scores import mean_and_max, negative_advantages


def assign_levels(venv: VecEnv, levels: Sequence[Any]) -> None:
    """Give slot ``i`` of ``venv`` level ``levels[i]`` (from its next reset on).

    Works with :class:`~advrl.envs.batched.BatchedMaze` (``set_levels``) and with Gymnasium envs
    wrapped in :class:`~advrl.envs.wrappers.FixedLevel` under any SB3 VecEnv.
    """
    if len(levels) != venv.num_envs:
        raise ValueError(f"got {len(levels)} levels for {venv.num_envs} env slots")
    set_levels = getattr(venv, "set_levels", None)
    if callable(set_levels):
        set_levels(list(levels))
        return
    try:
        for i, level in enumerate(levels):
            venv.env_method("set_level", level, indices=[i])
    except AttributeError:
        raise ValueError(
            "the students' envs cannot take levels: wrap each env in advrl.envs.wrappers.FixedLevel"
        ) from None


def start_manual_rollouts(
    model: OnPolicyAlgorithm,
    total_timesteps: int,
    logger: Logger,
    prefix: str,
    callback: BaseCallback,
) -> None:
    """Prepare SB3's state so the runner can call ``collect_rollouts``/``train`` itself.

    The model logs into ``logger`` under ``prefix``; ``callback`` is bound to the model.
    """
    model.set_logger(PrefixLogger(logger, prefix))
    setup_learning(model, total_timesteps, callback)


class EpisodeTracker(BaseCallback):
    """Collects, per slot, the return, length and success of every episode that ends in a rollout
    (``on_step``: called on every env step, e.g. to refresh a progress display)."""

    def __init__(self, on_step: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.step_hook = on_step  # (BaseCallback has its own on_step)
        self.returns: list[list[float]] = []
        self.successes: list[list[bool]] = []
        self.lengths: list[list[int]] = []

    def _on_rollout_start(self) -> None:
        n = self.training_env.num_envs
        self.returns = [[] for _ in range(n)]
        self.successes = [[] for _ in range(n)]
        self.lengths = [[] for _ in range(n)]

    def _on_step(self) -> bool:
        if self.step_hook is not None:
            self.step_hook()
        dones, infos = self.locals["dones"], self.locals["infos"]
        for i in np.flatnonzero(dones):
            episode = infos[i].get("episode")
            if episode is None:
                raise RuntimeError(
                    "an episode ended without an 'episode' entry in its info: wrap the students' "
                    "envs in stable_baselines3.common.monitor.Monitor"
                )
            self.returns[i].append(float(episode["r"]))
            self.lengths[i].append(int(episode["l"]))
            self.successes[i].append(bool(infos[i].get("is_success", False)))
        return True


@dataclass(frozen=True)
class RolloutResult:
    """What happened on each level (slot) during one rollout.

    Attributes:
        returns: per level, the returns of the episodes that finished.
        successes: per level, whether each finished episode was solved.
        advantages: ``[steps, levels]`` GAE advantages of the rollout.
        values: ``[steps, levels]`` value estimates of the states visited.
        steps: env steps taken (all levels together).
        episode_starts: ``[steps, levels]`` whether each step began an episode (None: unknown).
        gamma: the discount of the advantages.
        gae_lambda: their GAE lambda.
    """

    returns: list[list[float]]
    successes: list[list[bool]]
    advantages: np.ndarray
    values: np.ndarray
    steps: int
    episode_starts: np.ndarray | None = None
    gamma: float = 0.99
    gae_lambda: float = 0.95

    @property
    def mean_return(self) -> np.ndarray:
        """Per level: mean finished-episode return (0 where none finished)."""
        return mean_and_max(self.returns)[0]

    @property
    def max_return(self) -> np.ndarray:
        """Per level: best finished-episode return (0 where none finished)."""
        return mean_and_max(self.returns)[1]

    @property
    def solved(self) -> np.ndarray:
        """Per level: whether any episode was solved."""
        return np.array([any(s) for s in self.successes])

    def negative_advantages(self, solved: np.ndarray | None = None) -> np.ndarray:
        """``[steps, levels]``: this rollout's gated negative advantages
        (:func:`~advrl.pair.scores.negative_advantages`), gated on ``solved`` (default: solved in
        this rollout)."""
        if self.episode_starts is None:
            raise ValueError("this rollout did not record its episode starts; MNA needs them")
        return negative_advantages(
            self.advantages,
            self.episode_starts,
            self.solved if solved is None else solved,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
        )

    def negative_advantage(self, solved: np.ndarray | None = None) -> np.ndarray:
        """Per level: the MNA score of this rollout (the mean of :meth:`negative_advantages`)."""
        return self.negative_advantages(solved).mean(axis=0)

    @property
    def solve_rate(self) -> float:
        """Share of finished episodes that were solved."""
        flat = [s for per in self.successes for s in per]
        return float(np.mean(flat)) if flat else 0.0


class Student:
    """One SB3 on-policy agent (PPO) and the VecEnv of levels it plays.

    Call :meth:`start` once before the first :meth:`play`.

    Args:
        model: the agent; its env must take levels (see :func:`assign_levels`).
        name: used as the prefix of its TensorBoard keys.
        on_step: called on every env step of its rollouts (a progress display's refresh).
    """

    def __init__(
        self, model: OnPolicyAlgorithm, name: str, on_step: Callable[[], None] | None = None
    ) -> None:
        if model.env is None:
            raise ValueError(f"the {name}'s model has no env")
        self.model = model
        self.name = name
        self.tracker = EpisodeTracker(on_step)

    @property
    def num_levels(self) -> int:
        """Levels played at once (the VecEnv's slots)."""
        assert self.model.env is not None
        return self.model.env.num_envs

    @property
    def num_timesteps(self) -> int:
        """Env steps taken so far."""
        return int(self.model.num_timesteps)

    def start(self, total_timesteps: int, logger: Logger) -> None:
        """Prepare SB3's state for manual rollouts; log under ``<name>/`` in ``logger``."""
        start_manual_rollouts(self.model, total_timesteps, logger, f"{self.name}/", self.tracker)

    def play(
        self,
        levels: Sequence[Any],
        *,
        learn: bool = True,
        imitate: Student | None = None,
        imitation_coef: float = 0.0,
    ) -> RolloutResult:
        """Play ``levels`` (one per slot, replayed within the rollout) for ``n_steps``; then update.

        Args:
            levels: one level per slot.
            learn: take the PPO update on this rollout (PLR⊥ plays new levels without one).
            imitate: another student whose policy this one's update also imitates, by
                ``imitation_coef * KL(pi_other || pi_self)`` on every minibatch (the other frozen;
                see :func:`~advrl.agents.distillation.kl_toward`).
            imitation_coef: the KL's weight.
        """
        model, env = self.model, self.model.env
        assert env is not None
        assign_levels(env, levels)
        start_rollout(model)
        before = model.num_timesteps
        model.collect_rollouts(env, self.tracker, model.rollout_buffer, model.n_steps)
        buffer = model.rollout_buffer
        result = RolloutResult(
            returns=self.tracker.returns,
            successes=self.tracker.successes,
            advantages=buffer.advantages.copy(),
            values=buffer.values.copy(),
            steps=int(model.num_timesteps - before),
            episode_starts=buffer.episode_starts.copy(),
            gamma=float(model.gamma),
            gae_lambda=float(model.gae_lambda),
        )
        if learn and imitate is not None:
            with kl_toward(model, imitate.model.policy, imitation_coef):
                update(model)
        elif learn:
            update(model)
        return result
