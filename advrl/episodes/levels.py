"""Episodes on given maze levels, all at once on the batched maze: the loop behind held-out
evaluation, the sampled-level worst case and a maze env's evaluation (:func:`play_levels`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from advrl import progress
from advrl.envs.batched import BatchedMaze
from advrl.envs.level import MazeLevel
from advrl.episodes.actors import PolicyActor, as_actor, episode_keys
from advrl.episodes.rollouts import EpisodeStats


def play_levels(
    policy: Any,
    levels: Sequence[MazeLevel],
    *,
    max_steps: int | Sequence[int],
    deterministic: bool | np.ndarray = False,
    agent_view_size: int = 5,
    device: str = "cpu",
    seed: int = 0,
    keys: np.ndarray | None = None,
    count_episodes: bool = False,
) -> EpisodeStats:
    """One episode on each level (all of one shape), played together on the batched maze; each
    step asks the policy for the actions of the episodes still running, in one batch.

    Args:
        policy: an :class:`~advrl.episodes.actors.Actor`, an SB3 model, or an object with SB3's
            ``predict`` (:func:`~advrl.episodes.actors.as_actor`).
        max_steps: the step limit, of every level or of each.
        deterministic: greedy actions, for every episode or (an SB3 model) per episode. A greedy
            SB3 policy plays each distinct level (and step limit) once: it would play it the same
            every time.
        keys: each episode's key for its sampled actions (default
            :func:`~advrl.episodes.actors.episode_keys` of ``seed``): an episode plays the same
            beside any others. A ``predict`` object's sampled actions draw from torch's
            generator, forked and seeded with ``seed``, so an evaluation neither disturbs nor
            depends on a training run's random stream.
        count_episodes: advance the progress phase by one per finished episode.
    """
    if not levels:
        raise ValueError("no levels to play")
    shape = levels[0].shape
    if any(lvl.shape != shape for lvl in levels) or shape[0] != shape[1]:
        raise ValueError("play_levels needs square levels of one size")
    n = len(levels)
    limits = [int(max_steps)] * n if isinstance(max_steps, int) else [int(m) for m in max_steps]
    if len(limits) != n:
        raise ValueError(f"got {len(limits)} step limits for {n} levels")
    mixed = np.asarray(deterministic, dtype=bool)
    per_episode = bool(mixed.any()) and not bool(mixed.all())
    actor = as_actor(policy, bool(mixed.all()))
    if per_episode and not isinstance(actor, PolicyActor):
        raise ValueError("greedy actions per episode need an SB3 model")
    own = getattr(actor, "deterministic", False)  # an actor given as such keeps its own mode
    greedy = np.broadcast_to(mixed if per_episode else np.asarray(own, dtype=bool), (n,))
    keys = episode_keys(seed, n) if keys is None else np.asarray(keys, dtype=np.uint64)
    # The slots played: an episode of sampled actions each; one per distinct greedy level.
    slot_of, slots = np.zeros(n, dtype=np.int64), list[int]()
    shared: dict[tuple[MazeLevel, int], int] = {}
    for i in range(n):
        if greedy[i] and isinstance(actor, PolicyActor):
            pair = (levels[i], limits[i])
            if pair not in shared:
                shared[pair] = len(slots)
                slots.append(i)
            slot_of[i] = shared[pair]
        else:
            slot_of[i] = len(slots)
            slots.append(i)
    weight = np.bincount(slot_of, minlength=len(slots))  # episodes each slot stands for
    m = len(slots)
    env = BatchedMaze(
        m,
        size=shape[0] + 2,
        agent_view_size=agent_view_size,
        max_steps=max(limits),
        device=device,
    )
    env.set_levels([levels[i] for i in slots])
    env.set_step_limits([limits[i] for i in slots])
    env.reset()
    if isinstance(actor, PolicyActor):
        actor.begin(keys[slots], greedy=greedy[slots])
    else:
        actor.begin(keys[slots])
    returns = torch.zeros(m, dtype=torch.float64)
    lengths = torch.zeros(m, dtype=torch.long)
    solved = torch.zeros(m, dtype=torch.bool)
    running = torch.arange(m)
    actions = torch.zeros(m, dtype=torch.long)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        while len(running):
            view = env.observe()
            obs = {k: (v if len(running) == m else v[running.to(v.device)]).cpu().numpy()
                   for k, v in view.items()}  # fmt: skip
            actions[running] = torch.as_tensor(actor.act(obs, running.numpy())).long()
            reward, terminated, truncated = (x.cpu() for x in env.step_tensors(actions))
            returns[running] += reward[running].double()
            lengths[running] += 1
            solved[running] |= terminated[running]
            ended = (terminated | truncated)[running]
            if bool(ended.any()):
                if count_episodes:
                    progress.advance(int(weight[running[ended].numpy()].sum()))
                running = running[~ended]
    return EpisodeStats(returns.numpy()[slot_of], lengths.numpy()[slot_of], solved.numpy()[slot_of])
