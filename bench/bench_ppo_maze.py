"""Benchmark: the README's main job (SB3 PPO on small domain-randomized mazes), several seeds.

Prints one table: per seed, wall-clock, env steps/s, success rate and mean return of the trained
policy (stochastic and greedy) and of a random policy on the same evaluation levels.

    python bench/bench_ppo_maze.py --seeds 0 1 2 [--timesteps 500000]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from advrl.config import PPORunConfig, apply_override, from_dict, load_config, to_dict
from advrl.runners import train_ppo

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ppo-maze.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=None, help="override the config budget")
    args = parser.parse_args()
    base = load_config(PPORunConfig, CONFIG)
    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}"
    )
    print(
        "| seed | steps | wall-clock s | env steps/s | success | greedy success | random success "
        "| return | random return |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as out:
        for seed in args.seeds:
            data = to_dict(base)
            for item in [
                f"train.seed={seed}",
                f"out_dir={out}",
                "train.progress_bar=false",
                f"name=seed{seed}",
            ]:
                apply_override(data, item)
            if args.timesteps:
                apply_override(data, f"train.total_timesteps={args.timesteps}")
            s = train_ppo(from_dict(PPORunConfig, data))
            ev = s["eval"]
            print(
                f"| {seed} | {s['timesteps']} | {s['wall_clock_s']:.0f} | {s['env_steps_per_s']:.0f} "
                f"| {ev['policy']['success_rate']:.3f} | {ev['policy_deterministic']['success_rate']:.3f} "
                f"| {ev['random']['success_rate']:.3f} | {ev['policy']['mean_return']:.3f} "
                f"| {ev['random']['mean_return']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
