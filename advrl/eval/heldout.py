"""Zero-shot evaluation on held-out mazes, many episodes at once on the batched maze.

The levels are exactly those ``gymnasium.make("advrl/Maze-<Name>-v0")`` plays after
``reset(seed=seed + i)``; they are played side by side in a :class:`~advrl.envs.batched.BatchedMaze`
(whose rules are MazeEnv's, as its equivalence test checks), one episode per slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from advrl import progress
from advrl.envs.batched import BatchedMaze
from advrl.envs.heldout import PROCEDURAL, default_max_steps, heldout_generator
from advrl.envs.level import MazeLevel
from advrl.eval.rollouts import EpisodeStats


def heldout_levels(name: str, episodes: int, seed: int = 0) -> tuple[list[MazeLevel], int]:
    """The levels of ``episodes`` seeded episodes of a held-out maze, and its step limit."""
    generator = heldout_generator(name)
    max_steps = PROCEDURAL[name].max_steps if name in PROCEDURAL else default_max_steps(generator)
    levels = [generator.sample(np.random.default_rng(seed + i)) for i in range(episodes)]
    return levels, max_steps


def play_levels(
    model: Any,
    levels: Sequence[MazeLevel],
    *,
    max_steps: int,
    deterministic: bool = False,
    agent_view_size: int = 5,
    device: str = "cpu",
    seed: int = 0,
) -> EpisodeStats:
    """One episode on each level (all of one shape), played together; the policy is ``model.predict``.

    Stochastic actions are drawn under a torch random state forked and seeded with ``seed``, so an
    evaluation neither disturbs nor depends on a training run's random stream.
    """
    if not levels:
        raise ValueError("no levels to play")
    shape = levels[0].shape
    if any(lvl.shape != shape for lvl in levels) or shape[0] != shape[1]:
        raise ValueError("play_levels needs square levels of one size")
    env = BatchedMaze(
        len(levels),
        size=shape[0] + 2,
        agent_view_size=agent_view_size,
        max_steps=max_steps,
        device=device,
    )
    env.set_levels(list(levels))
    env.reset()
    n = len(levels)
    returns = torch.zeros(n, dtype=torch.float64)
    lengths = torch.zeros(n, dtype=torch.long)
    solved = torch.zeros(n, dtype=torch.bool)
    running = torch.ones(n, dtype=torch.bool)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state: Any = None  # a recurrent policy's hidden state
        start = np.ones(n, dtype=bool)
        while bool(running.any()):
            obs = {k: v.cpu().numpy() for k, v in env.observe().items()}
            actions, state = model.predict(
                obs, state=state, episode_start=start, deterministic=deterministic
            )
            start = np.zeros(n, dtype=bool)
            reward, terminated, truncated = env.step_tensors(torch.as_tensor(actions))
            reward, terminated, truncated = reward.cpu(), terminated.cpu(), truncated.cpu()
            returns += torch.where(running, reward.double(), 0.0)
            lengths += running.long()
            solved |= running & terminated
            running &= ~(terminated | truncated)
    return EpisodeStats(returns.numpy(), lengths.numpy(), solved.numpy())


class RandomMazePolicy:
    """Uniformly random maze actions, with ``model.predict``'s signature: the reference a trained
    policy's solve rate is read against. Draws from torch's random stream, which
    :func:`play_levels` forks and seeds, so its episodes are reproducible."""

    n_actions = 3  # MazeEnv's Discrete(3): left, right, forward

    def predict(self, observation: dict[str, np.ndarray], **_: Any) -> tuple[np.ndarray, None]:
        """One random action per env."""
        n = len(next(iter(observation.values())))
        return torch.randint(self.n_actions, (n,)).numpy(), None


def evaluate_heldout(
    model: Any,
    names: Sequence[str],
    *,
    episodes: int,
    seed: int = 0,
    deterministic: bool = False,
    agent_view_size: int = 5,
    device: str = "cpu",
) -> dict[str, EpisodeStats]:
    """Play ``episodes`` seeded episodes of each named held-out maze; statistics per maze."""
    out = {}
    for name in names:
        levels, max_steps = heldout_levels(name, episodes, seed)
        out[name] = play_levels(
            model,
            levels,
            max_steps=max_steps,
            deterministic=deterministic,
            agent_view_size=agent_view_size,
            device=device,
            seed=seed,
        )
        progress.advance()
    return out
