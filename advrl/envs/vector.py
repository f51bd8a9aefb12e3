"""Vectorized envs: the batched maze where it can stand in for the Gymnasium one, else
``gymnasium.make`` copies under an SB3 VecEnv."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from advrl.checks import ConfigError, at_most, positive
from advrl.envs.batched import BatchedMaze
from advrl.envs.batched_pixel_maze import PixelBatchedMaze
from advrl.envs.physics.batched_pixel_cartpole import PixelCartPoleVecEnv

__all__ = [
    "BATCHED_KWARGS",
    "MAX_ENVS",
    "BackendError",
    "EnvSettings",
    "UEDEnvSettings",
    "VecSettings",
    "batched_kwargs",
    "make_env",
    "make_vec",
]


MAX_ENVS = 65_536
"""The most parallel envs (or levels) a run may ask for (the batched maze's largest tested N)."""


@dataclass(frozen=True)
class VecSettings:
    """Which env, and how its copies run (the fields every run kind shares)."""

    id: str = "advrl/Maze-Small-v0"
    """Gymnasium id (``advrl envs`` lists advrl's)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make``."""
    backend: Literal["auto", "batched", "gymnasium"] = "auto"
    """``batched``: a batched twin (BatchedMaze for domain-randomized advrl mazes, the pixel
    maze's PixelBatchedMaze, the pixel CartPole's PixelCartPoleVecEnv); ``gymnasium``:
    ``gymnasium.make`` copies under an SB3 VecEnv; ``auto``: batched where it applies."""
    device: str = "cpu"
    """Torch device of the batched backend (``cpu``, ``cuda``)."""


@dataclass(frozen=True)
class EnvSettings(VecSettings):
    """Which env the agent trains on."""

    n_envs: int = 16
    """Parallel envs."""
    vec_env: Literal["dummy", "subproc"] = "dummy"
    """SB3 VecEnv of the gymnasium backend: ``dummy`` (one process) or ``subproc`` (one per env)."""

    def __post_init__(self) -> None:
        positive(self, "n_envs")
        at_most(self, MAX_ENVS, "n_envs")


@dataclass(frozen=True)
class UEDEnvSettings(VecSettings):
    """The students' env: any env that takes levels (a maze, a physics env)."""

    id: str = "advrl/Maze-v0"
    """Gymnasium id of the students' env."""
    num_levels: int = 32
    """Levels per iteration: the students' parallel envs and the adversary's parallel designs."""

    def __post_init__(self) -> None:
        positive(self, "num_levels")
        at_most(self, MAX_ENVS, "num_levels")


class BackendError(ConfigError):
    """The batched backend was asked for an env it cannot stand in for (a config mistake)."""


def make_env(env_id: str, kwargs: dict[str, Any] | None = None) -> gym.Env:
    """``gymnasium.make`` (a module-level function, so it pickles into subprocess envs, where
    importing this module registers advrl's envs)."""
    return gym.make(env_id, **(kwargs or {}))


BATCHED_KWARGS = ("size", "agent_view_size", "max_steps", "num_walls")
"""MazeEnv arguments that BatchedMaze shares."""

PIXEL_KWARGS = ("views", "tile")
"""PixelMazeEnv's own arguments, which PixelBatchedMaze shares."""

MAZE_ENTRY = "advrl.envs.maze:MazeEnv"
PIXEL_MAZE_ENTRY = "advrl.envs.pixel_maze:PixelMazeEnv"
PIXEL_CARTPOLE_ENTRY = "advrl.envs.physics.pixel_cartpole:PixelCartPoleEnv"
PIXEL_CARTPOLE_KWARGS = ("views", "size", "frames", "randomize")
"""PixelCartPoleEnv's arguments, which PixelCartPoleVecEnv shares."""


def pixel_cartpole_kwargs(env_id: str, env_kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """PixelCartPoleVecEnv arguments for a registered PixelCartPoleEnv id, or None."""
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return None
    kwargs = {**spec.kwargs, **env_kwargs}
    if spec.entry_point != PIXEL_CARTPOLE_ENTRY or any(
        k not in (*PIXEL_CARTPOLE_KWARGS, "render_mode") for k in kwargs
    ):
        return None
    kwargs = {k: v for k, v in kwargs.items() if k in PIXEL_CARTPOLE_KWARGS}
    return {**kwargs, "max_steps": spec.max_episode_steps or 500}


def batched_kwargs(
    env_id: str, env_kwargs: dict[str, Any], *, entry_point: str = MAZE_ENTRY
) -> dict[str, Any] | None:
    """BatchedMaze arguments for an env, or None where it cannot stand in for it.

    It stands in for a domain-randomized :class:`MazeEnv` (no custom generator) whose other
    arguments are only rendering ones; with ``entry_point=PIXEL_MAZE_ENTRY``, PixelBatchedMaze's
    arguments for a :class:`PixelMazeEnv` of the same kind.
    """
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return None
    if spec.entry_point != entry_point:
        return None
    shared = BATCHED_KWARGS + (PIXEL_KWARGS if entry_point == PIXEL_MAZE_ENTRY else ())
    kwargs = {**spec.kwargs, **env_kwargs}
    if any(k not in (*shared, "render_mode", "tile_size") for k in kwargs):
        return None
    if isinstance(kwargs.get("num_walls"), list):
        kwargs["num_walls"] = tuple(kwargs["num_walls"])
    return {k: v for k, v in kwargs.items() if k in shared}


def make_vec(
    env_id: str,
    env_kwargs: dict[str, Any],
    n_envs: int,
    *,
    backend: str,
    device: str,
    seed: int,
    factory: Callable[..., gym.Env] = make_env,
    vec_env_cls: type[DummyVecEnv] | type[SubprocVecEnv] = DummyVecEnv,
) -> VecEnv:
    """``n_envs`` copies of an env: a batched twin where one applies (``batched``/``auto``:
    BatchedMaze, PixelBatchedMaze, PixelCartPoleVecEnv), else ``factory(env_id, kwargs)`` under
    ``vec_env_cls``.

    Raises:
        BackendError: ``backend`` is ``batched`` and the env is not a maze BatchedMaze can stand
            in for.
    """
    kwargs = batched_kwargs(env_id, env_kwargs) if backend != "gymnasium" else None
    pixel_kwargs = (
        batched_kwargs(env_id, env_kwargs, entry_point=PIXEL_MAZE_ENTRY)
        if backend != "gymnasium"
        else None
    )
    if pixel_kwargs is not None:
        return PixelBatchedMaze(n_envs, device=device, seed=seed, **pixel_kwargs)
    cartpole_kwargs = pixel_cartpole_kwargs(env_id, env_kwargs) if backend != "gymnasium" else None
    if cartpole_kwargs is not None:
        vec = PixelCartPoleVecEnv(n_envs, **cartpole_kwargs)
        vec.seed(seed)
        return vec
    if backend == "batched" and kwargs is None:
        raise BackendError(
            f"env.backend=batched needs an advrl maze (e.g. advrl/Maze-v0, advrl/PixelMaze-v0) with only "
            f"{', '.join(BATCHED_KWARGS)} as kwargs; {env_id!r} with {env_kwargs} is not one: "
            "set env.backend=gymnasium"
        )
    if kwargs is not None:
        return BatchedMaze(n_envs, device=device, seed=seed, **kwargs)
    return make_vec_env(
        factory,
        n_envs=n_envs,
        seed=seed,
        env_kwargs={"env_id": env_id, "kwargs": env_kwargs},
        vec_env_cls=vec_env_cls,
    )
