"""Wrappers for the level contract."""

from __future__ import annotations

from typing import Any

import gymnasium as gym


class FixedLevel(gym.Wrapper):
    """Replays one level: every ``reset`` without a level of its own plays the level set last.

    What PAIRED and PLR need from a Gymnasium env under an SB3 ``VecEnv``: the VecEnv's automatic
    resets go back to the same level until :meth:`set_level` changes it. With no level set (or
    ``None``) the env draws its own, as without the wrapper.

    Args:
        env: an env that takes ``reset(options={"level": ...})``.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.fixed_level: Any = None

    def set_level(self, level: Any) -> None:
        """Play ``level`` from the next reset on (None: back to the env's own levels)."""
        self.fixed_level = level

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset onto the fixed level unless ``options`` names another."""
        options = dict(options or {})
        if self.fixed_level is not None:
            options.setdefault("level", self.fixed_level)
        return self.env.reset(seed=seed, options=options or None)
