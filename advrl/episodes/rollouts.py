"""Playing a policy for a number of seeded episodes and summarizing what happened."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from advrl import progress
from advrl.envs.vector import make_env
from advrl.episodes.actors import (
    Actor,
    BatchActor,
    PolicyActor,
    RandomActor,
    as_actor,
    episode_keys,
)

Policy = Callable[[Any], Any]
"""Maps one observation to one action. A policy with memory also has a ``reset()`` method, which
:func:`evaluate` calls before each episode."""


EVAL_SEED_OFFSET = 1_000_000
"""Evaluation seeds start here (the run's seed plus this), away from the training envs' seeds."""


@dataclass(frozen=True)
class EpisodeStats:
    """Per-episode returns, lengths and successes of an evaluation."""

    returns: np.ndarray
    lengths: np.ndarray
    successes: np.ndarray
    success_defined: bool = True
    """Whether the env says what success is (``info["is_success"]``); CartPole does not."""

    @property
    def mean_return(self) -> float:
        """Mean episode return."""
        return float(self.returns.mean())

    @property
    def mean_length(self) -> float:
        """Mean episode length in steps."""
        return float(self.lengths.mean())

    @property
    def success_rate(self) -> float:
        """Share of episodes that ended with ``info["is_success"]`` true."""
        return float(self.successes.mean())

    def as_dict(self) -> dict[str, float]:
        """Means and the standard error of the return, for summaries (the success rate where
        the env defines success)."""
        n = len(self.returns)
        sem = float(self.returns.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        out = {
            "episodes": n,
            "mean_return": self.mean_return,
            "return_sem": sem,
            "success_rate": self.success_rate,
            "mean_length": self.mean_length,
        }
        if not self.success_defined:
            del out["success_rate"]
        return out


def eval_scalars(stats: EpisodeStats) -> dict[str, float]:
    """A periodic evaluation's scalars under SB3's names: ``eval/mean_reward``,
    ``eval/mean_ep_length`` and, where the env defines success, ``eval/success_rate``."""
    out = {
        "eval/mean_reward": stats.mean_return,
        "eval/mean_ep_length": stats.mean_length,
    }
    if stats.success_defined:
        out["eval/success_rate"] = stats.success_rate
    return out


@dataclass(frozen=True)
class PolicyModes:
    """A policy played with sampled and with greedy actions (and a random policy), all on the same
    seeded episodes."""

    stochastic: EpisodeStats
    greedy: EpisodeStats
    random: EpisodeStats | None = None

    def as_dict(self) -> dict[str, dict[str, float]]:
        """The summaries' layout: ``policy``, ``policy_deterministic`` and ``random`` (if played),
        each :meth:`EpisodeStats.as_dict`."""
        out = {"policy": self.stochastic.as_dict(), "policy_deterministic": self.greedy.as_dict()}
        if self.random is not None:
            out["random"] = self.random.as_dict()
        return out


def evaluate_modes(
    model: Any,
    env: str | Callable[[], gym.Env],
    episodes: int,
    seed: int,
    with_random: bool = False,
    *,
    env_kwargs: dict[str, Any] | None = None,
) -> PolicyModes:
    """An SB3 model's policy, stochastic and greedy (and a random policy if ``with_random``), on
    the same ``episodes`` seeded episodes, played side by side (:func:`play_env`).

    Args:
        env: an env id (with ``env_kwargs``), or a function that builds the env.
    """
    played = 3 if with_random else 2
    with progress.phase("evaluating", episodes * played, "episodes"):

        def run(actor: Actor) -> EpisodeStats:
            return play_env(env, actor, episodes, seed, env_kwargs=env_kwargs)

        random = run(random_actor(env, env_kwargs)) if with_random else None
        return PolicyModes(
            stochastic=run(PolicyActor(model)),
            greedy=run(PolicyActor(model, deterministic=True)),
            random=random,
        )


def random_actor(
    env: str | Callable[[], gym.Env], env_kwargs: dict[str, Any] | None = None
) -> RandomActor:
    """A uniformly random policy of an env's action space (an env id with ``env_kwargs``, or a
    function that builds the env; the env is built to read its space, then closed)."""
    probe = make_env(env, env_kwargs) if isinstance(env, str) else env()
    try:
        return RandomActor(probe.action_space)
    finally:
        probe.close()


DEFAULT_WIDTH = 256
"""Gymnasium envs stepped side by side by :func:`play` (more episodes are played in turns)."""


def play(
    make_env: Callable[[], gym.Env],
    policy: Any,
    episodes: int,
    seed: int = 0,
    *,
    deterministic: bool = False,
    keys: np.ndarray | None = None,
    options: dict[str, Any] | None = None,
    width: int = DEFAULT_WIDTH,
    count: bool = True,
) -> EpisodeStats:
    """Play ``episodes`` episodes side by side, ``width`` envs at a time: episode ``i`` starts from
    ``reset(seed=seed + i)`` in its own env, and each step asks the policy for the actions of every
    episode still running, in one batch.

    The same seeded episodes as :func:`evaluate`, which plays them one by one; with an SB3 model
    (:class:`~advrl.episodes.actors.PolicyActor`) each episode draws its sampled actions from its own
    key (``keys``, by default :func:`~advrl.episodes.actors.episode_keys` of ``seed``), so the
    statistics do not depend on ``width``. Progress advances as episodes finish.

    Args:
        policy: an :class:`~advrl.episodes.actors.Actor`, an SB3 model, or an object with SB3's
            ``predict`` (:func:`~advrl.episodes.actors.as_actor`).
        deterministic: greedy actions (for a model).
        options: ``reset`` options of every episode.
        count: advance the progress phase by one per finished episode.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    actor = as_actor(policy, deterministic)
    keys = episode_keys(seed, episodes) if keys is None else np.asarray(keys, dtype=np.uint64)
    returns, lengths = np.zeros(episodes), np.zeros(episodes, dtype=np.int64)
    successes = np.zeros(episodes, dtype=bool)
    defined = False
    envs = [make_env() for _ in range(min(width, episodes))]
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # a PredictActor's sampled actions
            for first in range(0, episodes, width):
                size = min(width, episodes - first)
                obs = [
                    envs[j].reset(seed=seed + first + j, options=options)[0] for j in range(size)
                ]
                actor.begin(keys[first : first + size])
                running = np.arange(size)
                while running.size:
                    actions = actor.act(_stack([obs[j] for j in running]), running)
                    still = []
                    for j, action in zip(running.tolist(), actions, strict=True):
                        obs[j], reward, terminated, truncated, info = envs[j].step(action)
                        i = first + j
                        returns[i] += float(reward)
                        lengths[i] += 1
                        if not (terminated or truncated):
                            still.append(j)
                            continue
                        defined = defined or "is_success" in info
                        successes[i] = bool(info.get("is_success", False))
                        if count:
                            progress.advance()
                    running = np.array(still, dtype=np.int64)
    finally:
        for env in envs:
            env.close()
    return EpisodeStats(returns, lengths, successes, success_defined=defined)


