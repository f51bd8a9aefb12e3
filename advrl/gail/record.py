"""Recording demonstrations: roll out a policy (a trained SB3 model) on a Gymnasium env."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from advrl import progress
from advrl.episodes import evaluate, random_policy
from advrl.episodes.rollouts import Policy, start_episode
from advrl.gail.demos import Demonstrations, Obs


def _stack(rows: list[Any]) -> Obs:
    if isinstance(rows[0], dict):
        return {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]}
    return np.stack([np.asarray(r) for r in rows])


def state_input(obs: Any, info: dict[str, Any]) -> Any:
    """The state a pixel env reports in ``info["state"]`` (see :func:`record_demos`)."""
    return info["state"]


def policy_input_for(
    env: gym.Env, observation_space: gym.Space, action_space: gym.Space
) -> Callable[[Any, dict[str, Any]], Any] | None:
    """What a policy with these spaces plays ``env`` from: its observations (None), or a pixel
    env's state (:func:`state_input`) when the policy was trained on the state the env draws.

    Raises:
        ValueError: the policy fits neither the env's observations nor its state, or its actions.
    """
    state_space = getattr(env.unwrapped, "state_space", None)
    if action_space == env.action_space:
        if observation_space == env.observation_space:
            return None
        if state_space is not None and observation_space == state_space:
            return state_input
    name = env.spec.id if env.spec is not None else "the env"
    raise ValueError(
        f"the policy was trained on spaces {observation_space} / {action_space}; {name} has "
        f"{env.observation_space} / {env.action_space}"
    )


def record_demos(
    env: gym.Env,
    policy: Policy,
    episodes: int,
    *,
    seed: int = 0,
    env_id: str = "",
    random_episodes: int | None = None,
    policy_input: Callable[[Any, dict[str, Any]], Any] | None = None,
) -> Demonstrations:
    """Play ``episodes`` episodes of ``policy`` (episode ``i`` from ``reset(seed=seed + i)``).

    The result carries the recorded episodes' mean return as ``expert_return`` and a uniformly random
    policy's mean return on the same seeds as ``random_return``, for normalized scores.

    Args:
        env: the env (its observation and action spaces are the demos' spaces).
        policy: maps one observation to one action (e.g. :func:`advrl.episodes.sb3_policy`).
        episodes: number of episodes K.
        seed: seed of the first episode.
        env_id: id stored with the demos.
        random_episodes: episodes of the random policy (default: ``max(episodes, 20)``).
        policy_input: what the policy sees, from the step's observation and ``info`` (default: the
            observation). :func:`state_input` lets an expert trained on a pixel env's state play
            it while its pixels are recorded.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    obs_rows: list[Any] = []
    acts: list[np.ndarray] = []
    rews: list[float] = []
    lengths: list[int] = []
    terminated: list[bool] = []
    truncated: list[bool] = []
    for i in progress.counted(range(episodes), "recording", "episodes"):
        obs, info = env.reset(seed=seed + i)
        start_episode(policy)
        obs_rows.append(obs)
        steps, term, trunc = 0, False, False
        while not (term or trunc):
            action = policy(obs if policy_input is None else policy_input(obs, info))
            obs, reward, term, trunc, info = env.step(action)
            obs_rows.append(obs)
            acts.append(np.asarray(action))
            rews.append(float(reward))
            steps += 1
        lengths.append(steps)
        terminated.append(bool(term))
        truncated.append(bool(trunc and not term))
    n_random = random_episodes if random_episodes is not None else max(episodes, 20)
    with progress.phase("random policy", n_random, "episodes"):
        rand = evaluate(env, random_policy(env.action_space, seed), n_random, seed)
    returns = np.add.reduceat(np.asarray(rews, dtype=np.float64), np.cumsum([0, *lengths[:-1]]))
    return Demonstrations(
        obs=_stack(obs_rows),
        acts=np.stack(acts),
        rews=np.asarray(rews, dtype=np.float32),
        lengths=np.asarray(lengths, dtype=np.int64),
        terminated=np.asarray(terminated),
        truncated=np.asarray(truncated),
        env_id=env_id,
        expert_return=float(returns.mean()),
        random_return=rand.mean_return,
    )
