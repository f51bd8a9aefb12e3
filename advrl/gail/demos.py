"""Expert demonstrations: episodes of observations, actions and rewards, checked once.

A :class:`Demonstrations` holds K episodes back to back. Episode ``i`` of length ``T_i`` has
``T_i + 1`` observations (the last one is where it ended), ``T_i`` actions and ``T_i`` rewards, and
ended by ``terminated[i]`` or ``truncated[i]``. Observations are one array, or a dict of arrays for
``Dict`` observation spaces (the maze: ``image`` and ``direction``). Their files (advrl's and the
``imitation`` library's ``.npz``, Minari datasets) are read and written in
:mod:`advrl.gail.demo_files` and :mod:`advrl.gail.minari_io`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

FORMAT = "advrl-demos-1"
"""The ``format`` entry of advrl's demo files."""

Obs = np.ndarray | dict[str, np.ndarray]
"""Observations: one array, or one array per ``Dict`` key."""


class DemoError(ValueError):
    """Demonstrations that are malformed or do not fit an env; the message names the field."""


def _rows(obs: Obs) -> int:
    if isinstance(obs, dict):
        counts = {len(v) for v in obs.values()}
        if len(counts) != 1:
            raise DemoError(
                f"obs: every Dict key needs the same number of rows, got "
                f"{ {k: len(v) for k, v in obs.items()} }"
            )
        return counts.pop()
    return len(obs)


def take_rows(obs: Obs, index: Any) -> Obs:
    """Rows ``index`` of observations (of every key, for Dict observations)."""
    if isinstance(obs, dict):
        return {k: v[index] for k, v in obs.items()}
    return obs[index]


def concat_obs(parts: list[Any]) -> Obs:
    """Batches of observations (arrays, or dicts of arrays) joined along the first axis."""
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


@dataclass(frozen=True)
class Transitions:
    """Single steps ``(obs, act, next_obs)`` flattened over episodes.

    Attributes:
        obs: observation before each step.
        acts: action taken.
        next_obs: observation after it.
        dones: the step ended its episode by termination (not truncation).
        episode: index of the episode each step belongs to.
    """

    obs: Obs
    acts: np.ndarray
    next_obs: Obs
    dones: np.ndarray
    episode: np.ndarray

    def __len__(self) -> int:
        return len(self.acts)


