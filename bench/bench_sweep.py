"""``advrl sweep`` against the same runs one after another: wall-clock ratio and Ray's overhead.

    python bench/bench_sweep.py [--seeds 4] [--steps 20000]

Runs ``configs/ppo-maze.yaml`` for each seed with ``advrl train`` in sequence (each with
``OMP_NUM_THREADS=1``, as a trial gets one CPU), then the same seeds as one ``advrl sweep``
(one CPU per trial, so two trials at a time on 2 cores), and prints the markdown rows for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs" / "ppo-maze.yaml")


def settings(steps: int) -> list[str]:
    items = [
        f"train.total_timesteps={steps}",
        "train.eval_every=0",
        "train.eval_episodes=20",
        "train.image_every=0",
        f"train.checkpoint_every={steps // 4}",
    ]
    return [x for item in items for x in ("--set", item)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "advrl.cli"]
    start = time.perf_counter()
    run_walls = []
    for seed in range(args.seeds):
        argv = [*cli, "train", "ppo", "--config", CONFIG, *settings(args.steps)]
        argv += ["--set", f"train.seed={seed}", "--set", f"out_dir={work / 'seq'}"]
        argv += ["--set", f"name=s{seed}", "--set", "train.progress_bar=false"]
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
        summary = json.loads((work / "seq" / f"s{seed}" / "summary.json").read_text())
        run_walls.append(summary["wall_clock_s"])
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    argv = [
        *cli,
        "sweep",
        "--config",
        CONFIG,
        "--seeds",
        f"0-{args.seeds - 1}",
        *settings(args.steps),
    ]
    argv += ["--out", str(work), "--name", "sweep", "--no-plot", "--reps", "500"]
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    swept = time.perf_counter() - start
    trial_walls = [
        json.loads((p / "summary.json").read_text())["wall_clock_s"]
        for p in sorted((work / "sweep" / "trials").iterdir())
    ]
    cores = os.cpu_count() or 1
    ideal = sum(trial_walls) / min(cores, args.seeds)
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {cores} cores: {args.seeds} seeds of "
        f"configs/ppo-maze.yaml at {args.steps:,} steps"
    )
    print("| | wall-clock (s) | training time per run (s, mean) |")
    print("|---|---|---|")
    print(
        f"| `advrl train`, one after another | {sequential:.1f} | {sum(run_walls) / len(run_walls):.1f} |"
    )
    print(
        f"| `advrl sweep`, one CPU per trial | {swept:.1f} | {sum(trial_walls) / len(trial_walls):.1f} |"
    )
    print(
        f"ratio {sequential / swept:.2f}x; Ray's overhead over a perfect {min(cores, args.seeds)}-way "
        f"split of the trials' own time: {swept - ideal:.1f} s in all, "
        f"{(swept - ideal) / args.seeds:.1f} s per trial"
    )


if __name__ == "__main__":
    main()
