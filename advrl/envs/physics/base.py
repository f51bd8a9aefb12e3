"""The level contract for physics envs: named dynamics parameters set per episode.

A parameterized physics env declares ``PARAMETERS`` (name -> :class:`Parameter`), exposes the
matching ``level_space`` (a ``gymnasium.spaces.Dict`` of scalar ``Box`` es) and takes a level with
``env.reset(options={"level": {"gravity": 5.0}})``. Parameters left out keep their defaults, which
reproduce the standard Gymnasium env exactly. With ``randomize=True`` a reset without a level draws
every parameter uniformly from its range (domain randomization), from the env's seeded ``np_random``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class Parameter:
    """One settable dynamics parameter.

    Args:
        attr: attribute of the underlying Gymnasium env that holds it.
        default: the standard env's value.
        low: smallest allowed value.
        high: largest allowed value.
        doc: what it is, with units.
    """

    attr: str
    default: float
    low: float
    high: float
    doc: str


class PhysicsLevelMixin:
    """Adds ``level_space`` and ``reset(options={"level": ...})`` to a Gymnasium physics env.

    Put it first in the bases (``class X(PhysicsLevelMixin, CartPoleEnv)``) and call
    :meth:`_init_level` at the end of ``__init__``. Override :meth:`_apply_level` to update derived
    quantities.
    """

    PARAMETERS: ClassVar[dict[str, Parameter]]
    level_space: spaces.Dict
    randomize: bool
    level: dict[str, float]

    def _init_level(self, randomize: bool) -> None:
        self.randomize = bool(randomize)
        self.level_space = spaces.Dict(
            {
                name: spaces.Box(p.low, p.high, shape=(), dtype=np.float64)
                for name, p in self.PARAMETERS.items()
            }
        )
        self.level = self.default_level()
        self._apply_level(self.level)

    @classmethod
    def default_level(cls) -> dict[str, float]:
        """Every parameter at its standard value."""
        return {name: p.default for name, p in cls.PARAMETERS.items()}

    def validate_level(self, level: Mapping[str, Any]) -> dict[str, float]:
        """A full parameter dict from a (partial) level; clear errors for unknown or bad values."""
        if not isinstance(level, Mapping):
            raise ValueError(
                f"a {type(self).__name__} level is a dict of parameters, got {type(level).__name__}"
            )
        unknown = sorted(set(level) - set(self.PARAMETERS))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for {type(self).__name__}; "
                f"valid: {sorted(self.PARAMETERS)}"
            )
        params = self.default_level()
        for name, value in level.items():
            p = self.PARAMETERS[name]
            arr = np.asarray(value, dtype=np.float64)
            if arr.size != 1:
                raise ValueError(f"parameter {name!r} must be a scalar, got shape {arr.shape}")
            x = float(arr.reshape(()))
            if not math.isfinite(x) or not p.low <= x <= p.high:
                raise ValueError(
                    f"parameter {name!r} = {x} is out of range [{p.low}, {p.high}] ({p.doc})"
                )
            params[name] = x
        return params

    def sample_level(self, rng: np.random.Generator) -> dict[str, float]:
        """Every parameter uniform in its range (in declaration order)."""
        return {name: float(rng.uniform(p.low, p.high)) for name, p in self.PARAMETERS.items()}

    def _apply_level(self, params: Mapping[str, float]) -> None:
        for name, value in params.items():
            setattr(self, self.PARAMETERS[name].attr, value)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Seed, set the level (given, drawn, or default), then reset the underlying env."""
        options = dict(options or {})
        level = options.pop("level", None)
        gym.Env.reset(self, seed=seed)  # type: ignore[arg-type]  # seed np_random only
        if level is not None:
            params = self.validate_level(level)
        elif self.randomize:
            params = self.sample_level(self.np_random)  # type: ignore[attr-defined]
        else:
            params = self.default_level()
        self.level = params
        self._apply_level(params)
        obs, info = super().reset(seed=None, options=options or None)  # type: ignore[misc]
        info["level"] = dict(params)
        return obs, info
