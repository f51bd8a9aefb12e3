"""Benchmark: end-to-end SB3 PPO env steps/s (updates included) per env backend, same PPO settings.

Rows: 16 MazeEnvs under DummyVecEnv, the same under SubprocVecEnv, BatchedMaze with 16 slots and with
more slots. Same network (PAIRED's student), n_steps=128, batch 512, 4 epochs; PAIRED's maze.

    python bench/bench_ppo_throughput.py [--timesteps 65536] [--big 256 1024]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from advrl.agents import make_ppo
from advrl.config import EnvSettings
from advrl.runners.ppo import make_training_env

PPO = {"n_steps": 128, "batch_size": 512, "n_epochs": 4, "learning_rate": 3e-4, "ent_coef": 0.01}


def rate(env_cfg: EnvSettings, timesteps: int) -> tuple[float, float]:
    """(env steps/s, share of time in PPO's update) for one backend."""
    env = make_training_env(env_cfg, seed=0)
    model = make_ppo(env, seed=0, verbose=0, **PPO)
    model.learn(env_cfg.n_envs * PPO["n_steps"])  # warm-up: one rollout and update
    train = model.train
    spent = [0.0]

    def timed_train() -> None:
        start = time.perf_counter()
        train()
        spent[0] += time.perf_counter() - start

    model.train = timed_train  # type: ignore[method-assign]
    start = time.perf_counter()
    model.learn(timesteps, reset_num_timesteps=False)
    elapsed = time.perf_counter() - start
    env.close()
    return timesteps / elapsed, spent[0] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timesteps", type=int, default=65536)
    parser.add_argument("--big", type=int, nargs="+", default=[256, 1024])
    args = parser.parse_args()
    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; advrl/Maze-v0, {args.timesteps} steps per row"
    )
    rows = [
        ("MazeEnv + DummyVecEnv", EnvSettings(id="advrl/Maze-v0", n_envs=16, backend="gymnasium")),
        (
            "MazeEnv + SubprocVecEnv",
            EnvSettings(id="advrl/Maze-v0", n_envs=16, backend="gymnasium", vec_env="subproc"),
        ),
        ("BatchedMaze (cpu)", EnvSettings(id="advrl/Maze-v0", n_envs=16, backend="batched")),
    ] + [
        ("BatchedMaze (cpu)", EnvSettings(id="advrl/Maze-v0", n_envs=n, backend="batched"))
        for n in args.big
    ]
    print("| env | N | env steps/s | x DummyVecEnv | share in PPO update |")
    print("|---|---|---|---|---|")
    base = None
    for name, cfg in rows:
        steps = max(args.timesteps, cfg.n_envs * PPO["n_steps"] * 2)
        r, share = rate(cfg, steps)
        base = base or r
        print(f"| {name} | {cfg.n_envs} | {r:,.0f} | {r / base:.1f} | {share:.0%} |", flush=True)


if __name__ == "__main__":
    main()
