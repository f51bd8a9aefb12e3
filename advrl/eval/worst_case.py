"""Robustness over sampled levels: the success rate on the worst 1% and 10% of many random levels.

SFL's metric (Rutherford et al., 2024, "No Regrets"): draw a fixed set of solvable levels from the
env's own level distribution (10,000 in the paper), play each several times, sort the levels by
their success rate, and report the mean success rate on the worst ``alpha`` share (a conditional
value at risk, CVaR). The worst levels are chosen on one set of episodes and scored on a second,
independent set, so that the luck that put a level among the worst does not also score it
(otherwise the worst 1% of any policy would look like 0).

Every episode is played on the batched maze, thousands side by side
(:func:`~advrl.episodes.levels.play_levels`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advrl import progress
from advrl.envs.generators import RandomWalls
from advrl.envs.level import MazeLevel
from advrl.envs.vector import batched_kwargs
from advrl.episodes.actors import episode_keys
from advrl.episodes.levels import play_levels

ALPHAS: tuple[float, ...] = (0.01, 0.1)
"""The shares of worst levels reported (1% and 10%, as SFL)."""

MAX_DRAWS_PER_LEVEL = 100
"""Draws allowed per solvable level wanted before sampling gives up (a level family whose levels
are almost never solvable)."""


@dataclass(frozen=True)
class WorstCaseResult:
    """A policy on a fixed set of sampled levels.

    Attributes:
        success: ``[levels]`` each level's success rate on the selection episodes.
        worst: ``{alpha: mean success rate}`` of the worst ``alpha`` share of the levels (chosen by
            ``success``), scored on independent episodes.
        episodes: episodes per level in each of the two passes.
    """

    success: np.ndarray
    worst: dict[float, float]
    episodes: int
    alphas: tuple[float, ...] = field(default=ALPHAS)

    @property
    def mean(self) -> float:
        """The mean success rate over all the levels."""
        return float(self.success.mean())

    def scalars(self) -> dict[str, float]:
        """``sampled/mean_solve_rate`` and ``sampled/worst<pct>_solve_rate`` (TensorBoard)."""
        out = {"sampled/mean_solve_rate": self.mean}
        for alpha, value in self.worst.items():
            out[f"sampled/worst{_percent(alpha)}_solve_rate"] = value
        return out

    def summary(self) -> dict[str, Any]:
        """The run summary's fields."""
        return {
            "levels": len(self.success),
            "episodes": self.episodes,
            "mean_solve_rate": self.mean,
            "worst_solve_rate": {_percent(a): v for a, v in self.worst.items()},
        }


def _percent(alpha: float) -> str:
    return f"{100 * alpha:g}"


