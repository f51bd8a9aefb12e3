"""Benchmark: pixel rollouts on this machine, one table from one run.

Raw stepping with random actions (the env alone) and PPO's own throughput (SB3 ``CnnPolicy``
collecting and updating) on the pixel envs, beside the symbolic maze for the cost of drawing:

    python bench/bench_pixels.py [--seconds 2] [--sizes 16 64 256 1024] [--ppo-steps 8192]

Each raw figure is the median of three timed runs of ``--seconds``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO

import advrl  # noqa: F401  (registers the envs)
from advrl.envs import MazeEnv
from advrl.envs.batched import BatchedMaze
from advrl.envs.batched_pixel_maze import PixelBatchedMaze
from advrl.envs.physics.batched_pixel_cartpole import PixelCartPoleVecEnv
from advrl.envs.vector import make_vec


def single_rate(make: Callable[[], gym.Env], seconds: float) -> float:
    env = make()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in rng.integers(0, int(env.action_space.n), size=200):  # type: ignore[attr-defined]
            _, _, terminated, truncated, _ = env.step(int(a))
            if terminated or truncated:
                env.reset()
        steps += 200
    return steps / (time.perf_counter() - start)


def vec_rate(vec, seconds: float, actions: int = 3) -> float:
    vec.reset()
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            vec.step(rng.integers(0, actions, size=vec.num_envs))
        steps += 10 * vec.num_envs
    return steps / (time.perf_counter() - start)


def median(fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(3))


def ppo_rate(env_id: str, n_envs: int, steps: int) -> float:
    vec = make_vec(env_id, {}, n_envs, backend="auto", device="cpu", seed=0)
    model = PPO("CnnPolicy", vec, n_steps=256, batch_size=256, n_epochs=4, seed=0, device="cpu")
    model.learn(512)  # warm-up
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--ppo-steps", type=int, default=8192)
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d')}"
    )
    rows: list[tuple[str, float]] = []
    s = args.seconds
    rows.append(
        ("MazeEnv 9x9 (symbolic), one env", median(lambda: single_rate(lambda: MazeEnv(size=9), s)))
    )
    rows.append(
        (
            "PixelMazeEnv 9x9 (40x40 RGB), one env",
            median(lambda: single_rate(lambda: gym.make("advrl/PixelMaze-Small-v0"), s)),
        )
    )
    rows.append(
        (
            "PixelCartPole (48x48x9), one env",
            median(lambda: single_rate(lambda: gym.make("advrl/PixelCartPole-v1"), s)),
        )
    )
    for n in (16, 64):
        rows.append(
            (
                f"PixelCartPole, DummyVecEnv of {n} single envs",
                median(
                    lambda n=n: vec_rate(
                        make_vec(
                            "advrl/PixelCartPole-v1",
                            {},
                            n,
                            backend="gymnasium",
                            device="cpu",
                            seed=0,
                        ),
                        s,
                        actions=2,
                    )
                ),
            )
        )
        rows.append(
            (
                f"PixelCartPoleVecEnv (batched drawing), N={n}",
                median(lambda n=n: vec_rate(PixelCartPoleVecEnv(n), s, actions=2)),
            )
        )
    for n in args.sizes:
        rows.append(
            (
                f"BatchedMaze 9x9 (symbolic), N={n}",
                median(lambda n=n: vec_rate(BatchedMaze(n, size=9, seed=0), s)),
            )
        )
        rows.append(
            (
                f"PixelBatchedMaze 9x9, N={n}",
                median(lambda n=n: vec_rate(PixelBatchedMaze(n, size=9, seed=0), s)),
            )
        )
    if args.ppo_steps:
        rows.append(
            (
                "PPO CnnPolicy on PixelBatchedMaze 9x9, N=16",
                ppo_rate("advrl/PixelMaze-Small-v0", 16, args.ppo_steps),
            )
        )
        rows.append(
            (
                "PPO CnnPolicy on PixelCartPoleVecEnv, N=16",
                ppo_rate("advrl/PixelCartPole-v1", 16, args.ppo_steps),
            )
        )
    width = max(len(name) for name, _ in rows)
    print(f"{'':{width}}  steps/s")
    for name, rate in rows:
        print(f"{name:{width}}  {rate:9,.0f}")


if __name__ == "__main__":
    main()
