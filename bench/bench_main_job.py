"""The README's main job over seeds: what a newcomer's first command prints, as a range.

    python bench/bench_main_job.py --seeds 0-4 [--out bench-state/main-job]
    python bench/bench_main_job.py --method paired --config configs/paired-maze-transfer.yaml \
        --label paired          # the main job before SFL's

Runs ``advrl train METHOD --config CONFIG --set train.total_timesteps=250000 --set
train.seed=S [--set ...]`` for each seed, one after another (by default the main job, SFL on
``configs/sfl-maze-quick.yaml``), and writes each run's figures to
``docs/results/main-job/LABEL/seed<S>.json`` (a finished seed is not run again); then prints the
held-out solve rate per seed, its range and mean, beside the random policy's, and the levels the
protagonist trained on (walls and shortest path, first tenth of the iterations against the last).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from bench_ued_transfer import complexity

RESULTS = Path("docs/results/main-job")


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    results = RESULTS / args.label
    result = results / f"seed{seed}.json"
    if result.is_file():
        return dict(json.loads(result.read_text()))
    name = f"{args.label or args.method}-seed{seed}"
    sets = [
        "train.total_timesteps=250000", f"train.seed={seed}", f"out_dir={args.out}",
        f"name={name}", *args.set,
    ]  # fmt: skip
    command = [
        sys.executable, "-m", "advrl.cli", "train", args.method, "--config", args.config,
        *[item for s in sets for item in ("--set", s)], "--quiet",
    ]  # fmt: skip
    subprocess.run(command, check=True)
    run = args.out / name
    summary = json.loads((run / "summary.json").read_text())
    with (run / "tb" / "progress.csv").open() as f:
        levels = complexity(list(csv.DictReader(f)))
    figures = {
        "seed": seed,
        "command": " ".join(["advrl", *command[3:]]),
        "held_out": summary["mean_solve_rate"],
        "held_out_greedy": summary["mean_solve_rate_greedy"],
        "random": summary["mean_solve_rate_random"],
        "wall_clock_s": summary["wall_clock_s"],
        "student_steps_per_s": summary["student_steps_per_s"],
        "complexity": levels,
    }
    results.mkdir(parents=True, exist_ok=True)
    result.write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--out", type=Path, default=Path("bench-state/main-job"))
    parser.add_argument("--method", default="sfl")
    parser.add_argument("--config", default="configs/sfl-maze-quick.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--label", default="sfl-quick", help="results: docs/results/main-job/LABEL")
    args = parser.parse_args()
    rows = [run_seed(args, seed) for seed in seeds_arg(args.seeds)]
    print("| seed | held-out | greedy | random policy | walls | shortest path | wall clock |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        c = r.get("complexity") or {}
        trend = (
            f"{c['num_walls_first']:.1f} -> {c['num_walls_last']:.1f} | "
            f"{c['shortest_path_first']:.1f} -> {c['shortest_path_last']:.1f}"
            if c
            else "| "
        )
        print(
            f"| {r['seed']} | {r['held_out']:.3f} | {r['held_out_greedy']:.3f} | "
            f"{r['random']:.3f} | {trend} | {r['wall_clock_s'] / 60:.1f} min |"
        )
    rates = np.array([r["held_out"] for r in rows])
    print(
        f"held-out solve rate {rates.min():.2f}-{rates.max():.2f} over {len(rows)} seeds "
        f"(mean {rates.mean():.3f}); random policy {np.mean([r['random'] for r in rows]):.3f}"
    )


if __name__ == "__main__":
    main()