def _maze_kwargs(env_id: str, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs = batched_kwargs(env_id, env_kwargs)
    if kwargs is None:
        raise ValueError(
            f"{env_id} is not a domain-randomized maze: sampled-level evaluation draws the "
            "levels of a maze env (advrl/Maze-*)"
        )
    return kwargs


def episode_limits(env_id: str, env_kwargs: dict[str, Any]) -> tuple[int, int]:
    """A maze env's step limit and view size, as its batched twin plays it.

    Raises:
        ValueError: the env is not a domain-randomized maze.
    """
    kwargs = _maze_kwargs(env_id, env_kwargs)
    return int(kwargs.get("max_steps", 250)), int(kwargs.get("agent_view_size", 5))


def sample_levels(env_id: str, env_kwargs: dict[str, Any], n: int, seed: int) -> list[MazeLevel]:
    """``n`` solvable levels drawn from a maze env's own random levels (its ``num_walls``), in the
    order a ``numpy`` generator seeded with ``seed`` draws them (unsolvable draws are skipped).

    Raises:
        ValueError: the env is not a domain-randomized maze, or its levels are almost never
            solvable.
    """
    kwargs = _maze_kwargs(env_id, env_kwargs)
    if n < 1:
        raise ValueError(f"the number of sampled levels must be >= 1, got {n}")
    inner = int(kwargs.get("size", 15)) - 2
    generator = RandomWalls(shape=(inner, inner), num_walls=kwargs.get("num_walls"))
    rng = np.random.default_rng(seed)
    levels: list[MazeLevel] = []
    for _ in range(MAX_DRAWS_PER_LEVEL * n):
        level = generator.sample(rng)
        if level.solvable:
            levels.append(level)
            if len(levels) == n:
                return levels
    raise ValueError(
        f"only {len(levels)} of {MAX_DRAWS_PER_LEVEL * n} levels drawn from {env_id} were "
        f"solvable; the sampled-level evaluation needs {n}"
    )


def success_rates(
    model: Any,
    levels: Sequence[MazeLevel],
    *,
    episodes: int,
    max_steps: int,
    seed: int,
    chunk: int = 4096,
    agent_view_size: int = 5,
    device: str = "cpu",
) -> np.ndarray:
    """``[levels]``: the share of ``episodes`` episodes on each level that the policy solved,
    ``chunk`` episodes played side by side at a time; episode ``j`` of level ``i`` draws its actions
    from key ``i * episodes + j`` of ``seed`` (:func:`~advrl.episodes.actors.episode_keys`), so the
    rates do not depend on ``chunk``."""
    if episodes < 1:
        raise ValueError(f"episodes per level must be >= 1, got {episodes}")
    slots = [level for level in levels for _ in range(episodes)]  # level-major
    keys = episode_keys(seed, len(slots))
    solved = np.zeros(len(slots), dtype=bool)
    for k, start in enumerate(range(0, len(slots), chunk)):
        part = slots[start : start + chunk]
        stats = play_levels(
            model,
            part,
            max_steps=max_steps,
            agent_view_size=agent_view_size,
            device=device,
            seed=seed + k,
            keys=keys[start : start + len(part)],
            count_episodes=True,
        )
        solved[start : start + len(part)] = stats.successes
    return solved.reshape(len(levels), episodes).mean(axis=1)


def worst_case(
    model: Any,
    levels: Sequence[MazeLevel],
    *,
    episodes: int,
    max_steps: int,
    seed: int = 0,
    alphas: Sequence[float] = ALPHAS,
    chunk: int = 4096,
    agent_view_size: int = 5,
    device: str = "cpu",
) -> WorstCaseResult:
    """SFL's worst-case success: select the worst ``alpha`` share of ``levels`` on one pass of
    ``episodes`` episodes each (action seed ``seed``), score them on a second, independent pass
    (action seed ``seed + 1,000,003``) of as many.

    Args:
        model: the policy (``model.predict``).
        levels: the fixed set of levels (:func:`sample_levels`), all of one size.
        episodes: episodes per level in each pass.
        max_steps: the step limit of an episode.
        seed: seed of the policy's actions.
        alphas: the shares of worst levels, each in ``(0, 1]``.
        chunk: episodes played side by side.
        agent_view_size: the policy's view.
        device: torch device of the batched maze.
    """
    if not levels:
        raise ValueError("no levels to evaluate")
    if not alphas or any(not 0 < a <= 1 for a in alphas):
        raise ValueError(f"every alpha must be in (0, 1], got {list(alphas)}")
    counts = {float(a): max(1, math.ceil(a * len(levels))) for a in alphas}
    worst_n = max(counts.values())

    def rates(chosen: Sequence[MazeLevel], action_seed: int) -> np.ndarray:
        return success_rates(
            model,
            chosen,
            episodes=episodes,
            max_steps=max_steps,
            seed=action_seed,
            chunk=chunk,
            agent_view_size=agent_view_size,
            device=device,
        )

    total = (len(levels) + worst_n) * episodes
    with progress.phase("evaluating sampled levels", total, "episodes"):
        success = rates(levels, seed)
        order = np.argsort(success, kind="stable")[:worst_n]  # the worst first
        rescored = rates([levels[i] for i in order], seed + 1_000_003)
    worst = {a: float(rescored[:k].mean()) for a, k in counts.items()}
    return WorstCaseResult(success, worst, episodes, tuple(counts))


LEVEL_SEED = 20_240_000
"""Seed of the fixed set of sampled levels: every run and method is scored on the same levels
(the action seeds are the run's)."""


class SampledLevels:
    """The fixed set of sampled levels of a maze env and a policy's worst-case success on them.

    Args:
        env_id: a domain-randomized maze env (``advrl/Maze-*``).
        env_kwargs: its keyword arguments.
        levels: how many solvable levels (SFL: 10,000).
        episodes: episodes per level in each pass.
    """

    def __init__(
        self, env_id: str, env_kwargs: dict[str, Any], *, levels: int, episodes: int
    ) -> None:
        self.max_steps, self.agent_view_size = episode_limits(env_id, env_kwargs)
        if episodes < 1:
            raise ValueError(f"episodes per level must be >= 1, got {episodes}")
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs)
        self.count, self.episodes = int(levels), int(episodes)
        self._levels: list[MazeLevel] | None = None

    @property
    def levels(self) -> list[MazeLevel]:
        """The levels (drawn on first use, the same on every call)."""
        if self._levels is None:
            with progress.phase("sampling levels"):
                self._levels = sample_levels(self.env_id, self.env_kwargs, self.count, LEVEL_SEED)
        return self._levels

    def evaluate(self, model: Any, *, seed: int, device: str = "cpu") -> WorstCaseResult:
        """:func:`worst_case` of ``model`` on the levels, action seed ``seed``."""
        return worst_case(
            model,
            self.levels,
            episodes=self.episodes,
            max_steps=self.max_steps,
            seed=seed,
            agent_view_size=self.agent_view_size,
            device=device,
        )
