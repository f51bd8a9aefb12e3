"""The README's main job over seeds: what a newcomer's first command prints, as a range.

    python bench/bench_main_job.py --seeds 0-4 [--out bench-state/main-job]

Runs ``advrl train paired --config configs/paired-maze-transfer.yaml --set
train.total_timesteps=250000 --set train.seed=S`` for each seed, one after another, and writes each
run's figures to ``docs/results/main-job/seed<S>.json`` (a finished seed is not run again); then
prints the held-out solve rate per seed, its range and mean, beside the random policy's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

RESULTS = Path("docs/results/main-job")


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(s) for s in text.split(",")]


def run_seed(seed: int, out: Path) -> dict[str, float]:
    result = RESULTS / f"seed{seed}.json"
    if result.is_file():
        return dict(json.loads(result.read_text()))
    name = f"seed{seed}"
    command = [
        sys.executable, "-m", "advrl.cli", "train", "paired",
        "--config", "configs/paired-maze-transfer.yaml",
        "--set", "train.total_timesteps=250000", "--set", f"train.seed={seed}",
        "--set", f"out_dir={out}", "--set", f"name={name}", "--quiet",
    ]  # fmt: skip
    subprocess.run(command, check=True)
    summary = json.loads((out / name / "summary.json").read_text())
    figures = {
        "seed": seed,
        "held_out": summary["mean_solve_rate"],
        "held_out_greedy": summary["mean_solve_rate_greedy"],
        "random": summary["mean_solve_rate_random"],
        "wall_clock_s": summary["wall_clock_s"],
        "student_steps_per_s": summary["student_steps_per_s"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    result.write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--out", type=Path, default=Path("bench-state/main-job"))
    args = parser.parse_args()
    rows = [run_seed(seed, args.out) for seed in seeds_arg(args.seeds)]
    print("| seed | held-out | greedy | random policy | wall clock |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seed']} | {r['held_out']:.3f} | {r['held_out_greedy']:.3f} | "
            f"{r['random']:.3f} | {r['wall_clock_s'] / 60:.1f} min |"
        )
    rates = np.array([r["held_out"] for r in rows])
    print(
        f"held-out solve rate {rates.min():.2f}-{rates.max():.2f} over {len(rows)} seeds "
        f"(mean {rates.mean():.3f}); random policy {np.mean([r['random'] for r in rows]):.3f}"
    )


if __name__ == "__main__":
    main()
