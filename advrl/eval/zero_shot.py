"""Zero-shot evaluation of a policy on the levels an env says it has: typed results, one table.

A maze env (one the batched maze can stand in for) plays named held-out mazes, many seeded
episodes at once; any other level-taking env plays its standard level. Either way the result is
a :class:`ZeroShotResult`: episode statistics per policy mode and level, which the CLI only
formats and the run summary stores as plain JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from advrl import progress
from advrl.envs.vector import batched_kwargs, make_env
from advrl.episodes.actors import Actor, as_actor
from advrl.episodes.rollouts import EpisodeStats, play_env, random_actor
from advrl.eval.heldout import evaluate_heldout, evaluate_heldout_modes
from advrl.files import atomic_write_bytes

Mode = Literal["stochastic", "deterministic", "random"]
STANDARD_LEVEL = "default"
"""The level name of an env played on its standard level (not a maze)."""


@dataclass(frozen=True)
class ZeroShotResult:
    """A policy played on levels it never trained on.

    Attributes:
        stats: ``{mode: {level: statistics}}``; modes ``stochastic`` and ``deterministic`` (the
            policy sampling or taking its most likely action) and, where played, ``random`` (a
            uniformly random policy on the same episodes: the reference).
        held_out: whether the levels are named held-out mazes (else the env's standard level).
        label: what the levels are, the first column of :meth:`rows` (``views`` where they are
            view spaces, see :func:`zero_shot_views`).
    """

    stats: dict[str, dict[str, EpisodeStats]]
    held_out: bool
    label: str = "level"

    @property
    def levels(self) -> list[str]:
        """The level names, in the order played."""
        return list(self.stats["stochastic"])

    def mean(
        self, metric: Literal["success_rate", "mean_return"], mode: Mode = "stochastic"
    ) -> float:
        """The mean over levels of a metric of one mode."""
        return float(np.mean([getattr(s, metric) for s in self.stats[mode].values()]))

    def rows(self) -> list[dict[str, Any]]:
        """One row per level: solve rate and return of the stochastic and the greedy policy (and
        the random policy's, where it was played); solve rates only where the env defines
        success."""
        rows = []
        for name in self.levels:
            s, d = self.stats["stochastic"][name], self.stats["deterministic"][name]
            row: dict[str, Any] = {self.label: name, "episodes": len(s.returns)}
            played = [("", s), ("_greedy", d)]
            if "random" in self.stats:
                played.append(("_random", self.stats["random"][name]))
            for suffix, stats in played:
                if s.success_defined:
                    row[f"solve_rate{suffix}"] = round(stats.success_rate, 4)
                row[f"return{suffix}"] = round(stats.mean_return, 4)
            rows.append(row)
        return rows

    def summary(self) -> dict[str, Any]:
        """The run summary's fields: every statistic, and the means over levels."""
        out: dict[str, Any] = {
            "eval": {m: {n: s.as_dict() for n, s in by.items()} for m, by in self.stats.items()},
            "held_out": self.held_out,
            "mean_solve_rate": self.mean("success_rate"),
            "mean_solve_rate_greedy": self.mean("success_rate", "deterministic"),
            "mean_return": self.mean("mean_return"),
            "mean_return_greedy": self.mean("mean_return", "deterministic"),
        }
        if "random" in self.stats:
            out["mean_solve_rate_random"] = self.mean("success_rate", "random")
        return out

    def scalars(self) -> dict[str, float]:
        """``heldout/<level>/solve_rate`` and ``/return`` (stochastic policy), and the means: what
        TensorBoard shows of a periodic evaluation."""
        out: dict[str, float] = {}
        for name, s in self.stats["stochastic"].items():
            out[f"heldout/{name}/solve_rate"] = s.success_rate
            out[f"heldout/{name}/return"] = s.mean_return
        out["heldout/mean_solve_rate"] = self.mean("success_rate")
        out["eval/mean_reward"] = self.mean("mean_return")  # SB3's names, as other runs
        out["eval/mean_ep_length"] = float(
            np.mean([s.mean_length for s in self.stats["stochastic"].values()])
        )
        if all(s.success_defined for s in self.stats["stochastic"].values()):
            out["eval/success_rate"] = out["heldout/mean_solve_rate"]
        out["heldout/mean_solve_rate_greedy"] = self.mean("success_rate", "deterministic")
        return out


def zero_shot(
    model: Any,
    env_id: str,
    env_kwargs: dict[str, Any],
    names: Sequence[str],
    *,
    episodes: int,
    seed: int,
    with_random: bool = False,
) -> ZeroShotResult:
    """Zero-shot evaluation of a policy (``model.predict``).

    For a maze env, ``names`` are held-out mazes, played ``episodes`` seeded episodes each on the
    batched maze (with ``with_random``, a uniformly random policy plays the same episodes too);
    any other env plays its standard level ``episodes`` times.
    """
    maze_kwargs = batched_kwargs(env_id, env_kwargs)
    modes: list[Mode] = ["stochastic", "deterministic"]
    if with_random and maze_kwargs is not None:
        modes.append("random")
    stats: dict[str, dict[str, EpisodeStats]] = {}
    label, total = "evaluating", len(modes) * episodes
    if maze_kwargs is not None:
        label, total = "evaluating held-out mazes", len(modes) * len(names) * episodes
    with progress.phase(label, total, "episodes"):
        if maze_kwargs is not None:  # the policy's two modes in one batch, then the random one
            view = int(maze_kwargs.get("agent_view_size", 5))
            stats.update(
                evaluate_heldout_modes(
                    model, names, episodes=episodes, seed=seed, agent_view_size=view
                )
            )
            if "random" in modes:
                stats["random"] = _play(
                    model, env_id, env_kwargs, maze_kwargs, names, "random", episodes, seed
                )
        else:
            for mode in modes:
                stats[mode] = _play(
                    model, env_id, env_kwargs, maze_kwargs, names, mode, episodes, seed
                )
    return ZeroShotResult(stats, held_out=maze_kwargs is not None)


def zero_shot_views(
    model: Any,
    env_id: str,
    env_kwargs: dict[str, Any],
    views: Sequence[str],
    *,
    episodes: int,
    seed: int,
) -> ZeroShotResult:
    """A pixel env's policy on its env drawn under each named view space (e.g. ``default``,
    ``train``, ``heldout``): the same seeded levels under every view space, sampled and greedy
    actions and a uniformly random policy; the result's levels are the view spaces.

    Raises:
        ValueError: the env has no views, or a view space is unknown.
    """
    env = make_env(env_id, env_kwargs)
    has_views = hasattr(env.unwrapped, "view_space")
    env.close()
    if not has_views:
        raise ValueError(
            f"{env_id} has no views to draw it under (pixel envs such as "
            "advrl/PixelMaze-Small-v0 and advrl/PixelCartPole-v1 have them)"
        )
    modes: list[Mode] = ["stochastic", "deterministic", "random"]
    stats: dict[str, dict[str, EpisodeStats]] = {mode: {} for mode in modes}
    with progress.phase("evaluating views", len(views) * len(modes) * episodes, "episodes"):
        for name in views:
            kwargs = {**env_kwargs, "views": name}
            for mode in modes:
                actor = _actor(model, mode, env_id, kwargs)
                stats[mode][name] = play_env(env_id, actor, episodes, seed, env_kwargs=kwargs)
    return ZeroShotResult(stats, held_out=False, label="views")


def _actor(model: Any, mode: Mode, env_id: str, env_kwargs: dict[str, Any]) -> Actor:
    """The actor of a policy mode: the model sampling or greedy, or a uniformly random policy of
    the env's action space."""
    if mode != "random":
        return as_actor(model, mode == "deterministic")
    return random_actor(env_id, env_kwargs)


def _play(
    model: Any,
    env_id: str,
    env_kwargs: dict[str, Any],
    maze_kwargs: dict[str, Any] | None,
    names: Sequence[str],
    mode: Mode,
    episodes: int,
    seed: int,
) -> dict[str, EpisodeStats]:
    """One policy mode's statistics per level."""
    actor = _actor(model, mode, env_id, env_kwargs)
    if maze_kwargs is not None:
        return evaluate_heldout(
            actor,
            names,
            episodes=episodes,
            seed=seed,
            agent_view_size=int(maze_kwargs.get("agent_view_size", 5)),
        )
    return {STANDARD_LEVEL: play_env(env_id, actor, episodes, seed, env_kwargs=env_kwargs)}


def write_table(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Write rows as CSV (atomically)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buffer.getvalue().encode())


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as an aligned text table."""
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True))]
    lines += [
        "  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths, strict=True)) for r in rows
    ]
    return "\n".join(lines)