@dataclass(frozen=True)
class Demonstrations:
    """K episodes, validated at construction (see the module docstring for the layout).

    Raises:
        DemoError: a field has the wrong shape, dtype or count; the message names it.
    """

    obs: Obs
    acts: np.ndarray
    rews: np.ndarray
    lengths: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    env_id: str = ""
    expert_return: float = math.nan
    random_return: float = math.nan
    _starts: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        arrays = dict(self.obs) if isinstance(self.obs, dict) else {"obs": self.obs}
        for name, value in {**arrays, "acts": self.acts, "rews": self.rews}.items():
            if np.ndim(value) < 1:
                raise DemoError(f"{name} must be an array with one row per step, got a scalar")
        for name in ("expert_return", "random_return"):
            value = getattr(self, name)
            if (
                np.ndim(value) != 0
                or not isinstance(value, (int, float, np.number))
                or np.iscomplexobj(value)
            ):
                raise DemoError(f"{name} must be one number, got {value!r}")
            object.__setattr__(self, name, float(value))
        lengths = np.asarray(self.lengths)
        if lengths.ndim != 1 or len(lengths) == 0:
            raise DemoError(f"lengths must be a non-empty 1-D array, got shape {lengths.shape}")
        if not np.issubdtype(lengths.dtype, np.integer) or (lengths < 1).any():
            raise DemoError("lengths must be integers >= 1 (steps per episode)")
        k, n = len(lengths), int(lengths.sum())
        for name in ("terminated", "truncated"):
            value = np.asarray(getattr(self, name))
            if value.shape != (k,) or value.dtype != np.bool_:
                raise DemoError(
                    f"{name} must be a bool array of shape ({k},) (one per episode), got "
                    f"{value.dtype} {value.shape}"
                )
        if len(self.acts) != n:
            raise DemoError(f"acts has {len(self.acts)} rows, expected {n} (the sum of lengths)")
        rews = np.asarray(self.rews)
        if rews.shape != (n,):
            raise DemoError(f"rews must have shape ({n},), got {rews.shape}")
        if isinstance(self.obs, dict) and not self.obs:
            raise DemoError("obs is an empty dict")
        rows = _rows(self.obs)
        if rows != n + k:
            raise DemoError(
                f"obs has {rows} rows, expected {n + k}: each episode stores its T + 1 observations"
            )
        arrays = {"acts": self.acts}
        arrays.update(
            {f"obs[{k!r}]": v for k, v in self.obs.items()}
            if isinstance(self.obs, dict)
            else {"obs": self.obs}
        )
        for name, value in [*arrays.items(), ("rews", rews)]:
            array = np.asarray(value)
            if np.iscomplexobj(array):  # training would read the real part alone
                raise DemoError(
                    f"{name} has complex dtype {array.dtype}; demonstrations hold real numbers"
                )
            if name == "rews":  # NaN rewards mean "not recorded": checked below
                continue
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                raise DemoError(f"{name} holds NaN or infinite values; record the demos again")
        if np.isinf(
            rews
        ).any():  # NaN rewards mean "not recorded" (imitation's files may lack them)
            raise DemoError("rews holds infinite values; record the demos again")
        object.__setattr__(self, "lengths", lengths.astype(np.int64))
        object.__setattr__(self, "rews", rews.astype(np.float32))
        starts = np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int64)
        object.__setattr__(self, "_starts", starts)

    # ------------------------------------------------------------------ views
    @property
    def num_episodes(self) -> int:
        """K."""
        return len(self.lengths)

    @property
    def num_transitions(self) -> int:
        """The sum of episode lengths."""
        return int(self.lengths.sum())

    @property
    def episode_starts(self) -> np.ndarray:
        """Index of each episode's first action in ``acts``/``rews``."""
        return self._starts

    def episode_returns(self) -> np.ndarray:
        """Undiscounted return of each episode."""
        return np.add.reduceat(self.rews.astype(np.float64), self._starts)

    def mean_return(self) -> float:
        """Mean episode return of the demonstrations."""
        return float(self.episode_returns().mean())

    def normalized_score(self, episode_return: float) -> float:
        """``(R - random) / (expert - random)``: 0 is a random policy, 1 the expert.

        Raises:
            DemoError: the file has no expert or random return to normalize with.
        """
        if math.isnan(self.expert_return) or math.isnan(self.random_return):
            raise DemoError(
                "these demos carry no expert_return/random_return; record them with "
                "`advrl demos record` (or pass both to Demonstrations)"
            )
        span = self.expert_return - self.random_return
        if span == 0:
            raise DemoError("expert_return equals random_return: no score can be normalized")
        return (episode_return - self.random_return) / span

    def episode(self, i: int) -> tuple[Obs, np.ndarray, np.ndarray]:
        """Observations (T + 1), actions and rewards of episode ``i``."""
        if not 0 <= i < self.num_episodes:
            raise IndexError(f"episode {i} of {self.num_episodes}")
        a, t = int(self._starts[i]), int(self.lengths[i])
        o = a + i
        return take_rows(self.obs, slice(o, o + t + 1)), self.acts[a : a + t], self.rews[a : a + t]

    def obs_index(self) -> np.ndarray:
        """For each transition, the row of its observation in ``obs`` (``+1`` gives the next one)."""
        episode = np.repeat(np.arange(self.num_episodes), self.lengths)
        return np.arange(self.num_transitions) + episode

    def transitions(self) -> Transitions:
        """Every step as ``(obs, act, next_obs, done)``."""
        episode = np.repeat(np.arange(self.num_episodes), self.lengths)
        rows = self.obs_index()
        last = np.zeros(self.num_transitions, dtype=bool)
        last[self._starts + self.lengths - 1] = True
        return Transitions(
            obs=take_rows(self.obs, rows),
            acts=self.acts,
            next_obs=take_rows(self.obs, rows + 1),
            dones=last & self.terminated[episode],
            episode=episode,
        )

    def head(self, k: int) -> Demonstrations:
        """The first ``k`` episodes (all of them if there are fewer)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        return self.episodes(0, min(k, self.num_episodes))

    def episodes(self, start: int, stop: int) -> Demonstrations:
        """Episodes ``start`` to ``stop - 1``."""
        if not 0 <= start < stop <= self.num_episodes:
            raise ValueError(
                f"episodes [{start}, {stop}) are not within the {self.num_episodes} recorded"
            )
        first, last = int(self.lengths[:start].sum()), int(self.lengths[:stop].sum())
        return Demonstrations(
            obs=take_rows(self.obs, slice(first + start, last + stop)),
            acts=self.acts[first:last],
            rews=self.rews[first:last],
            lengths=self.lengths[start:stop],
            terminated=self.terminated[start:stop],
            truncated=self.truncated[start:stop],
            env_id=self.env_id,
            expert_return=self.expert_return,
            random_return=self.random_return,
        )

    # ------------------------------------------------------------------ checks
    def check_spaces(
        self, observation_space: spaces.Space, action_space: spaces.Space, env: str = "the env"
    ) -> None:
        """Check that observations and actions fit an env's spaces.

        Raises:
            DemoError: naming the field, what it holds and what the space expects.
        """
        if isinstance(observation_space, spaces.Dict):
            if not isinstance(self.obs, dict):
                raise DemoError(
                    f"obs is one array but {env} has Dict observations with keys "
                    f"{sorted(observation_space.spaces)}"
                )
            if set(self.obs) != set(observation_space.spaces):
                raise DemoError(
                    f"obs has keys {sorted(self.obs)}, {env} expects "
                    f"{sorted(observation_space.spaces)}"
                )
            for key, sub in observation_space.spaces.items():
                _check_array(f"obs.{key}", self.obs[key], sub, env)
        else:
            if isinstance(self.obs, dict):
                raise DemoError(
                    f"obs is a dict {sorted(self.obs)} but {env} has array observations"
                )
            _check_array("obs", self.obs, observation_space, env)
        _check_array("acts", self.acts, action_space, env)


def _check_array(name: str, value: np.ndarray, space: spaces.Space, env: str) -> None:
    """Shape, dtype kind and (for discrete spaces) range of one field against a space."""
    if not isinstance(
        space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
    ):
        raise DemoError(f"{name}: {type(space).__name__} spaces are not supported")
    shape = tuple(space.shape or ())
    if tuple(value.shape[1:]) != shape:
        raise DemoError(
            f"{name} has shape {tuple(value.shape[1:])} per step, {env} expects {shape} ({space})"
        )
    if isinstance(space, spaces.Box):
        if not np.issubdtype(value.dtype, np.number):
            raise DemoError(f"{name} has dtype {value.dtype}, {env} expects numbers ({space})")
        if np.issubdtype(space.dtype, np.integer) and not np.issubdtype(value.dtype, np.integer):
            raise DemoError(f"{name} has dtype {value.dtype}, {env} expects {space.dtype}")
        return
    if not np.issubdtype(value.dtype, np.integer):
        raise DemoError(f"{name} has dtype {value.dtype}, {env} expects integers ({space})")
    if isinstance(space, spaces.Discrete):
        low, high = int(space.start), int(space.start + space.n - 1)
        if len(value) and (value.min() < low or value.max() > high):
            raise DemoError(
                f"{name} holds values in [{value.min()}, {value.max()}], {env} expects "
                f"[{low}, {high}]"
            )
