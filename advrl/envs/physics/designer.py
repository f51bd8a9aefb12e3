"""The designer of parameter levels: an adversary picks every physics parameter in one step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def _scalar_bounds(level_space: spaces.Dict) -> tuple[list[str], np.ndarray, np.ndarray]:
    names, lows, highs = [], [], []
    for name, space in level_space.spaces.items():
        if not isinstance(space, spaces.Box) or int(np.prod(space.shape)) != 1:
            raise ValueError(f"level_space[{name!r}] must be a scalar Box, got {space}")
        names.append(name)
        lows.append(float(space.low.reshape(-1)[0]))
        highs.append(float(space.high.reshape(-1)[0]))
    return names, np.array(lows), np.array(highs)


class ParamDesignerEnv(gym.Env):
    """PAIRED's adversary for parameter levels: one step sets every parameter.

    **Description.** The observation is fresh uniform noise (the adversary's latent). The action
    is a vector in ``[-1, 1]^d``, one entry per parameter of ``level_space`` in its order, mapped
    linearly onto each parameter's range (``-1`` the low end, ``1`` the high end). The episode
    terminates after that one step with the level in ``info["level"]``.

    **Reward.** ``reward_fn(level)`` when one is given, else 0 (PAIRED writes the regret in later).

    **Registered ids.** ``advrl/PhysicsDesigner-v0`` (``env_id`` picks the env whose levels it
    designs; default ``advrl/CartPole-v1``).

    Args:
        level_space: a ``Dict`` of scalar ``Box`` es; or None to take ``env_id``'s.
        env_id: an env with a ``level_space`` (used when ``level_space`` is None).
        noise_dim: length of the noise observation.
        reward_fn: maps the level to the step's reward.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        *,
        level_space: spaces.Dict | None = None,
        env_id: str = "advrl/CartPole-v1",
        noise_dim: int = 8,
        reward_fn: Callable[[dict[str, float]], float] | None = None,
    ) -> None:
        if level_space is None:
            env = gym.make(env_id)
            level_space = getattr(env.unwrapped, "level_space", None)
            env.close()
            if not isinstance(level_space, spaces.Dict):
                raise ValueError(f"{env_id} has no level_space to design")
        if noise_dim < 1:
            raise ValueError(f"noise_dim must be >= 1, got {noise_dim}")
        self.names, self.low, self.high = _scalar_bounds(level_space)
        self.level_space = level_space
        self.reward_fn = reward_fn
        self.observation_space = spaces.Box(0.0, 1.0, (int(noise_dim),), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (len(self.names),), dtype=np.float32)

    def action_to_level(self, action: Any) -> dict[str, float]:
        """The level an action stands for (actions outside ``[-1, 1]`` are clipped)."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        if a.shape != (len(self.names),):
            raise ValueError(f"action must have {len(self.names)} entries, got {a.shape}")
        values = self.low + (a + 1.0) / 2.0 * (self.high - self.low)
        return {n: float(v) for n, v in zip(self.names, values, strict=True)}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """A fresh noise vector."""
        super().reset(seed=seed)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Set every parameter; the design is finished."""
        level = self.action_to_level(action)
        reward = float(self.reward_fn(level)) if self.reward_fn is not None else 0.0
        return self._obs(), reward, True, False, {"level": level}

    def _obs(self) -> np.ndarray:
        return self.np_random.random(self.observation_space.shape, dtype=np.float32)
