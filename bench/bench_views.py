"""SimAug over views: PPO on one view, RAD-style random views, SimAug; tested on unseen views.

Trains ``configs/views-pixel-maze.yaml`` (PPO on the 40x40 pixel maze, every training episode drawn
under MiniGrid's default view) with each method and seed, then plays every policy on the same
seeded levels drawn under three view sets: ``default`` (the one view training saw), ``train``
(the training view space that ``rad`` and ``simaug`` redraw scenes from) and ``heldout`` (views no
method ever sees). Prints, per method, the IQM and stratified-bootstrap 95% CI (rliable) over
seeds of the success rate and return under each view set, the share of the training-view return
kept on held-out views, and the training time.

    pip install -e ".[bench]"
    python bench/bench_views.py --methods ppo rad simaug --seeds 0 1 2 3 4
    python bench/bench_views.py --report    # the table from the results saved so far

Runs are ordinary run folders (``<out>/<method>-seed<seed>``); a finished one is not trained
again. Each evaluated run leaves ``<results>/<method>-seed<seed>.json``, the small file the report
is built from.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from advrl.config import PPORunConfig, load_config
from advrl.episodes import EVAL_SEED_OFFSET, evaluate, random_policy, sb3_policy
from advrl.eval.statistics import aggregate
from advrl.runners import train_ppo
from advrl.runners.loading import load_run

CONFIG = Path("configs/views-pixel-maze.yaml")
METHODS: dict[str, list[str]] = {
    "ppo": ["adversarial.method=none"],
    "rad": ["adversarial.method=rad", "adversarial.term.views=[scene:1]"],
    "simaug": ["adversarial.method=simaug", "adversarial.term.views=[scene:3]"],
}
VIEW_SETS = ("default", "train", "heldout")


def train(method: str, seed: int, out: Path, steps: int | None) -> dict[str, Any]:
    name = f"{method}-seed{seed}"
    if (out / name / "summary.json").is_file():
        return json.loads((out / name / "summary.json").read_text())
    sets = [f"out_dir={out}", f"name={name}", f"train.seed={seed}", *METHODS[method]]
    if steps:
        sets.append(f"train.total_timesteps={steps}")
    return train_ppo(load_config(PPORunConfig, CONFIG, sets))


def evaluate_run(summary: dict[str, Any], episodes: int) -> dict[str, Any]:
    """Success rate and return under each view set, on the same seeded levels."""
    loaded = load_run(summary["run"])
    env_id = loaded.config.env.id
    policy = sb3_policy(loaded.model, deterministic=False)
    result: dict[str, Any] = {}
    for views in VIEW_SETS:
        stats = evaluate(gym.make(env_id, views=views), policy, episodes, EVAL_SEED_OFFSET)
        result[views] = {"success": stats.success_rate, "return": stats.mean_return}
    env = gym.make(env_id)
    rand = evaluate(env, random_policy(env.action_space, 0), episodes, EVAL_SEED_OFFSET)
    result["random"] = {"success": rand.success_rate, "return": rand.mean_return}
    return result


def report(records: list[dict[str, Any]], reps: int) -> str:
    methods = list(dict.fromkeys(r["method"] for r in records))
    lines = [
        "| method | seeds | success: default view | train views | held-out views | "
        "return: train views | held-out views | held-out / train return | train min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    columns: dict[str, dict[str, np.ndarray]] = {}
    for key in ("default", "train", "heldout"):
        columns[f"s-{key}"] = {
            m: np.array([r["eval"][key]["success"] for r in records if r["method"] == m])
            for m in methods
        }
    for key in ("train", "heldout"):
        columns[f"r-{key}"] = {
            m: np.array([r["eval"][key]["return"] for r in records if r["method"] == m])
            for m in methods
        }
    columns["ratio"] = {
        m: np.array(
            [
                r["eval"]["heldout"]["return"] / max(r["eval"]["train"]["return"], 1e-9)
                for r in records
                if r["method"] == m
            ]
        )
        for m in methods
    }
    estimates = {name: aggregate(values, reps) for name, values in columns.items()}
    for m in methods:
        runs = [r for r in records if r["method"] == m]
        minutes = np.mean([r["wall_clock_s"] for r in runs]) / 60
        cells = [estimates[c][m].iqm.format() for c in columns]
        lines.append(f"| {m} | {len(runs)} | {' | '.join(cells)} | {minutes:.1f} |")
    rand = np.mean([r["eval"]["random"]["success"] for r in records])
    rand_ret = np.mean([r["eval"]["random"]["return"] for r in records])
    lines.append("")
    lines.append(f"Random policy on the same levels: success {rand:.2f}, return {rand_ret:.3f}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=None, help="override train.total_timesteps")
    parser.add_argument(
        "--episodes", type=int, default=200, help="evaluation episodes per view set"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-runs/views"))
    parser.add_argument("--results", type=Path, default=Path("docs/results/views"))
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--report", action="store_true", help="only print the saved results")
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    if not args.report:
        print(
            f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"{time.strftime('%Y-%m-%d')}",
            flush=True,
        )
        for seed in args.seeds:
            for method in args.methods:
                path = args.results / f"{method}-seed{seed}.json"
                if path.is_file():
                    continue
                summary = train(method, seed, args.out, args.steps)
                record = {
                    "method": method,
                    "seed": seed,
                    "steps": summary["timesteps"],
                    "wall_clock_s": summary["wall_clock_s"],
                    "eval": evaluate_run(summary, args.episodes),
                }
                path.write_text(json.dumps(record, indent=1))
                print(f"{method} seed {seed}: {record['eval']}", flush=True)
    records = [json.loads(p.read_text()) for p in sorted(args.results.glob("*.json"))]
    records = [r for r in records if r["method"] in args.methods]
    if records:
        print(report(records, args.reps))


if __name__ == "__main__":
    main()
