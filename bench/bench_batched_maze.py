"""Benchmark: raw stepping, MazeEnv (one env) vs BatchedMaze at several N, random actions.

Prints one table (steps/s, speed-up over MazeEnv, peak memory per 1,000 slots) from one run.

    python bench/bench_batched_maze.py [--device cpu|cuda] [--sizes 1 64 1024 4096] [--seconds 2]
        [--repeats 3]

Each figure is the median of ``--repeats`` timed runs of ``--seconds`` each.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time

import numpy as np
import torch

from advrl.envs import MazeEnv
from advrl.envs.batched import BatchedMaze


def maze_env_rate(seconds: float) -> float:
    env = MazeEnv()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in rng.integers(0, 3, size=1000):
            _, _, terminated, truncated, _ = env.step(int(a))
            if terminated or truncated:
                env.reset()
        steps += 1000
    return steps / (time.perf_counter() - start)


def batched_rate(n: int, device: str, seconds: float, api: str) -> tuple[float, float]:
    """Steps/s and peak device memory (MiB, CUDA only) of BatchedMaze with N slots."""
    env = BatchedMaze(n, device=device, seed=0)
    env.reset()
    gen = torch.Generator(device=device).manual_seed(0)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            actions = torch.randint(0, 3, (n,), generator=gen, device=device)
            if api == "vecenv":
                env.step(actions.cpu().numpy())
            else:  # tensors stay on the device; finished slots reset in place
                _, terminated, truncated = env.step_tensors(actions)
                env._reset_slots(terminated | truncated)
                env.observe()
        if device == "cuda":
            torch.cuda.synchronize()
        steps += 20 * n
    rate = steps / (time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else float("nan")
    return rate, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024, 4096])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device == "cuda" else platform.machine()
    print(
        f"# {time.strftime('%Y-%m-%d')} {name}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    reps = range(args.repeats)
    base = statistics.median(maze_env_rate(args.seconds) for _ in reps)
    print("| env | N | API | steps/s | x MazeEnv | peak device MiB / 1k slots |")
    print("|---|---|---|---|---|---|")
    print(f"| MazeEnv | 1 | gymnasium | {base:,.0f} | 1.0 | - |")
    for n in args.sizes:
        for api in ("vecenv", "tensors"):
            runs = [batched_rate(n, args.device, args.seconds, api) for _ in reps]
            rate, peak = statistics.median(r for r, _ in runs), max(p for _, p in runs)
            mem = f"{peak / n * 1000:.1f}" if peak == peak else "-"
            print(
                f"| BatchedMaze ({args.device}) | {n} | {api} | {rate:,.0f} | {rate / base:.1f} "
                f"| {mem} |",
                flush=True,
            )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak process RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
