"""The learned ("optimal") observation attack of ATLA (Zhang et al., ICLR 2021): an adversary
policy, trained with RL, chooses the perturbation of each observation the victim sees, to
minimize the victim's return.

:class:`ObservationAdversaryEnv` is the adversary's MDP: its observation is the victim's clean
observation (normalized, where the victim trains under ``VecNormalize``), its action ``a`` in
``[-1, 1]^d`` is the perturbation ``eps * a`` (ATLA's ``hardtanh(a) * eps``: SB3 clips a Box action
to its bounds before the env steps), the victim acts greedily on the perturbed observation, the
wrapped env steps with the victim's action, and the adversary's reward is the negated victim's.
An ordinary PPO agent trained on it is the attack; its own return is minus the victim's under
attack. The victim's networks and normalization are frozen; the env's state is only ever changed
by the victim's actions.
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm

from advrl.agents.obs_normalization import ObservationNormalizer


class ObservationAdversaryEnv(gym.Env[np.ndarray, np.ndarray]):
    """The learned attack's MDP around ``env`` and a frozen ``victim``.

    Args:
        env: the victim's env (Box observations).
        victim: the victim's SB3 model (its policy acts greedily).
        eps: the L-inf radius of the perturbation.
        normalizer: the victim's frozen observation normalization (None: it takes raw ones).
        eps_units: ``normalized``: the ball around the normalized observation (ATLA's units);
            ``env``: around the raw one.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(
        self,
        env: gym.Env,
        victim: BaseAlgorithm,
        eps: float,
        normalizer: ObservationNormalizer | None = None,
        eps_units: Literal["env", "normalized"] = "normalized",
    ) -> None:
        space = env.observation_space
        if not isinstance(space, spaces.Box):
            raise ValueError(
                f"the learned attack perturbs Box observations; this env has "
                f"{type(space).__name__} observations"
            )
        if not 0 < eps < float("inf"):
            raise ValueError(f"eps must be a positive number, got {eps}")
        if eps_units not in ("env", "normalized"):
            raise ValueError(f"eps_units must be 'env' or 'normalized', got {eps_units!r}")
        self.env, self.victim, self.eps = env, victim, float(eps)
        self.normalizer = normalizer.to("cpu") if normalizer is not None else None
        self.eps_units = eps_units
        shape = space.shape
        self.observation_space = (
            spaces.Box(-np.inf, np.inf, shape, np.float32) if self.normalizer is not None else space
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape, np.float32)
        self.raw: np.ndarray = np.zeros(shape, np.float32)

    @property
    def np_random(self) -> np.random.Generator:
        """The victim's env's random generator (what a checkpoint saves of this env's state)."""
        return self.env.unwrapped.np_random

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        self.env.unwrapped.np_random = value

    def _normalize(self, raw: np.ndarray) -> np.ndarray:
        if self.normalizer is None:
            return raw.astype(np.float32)
        return self.normalizer.one(raw)

    def seen(self, action: np.ndarray) -> np.ndarray:
        """What the victim's policy takes for the adversary's ``action`` at the current state."""
        delta = self.eps * np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        if self.normalizer is not None and self.eps_units == "normalized":
            return self._normalize(self.raw) + delta
        return self._normalize(self.raw + delta)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The victim's env reset; the adversary sees its (normalized) observation."""
        super().reset(seed=seed)
        raw, info = self.env.reset(seed=seed, options=options)
        self.raw = np.asarray(raw, np.float32)
        return self._normalize(self.raw), info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """The victim acts on the perturbed observation; the adversary gets minus its reward."""
        seen = self.seen(action)
        victim_action, _ = self.victim.predict(seen, deterministic=True)
        raw, reward, terminated, truncated, info = self.env.step(victim_action)
        self.raw = np.asarray(raw, np.float32)
        info = {**info, "victim_reward": float(reward)}
        return self._normalize(self.raw), -float(reward), terminated, truncated, info

    def close(self) -> None:
        """Close the victim's env."""
        self.env.close()
