"""Zero-shot evaluation on held-out mazes, many episodes at once on the batched maze.

The levels are exactly those ``gymnasium.make("advrl/Maze-<Name>-v0")`` plays after
``reset(seed=seed + i)``; they are played side by side in a :class:`~advrl.envs.batched.BatchedMaze`
(whose rules are MazeEnv's, as its equivalence test checks), one episode per slot, the mazes of
one size together.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from advrl.envs.heldout import PROCEDURAL, default_max_steps, heldout_generator
from advrl.envs.level import MazeLevel
from advrl.episodes.actors import PolicyActor, as_actor, episode_keys
from advrl.episodes.levels import play_levels
from advrl.episodes.rollouts import EpisodeStats


def heldout_levels(name: str, episodes: int, seed: int = 0) -> tuple[list[MazeLevel], int]:
    """The levels of ``episodes`` seeded episodes of a held-out maze, and its step limit."""
    generator = heldout_generator(name)
    max_steps = PROCEDURAL[name].max_steps if name in PROCEDURAL else default_max_steps(generator)
    levels = [generator.sample(np.random.default_rng(seed + i)) for i in range(episodes)]
    return levels, max_steps


def evaluate_heldout(
    policy: Any,
    names: Sequence[str],
    *,
    episodes: int,
    seed: int = 0,
    deterministic: bool = False,
    agent_view_size: int = 5,
    device: str = "cpu",
) -> dict[str, EpisodeStats]:
    """Play ``episodes`` seeded episodes of each named held-out maze; statistics per maze.

    The mazes of one size are played together, all their episodes side by side; a maze's episodes
    draw their actions from keys of ``seed`` and its name, so a maze's statistics do not depend on
    which others are played beside it. Progress advances as episodes finish.
    """
    mode = "deterministic" if deterministic else "stochastic"
    return evaluate_heldout_modes(
        policy,
        names,
        episodes=episodes,
        seed=seed,
        modes=(mode,),
        agent_view_size=agent_view_size,
        device=device,
    )[mode]


def evaluate_heldout_modes(
    policy: Any,
    names: Sequence[str],
    *,
    episodes: int,
    seed: int = 0,
    modes: Sequence[str] = ("stochastic", "deterministic"),
    agent_view_size: int = 5,
    device: str = "cpu",
) -> dict[str, dict[str, EpisodeStats]]:
    """:func:`evaluate_heldout` of a policy's sampled (``stochastic``) and greedy
    (``deterministic``) actions: ``{mode: {maze: statistics}}``. An SB3 model plays both modes in
    one batch (one forward pass per step for both); other policies play them in turn."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if not modes or any(m not in ("stochastic", "deterministic") for m in modes):
        raise ValueError(f"modes are 'stochastic' and 'deterministic', got {list(modes)}")
    if len(modes) > 1 and not isinstance(as_actor(policy), PolicyActor):  # one mode at a time
        one = functools.partial(
            evaluate_heldout_modes, policy, names, episodes=episodes, seed=seed,
            agent_view_size=agent_view_size, device=device,
        )  # fmt: skip
        return {mode: one(modes=(mode,))[mode] for mode in modes}
    drawn = {name: heldout_levels(name, episodes, seed) for name in names}
    out: dict[str, dict[str, EpisodeStats]] = {mode: {} for mode in modes}
    for shape in dict.fromkeys(levels[0].shape for levels, _ in drawn.values()):
        group = [(mode, name) for mode in modes for name in names
                 if drawn[name][0][0].shape == shape]  # fmt: skip
        stats = play_levels(
            policy,
            [level for _, name in group for level in drawn[name][0]],
            max_steps=[drawn[name][1] for _, name in group for _ in range(episodes)],
            deterministic=np.repeat([mode == "deterministic" for mode, _ in group], episodes),
            agent_view_size=agent_view_size,
            device=device,
            seed=seed,
            keys=np.concatenate([episode_keys(seed, episodes, name) for _, name in group]),
            count_episodes=True,
        )
        for k, (mode, name) in enumerate(group):
            part = slice(k * episodes, (k + 1) * episodes)
            out[mode][name] = EpisodeStats(
                stats.returns[part], stats.lengths[part], stats.successes[part]
            )
    return {mode: {name: out[mode][name] for name in names} for mode in modes}
