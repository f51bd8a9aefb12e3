"""Batched evaluation against the loops it replaced, interleaved in one run on one machine.

    python bench/bench_eval.py [--run RUN] [--ppo-run RUN] [--repeats 3]

Two evaluations a newcomer waits for:

- **held-out**: the main job's final evaluation (the protagonist, sampled and greedy, and a
  random policy on 14 held-out mazes x 50 episodes; the same as ``advrl eval RUN --levels heldout
  --episodes 50``). Before: each maze and mode played as one batch of its 50 episodes through
  ``model.predict`` (42 batches). Now: one batch of all mazes' episodes per mode, finished
  episodes dropped from the batch, the policy called directly.
- **ppo**: ``train ppo`` on the small maze's final evaluation (600 episodes). Before: one episode
  at a time, one observation per ``predict``. Now: all episodes on the batched maze.

``--run`` / ``--ppo-run`` load trained policies (a UED run, a PPO maze run); by default untrained
ones of the same configs (configs/paired-maze-transfer.yaml, configs/ppo-maze.yaml), whose
episodes mostly run to the step limit. Prints the medians of each, their ratio and both
evaluations' figures (greedy figures agree exactly; sampled ones draw different random numbers).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from advrl.envs.vector import make_env
from advrl.episodes import EVAL_SEED_OFFSET
from advrl.episodes.rollouts import EpisodeStats, evaluate, random_policy, sb3_policy
from advrl.eval.heldout import heldout_levels
from advrl.eval.zero_shot import zero_shot


def before_play_levels(model: Any, levels: Sequence[Any], max_steps: int, greedy: bool) -> float:
    """The loop the held-out evaluation used before: one maze's episodes as one batch, every slot
    stepped until all end, ``model.predict`` per step; returns the solve rate."""
    from advrl.envs.batched import BatchedMaze

    n = len(levels)
    env = BatchedMaze(n, size=levels[0].shape[0] + 2, agent_view_size=5, max_steps=max_steps)
    env.set_levels(list(levels))
    env.reset()
    solved = torch.zeros(n, dtype=torch.bool)
    running = torch.ones(n, dtype=torch.bool)
    state: Any = None
    start = np.ones(n, dtype=bool)
    while bool(running.any()):
        obs = {k: v.numpy() for k, v in env.observe().items()}
        if model is None:
            actions = torch.randint(3, (n,)).numpy()
        else:
            actions, state = model.predict(
                obs, state=state, episode_start=start, deterministic=greedy
            )
        start = np.zeros(n, dtype=bool)
        _, terminated, truncated = env.step_tensors(torch.as_tensor(actions))
        solved |= running & terminated
        running &= ~(terminated | truncated)
    return float(solved.double().mean())


def heldout_before(model: Any, names: Sequence[str], episodes: int, seed: int) -> dict[str, float]:
    out = {}
    for key, player, greedy in (("stochastic", model, False), ("deterministic", model, True),
                                ("random", None, False)):  # fmt: skip
        rates = []
        for name in names:
            levels, max_steps = heldout_levels(name, episodes, seed)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                rates.append(before_play_levels(player, levels, max_steps, greedy))
        out[key] = float(np.mean(rates))
    return out


def heldout_now(model: Any, names: Sequence[str], episodes: int, seed: int) -> dict[str, float]:
    result = zero_shot(model, "advrl/Maze-v0", {}, names, episodes=episodes, seed=seed,
                       with_random=True)  # fmt: skip
    return {m: result.mean("success_rate", m) for m in ("stochastic", "deterministic", "random")}


def ppo_before(model: Any, env_id: str, episodes: int, seed: int) -> dict[str, float]:
    env = make_env(env_id)
    out = {
        "stochastic": evaluate(env, sb3_policy(model), episodes, seed).success_rate,
        "deterministic": evaluate(env, sb3_policy(model, True), episodes, seed).success_rate,
        "random": evaluate(env, random_policy(env.action_space, seed), episodes, seed).success_rate,
    }
    env.close()
    return out


def ppo_now(model: Any, env_id: str, episodes: int, seed: int) -> dict[str, float]:
    from advrl.episodes.rollouts import evaluate_modes

    modes = evaluate_modes(model, env_id, episodes, seed, with_random=True)
    stats: dict[str, EpisodeStats | None] = {
        "stochastic": modes.stochastic, "deterministic": modes.greedy, "random": modes.random
    }  # fmt: skip
    return {k: v.success_rate for k, v in stats.items() if v is not None}


def timed(fn: Callable[[], dict[str, float]], repeats: int) -> tuple[float, dict[str, float]]:
    times, result = [], {}
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def compare(label: str, before: Callable[[], dict[str, float]],
            now: Callable[[], dict[str, float]], repeats: int) -> None:  # fmt: skip
    times: dict[str, list[float]] = {"before": [], "now": []}
    results: dict[str, dict[str, float]] = {}
    for _ in range(repeats):  # interleaved
        for key, fn in (("before", before), ("now", now)):
            seconds, results[key] = timed(fn, 1)
            times[key].append(seconds)
    b, n = statistics.median(times["before"]), statistics.median(times["now"])
    print(f"{label}: before {b:.1f} s, now {n:.1f} s, {b / n:.1f}x (medians of {repeats})")
    for key in ("before", "now"):
        figures = ", ".join(f"{m} {v:.3f}" for m, v in results[key].items())
        print(f"  {key}: {figures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a UED run (its protagonist); default: untrained")
    parser.add_argument("--ppo-run", help="a PPO run on advrl/Maze-Small-v0; default: untrained")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["heldout", "ppo"])
    parser.add_argument(
        "--episodes", type=int, help="held-out episodes per maze (default: the config's)"
    )
    args = parser.parse_args()
    from advrl.runners.kinds import resolve_settings
    from advrl.runners.loading import load_run

    if args.only != "ppo":
        config = resolve_settings("paired", config="configs/paired-maze-transfer.yaml")
        if args.run:
            model = load_run(args.run).model
        else:
            from advrl.runners.ued import build_runner

            model = build_runner(config).protagonist.model
        names = list(config.train.eval_levels)
        episodes = args.episodes or config.train.eval_episodes
        seed = config.train.seed + EVAL_SEED_OFFSET
        compare(
            f"held-out ({len(names)} mazes x {episodes} episodes x 3 modes)",
            functools.partial(heldout_before, model, names, episodes, seed),
            functools.partial(heldout_now, model, names, episodes, seed),
            args.repeats,
        )
    if args.only != "heldout":
        ppo_config = resolve_settings("ppo", config="configs/ppo-maze.yaml")
        if args.ppo_run:
            model = load_run(args.ppo_run).model
        else:
            from advrl.runners.ppo import build_ppo

            model = build_ppo(ppo_config)
        episodes, seed = ppo_config.train.eval_episodes, ppo_config.train.seed + EVAL_SEED_OFFSET
        compare(
            f"ppo final evaluation ({ppo_config.env.id}, {episodes} episodes x 3 modes)",
            functools.partial(ppo_before, model, ppo_config.env.id, episodes, seed),
            functools.partial(ppo_now, model, ppo_config.env.id, episodes, seed),
            args.repeats,
        )


if __name__ == "__main__":
    main()
