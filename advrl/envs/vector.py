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
    "NormalizeSettings",
    "UEDEnvSettings",
    "VecSettings",
    "batched_kwargs",
    "batched_twin",
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
class NormalizeSettings:
    """Running normalization of observations and rewards (SB3's ``VecNormalize``), as MuJoCo
    agents train (SA-PPO, ATLA): the statistics are part of the run's checkpoints and frozen
    when the policy is evaluated, attacked or exported."""

    obs: bool = False
    """Normalize observations: ``clip((obs - mean) / std, +-clip_obs)`` with running statistics."""
    reward: bool = False
    """Scale rewards by the running std of the discounted return (PPO's ``gamma``)."""
    clip_obs: float = 10.0
    """Normalized observations are clipped to this."""
    clip_reward: float = 10.0
    """Scaled rewards are clipped to this."""

    def __post_init__(self) -> None:
        positive(self, "clip_obs", "clip_reward")

    @property
    def enabled(self) -> bool:
        """Whether anything is normalized."""
        return self.obs or self.reward


@dataclass(frozen=True)
class EnvSettings(VecSettings):
    """Which env the agent trains on."""

    n_envs: int = 16
    """Parallel envs."""
    vec_env: Literal["dummy", "subproc"] = "dummy"
    """SB3 VecEnv of the gymnasium backend: ``dummy`` (one process) or ``subproc`` (one per env)."""
    normalize: NormalizeSettings = field(default_factory=NormalizeSettings)
    """Running normalization of observations and rewards (PPO runs)."""

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

TWIN_KWARGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    MAZE_ENTRY: (BATCHED_KWARGS, ("render_mode", "tile_size")),
    PIXEL_MAZE_ENTRY: (BATCHED_KWARGS + PIXEL_KWARGS, ("render_mode", "tile_size")),
    PIXEL_CARTPOLE_ENTRY: (PIXEL_CARTPOLE_KWARGS, ("render_mode",)),
}
"""Per Gymnasium entry point with a batched twin: the arguments the twin shares, and the
rendering arguments it can ignore (any other argument keeps the Gymnasium env)."""


def batched_kwargs(
    env_id: str, env_kwargs: dict[str, Any], *, entry_point: str = MAZE_ENTRY
) -> dict[str, Any] | None:
    """The batched twin's arguments for an env, or None where it cannot stand in for it.

    BatchedMaze stands in for a domain-randomized :class:`MazeEnv` (no custom generator) whose
    other arguments are only rendering ones; ``entry_point`` names another twin's Gymnasium env
    (:data:`TWIN_KWARGS`): PixelBatchedMaze's for a :class:`PixelMazeEnv` of the same kind,
    PixelCartPoleVecEnv's (with the registered time limit as ``max_steps``) for a
    PixelCartPoleEnv.
    """
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return None
    if spec.entry_point != entry_point:
        return None
    shared, ignored = TWIN_KWARGS[entry_point]
    kwargs = {**spec.kwargs, **env_kwargs}
    if any(k not in (*shared, *ignored) for k in kwargs):
        return None
    if isinstance(kwargs.get("num_walls"), list):
        kwargs["num_walls"] = tuple(kwargs["num_walls"])
    twin = {k: v for k, v in kwargs.items() if k in shared}
    if entry_point == PIXEL_CARTPOLE_ENTRY:
        twin["max_steps"] = spec.max_episode_steps or 500
    return twin


def batched_twin(
    env_id: str,
    env_kwargs: dict[str, Any],
    n_envs: int,
    *,
    device: str,
    seed: int,
    levels: bool = False,
) -> VecEnv | None:
    """The batched twin of ``n_envs`` copies of an env (BatchedMaze, PixelBatchedMaze,
    PixelCartPoleVecEnv), or None where none stands in for it. With ``levels``, only a twin whose
    slots replay fixed levels (``set_levels``: the mazes) stands in."""
    kwargs = batched_kwargs(env_id, env_kwargs)
    if kwargs is not None:
        return BatchedMaze(n_envs, device=device, seed=seed, **kwargs)
    kwargs = batched_kwargs(env_id, env_kwargs, entry_point=PIXEL_MAZE_ENTRY)
    if kwargs is not None:
        return PixelBatchedMaze(n_envs, device=device, seed=seed, **kwargs)
    kwargs = batched_kwargs(env_id, env_kwargs, entry_point=PIXEL_CARTPOLE_ENTRY)
    if kwargs is not None and not levels:
        vec = PixelCartPoleVecEnv(n_envs, **kwargs)
        vec.seed(seed)
        return vec
    return None


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
    levels: bool = False,
) -> VecEnv:
    """``n_envs`` copies of an env: its batched twin where one applies (``batched``/``auto``,
    see :func:`batched_twin`), else ``factory(env_id, kwargs)`` under ``vec_env_cls``.
    ``levels``: the copies must replay fixed levels (UED's students; ``factory`` makes such envs).

    Raises:
        BackendError: ``backend`` is ``batched`` and no batched twin stands in for the env.
    """
    twin = None
    if backend != "gymnasium":
        twin = batched_twin(env_id, env_kwargs, n_envs, device=device, seed=seed, levels=levels)
    if twin is not None:
        return twin
    if backend == "batched":
        raise BackendError(
            f"env.backend=batched needs an advrl maze (e.g. advrl/Maze-v0, advrl/PixelMaze-v0) with only "
            f"{', '.join(BATCHED_KWARGS)} as kwargs; {env_id!r} with {env_kwargs} is not one: "
            "set env.backend=gymnasium"
        )
    return make_vec_env(
        factory,
        n_envs=n_envs,
        seed=seed,
        env_kwargs={"env_id": env_id, "kwargs": env_kwargs},
        vec_env_cls=vec_env_cls,
    )
