"""UED on the maze: held-out solve rates, level complexity over training, and throughput.

Trains each method from its config for a budget of protagonist env steps (same seed list for all),
then prints one markdown table: held-out solve rate per maze (stochastic policy, ``eval_episodes``
episodes each) and its mean, protagonist steps, all students' steps, wall-clock and student steps/s
of a full iteration. For adversary methods it also prints the shortest path and wall count of the
generated levels over training (the emergence of complexity), read from the run's ``progress.csv``.

    python bench/bench_ued_maze.py --methods dr paired plr accel --suffix maze-small \\
        --steps 300000 --seeds 0 1 --out bench-runs
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from advrl.config import UEDRunConfig, load_config
from advrl.runners.ued import train_ued


def complexity(run: Path, points: int = 6) -> list[tuple[int, float, float]]:
    """``(protagonist steps, shortest path, walls)`` of the generated levels at a few points."""
    rows = list(csv.DictReader((run / "tb" / "progress.csv").open()))
    rows = [r for r in rows if r.get("levels/shortest_path")]
    picks = np.linspace(0, len(rows) - 1, min(points, len(rows))).round().astype(int)
    return [
        (
            int(float(rows[i]["time/protagonist_steps"])),
            float(rows[i]["levels/shortest_path"]),
            float(rows[i]["levels/num_walls"]),
        )
        for i in picks
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["dr", "paired", "plr", "accel"])
    parser.add_argument("--suffix", default="maze-small", help="configs/<method>-<suffix>.yaml")
    parser.add_argument("--steps", type=int, default=300_000, help="protagonist env steps")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--out", default="bench-runs")
    args = parser.parse_args()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = []
    for method in args.methods:
        for seed in args.seeds:
            config = load_config(
                UEDRunConfig,
                f"configs/{method}-{args.suffix}.yaml",
                [
                    f"train.total_timesteps={args.steps}",
                    f"train.seed={seed}",
                    f"train.eval_episodes={args.eval_episodes}",
                    f"out_dir={args.out}",
                    f"name={method}-{args.suffix}-seed{seed}-{stamp}",
                ],
            )
            summary = train_ued(config)
            summary["complexity"] = complexity(Path(summary["run"]))
            results.append(summary)
            print(f"done {method} seed {seed}: {summary['wall_clock_s']} s", flush=True)

    names = list(results[0]["eval"]["stochastic"])
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads; {time.strftime('%Y-%m-%d')}"
    )
    print(
        f"budget: {args.steps} protagonist steps; seeds {args.seeds}; "
        f"{args.eval_episodes} episodes per maze\n"
    )
    header = ["method", *names, "mean", "student steps", "wall-clock", "steps/s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for method in args.methods:
        runs = [r for r in results if r["method"] == method]
        rates = [np.mean([r["eval"]["stochastic"][n]["success_rate"] for r in runs]) for n in names]
        steps = np.mean(
            [
                sum(r["agent_timesteps"].get(k, 0) for k in ("protagonist", "antagonist"))
                for r in runs
            ]
        )
        wall = np.mean([r["wall_clock_s"] for r in runs])
        sps = np.mean([r["student_steps_per_s"] for r in runs])
        cells = [f"{x:.2f}" for x in rates]
        print(
            f"| {method} | "
            + " | ".join(cells)
            + f" | {np.mean(rates):.2f} | {steps:,.0f} | {wall / 60:.1f} min | {sps:,.0f} |"
        )
    for r in results:
        if r["method"] in ("paired", "minimax"):
            print(
                f"\n{r['method']} seed {r['seed']}: generated levels over training "
                "(protagonist steps: shortest path, walls)"
            )
            print("  " + "; ".join(f"{s:,}: {p:.1f}, {w:.1f}" for s, p, w in r["complexity"]))
    Path(args.out).mkdir(exist_ok=True)
    (Path(args.out) / f"ued-{args.suffix}-{stamp}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