def maze_backend(env_id: str) -> bool:
    """Whether ``gymnasium.make(env_id, ...)`` builds a bare :class:`~advrl.envs.maze.MazeEnv`
    (no wrapper that changes its episodes), whose levels the batched maze can play."""
    from advrl.envs.vector import MAZE_ENTRY

    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return False
    return (
        spec.entry_point == MAZE_ENTRY
        and spec.max_episode_steps is None
        and not spec.additional_wrappers
    )


def play_env(
    env: str | Callable[[], gym.Env],
    policy: Any,
    episodes: int,
    seed: int = 0,
    *,
    env_kwargs: dict[str, Any] | None = None,
    deterministic: bool = False,
) -> EpisodeStats:
    """:func:`play` on an env: a maze env's levels (those its ``reset(seed=seed + i)`` draws) on the
    batched maze, all episodes at once (:func:`~advrl.episodes.levels.play_levels`); any other env as
    Gymnasium envs side by side. Both give the same episodes.

    Args:
        env: an env id (with ``env_kwargs``), or a function that builds the env.
    """
    if isinstance(env, str) and maze_backend(env):
        from advrl.episodes.levels import play_levels  # (it plays EpisodeStats: imported late)

        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        probe = make_env(env, env_kwargs)
        try:
            levels = [probe.reset(seed=seed + i)[1]["level"] for i in range(episodes)]
            base: Any = probe.unwrapped
            max_steps, view = int(base.max_steps), int(base.agent_view_size)
        finally:
            probe.close()
        stats = play_levels(
            policy,
            levels,
            max_steps=max_steps,
            agent_view_size=view,
            deterministic=deterministic,
            keys=episode_keys(seed, episodes),
            seed=seed,
            count_episodes=True,
        )
        return stats
    factory = functools.partial(make_env, env, env_kwargs) if isinstance(env, str) else env
    return play(factory, policy, episodes, seed, deterministic=deterministic)


def start_episode(policy: Policy) -> None:
    """Tell a policy with memory (one with a ``reset()`` method) that a new episode begins."""
    reset = getattr(policy, "reset", None)
    if reset is not None:
        reset()


def evaluate(
    env: gym.Env,
    policy: Policy,
    episodes: int,
    seed: int = 0,
    *,
    options: dict[str, Any] | None = None,
    frames: list[np.ndarray] | None = None,
) -> EpisodeStats:
    """Play ``episodes`` episodes; episode ``i`` starts from ``env.reset(seed=seed + i)``.

    The same ``(env, episodes, seed)`` gives the same levels to every policy, so policies compare on
    identical levels.

    Args:
        options: ``reset`` options of every episode (e.g. ``{"level": level}``).
        frames: when given, ``env.render()`` after each reset and step is appended to it (an env
            made with ``render_mode="rgb_array"``).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    returns, lengths, successes = [], [], []
    defined = False
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i, options=options)
        start_episode(policy)
        total, steps, done = 0.0, 0, False
        info: dict[str, Any] = {}
        if frames is not None:
            frames.append(np.asarray(env.render()))
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            total += float(reward)
            steps += 1
            done = terminated or truncated
            if frames is not None:
                frames.append(np.asarray(env.render()))
        returns.append(total)
        lengths.append(steps)
        defined = defined or "is_success" in info
        successes.append(bool(info.get("is_success", False)))
        progress.advance()
    return EpisodeStats(
        np.array(returns), np.array(lengths), np.array(successes), success_defined=defined
    )


BatchPolicy = Callable[[Any], np.ndarray]
"""Maps a batch of observations (an array, or a dict of arrays, one row per running episode) to
their actions: a policy under an observation attack that perturbs the whole batch at once."""


def _stack(observations: list[Any]) -> Any:
    if isinstance(observations[0], dict):
        return {k: np.stack([o[k] for o in observations]) for k in observations[0]}
    return np.stack(observations)


def evaluate_batch(
    make_env: Callable[[], gym.Env], act: BatchPolicy, episodes: int, seed: int = 0
) -> EpisodeStats:
    """:func:`play` with a memoryless batch policy (``act``: the running episodes' observations to
    their actions), all episodes side by side."""
    return play(make_env, BatchActor(act), episodes, seed, width=max(episodes, 1), count=False)


class SB3Policy:
    """An SB3 model's ``predict`` as a one-observation policy; a recurrent model's hidden state is
    carried from step to step and cleared by :meth:`reset` (feed-forward models have none). A
    model trained under ``VecNormalize`` gets its observations normalized (its statistics as they
    are, not updated)."""

    def __init__(self, model: Any, deterministic: bool = False) -> None:
        self.model = model
        self.deterministic = deterministic
        get = getattr(model, "get_vec_normalize_env", None)
        normalize = get() if callable(get) else None
        self.normalize = normalize if normalize is not None and normalize.norm_obs else None
        self.reset()

    def reset(self) -> None:
        """Start a new episode."""
        self._state: Any = None
        self._start = np.ones(1, dtype=bool)

    def __call__(self, obs: Any) -> Any:
        if self.normalize is not None:
            obs = self.normalize.normalize_obs(obs)
        action, self._state = self.model.predict(
            obs, state=self._state, episode_start=self._start, deterministic=self.deterministic
        )
        self._start = np.zeros(1, dtype=bool)
        return action


def sb3_policy(model: Any, deterministic: bool = False) -> Policy:
    """Wrap an SB3 model's ``predict`` as a one-observation policy (see :class:`SB3Policy`)."""
    return SB3Policy(model, deterministic)


def random_policy(action_space: gym.Space, seed: int = 0) -> Policy:
    """Uniformly random actions from a seeded copy of the action space."""
    import copy

    space = copy.deepcopy(action_space)
    space.seed(seed)
    return lambda obs: space.sample()
