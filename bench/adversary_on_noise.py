"""PAIRED's adversary trained on pure noise: how fast do its levels empty with no signal at all?

PAIRED's adversary is rewarded once per design, on its last step, with the level's regret. Where the
regret is mostly noise (docs/benchmarks.md: the estimator's bias, a gap whose sign depends on the
seed), PPO on that reward is a random walk of the design policy. This script takes a PAIRED
config's adversary, exactly as a run builds it, and trains it for ``--iterations`` designs of a
batch, each level rewarded with independent Gaussian noise (``--sd``) instead of a regret; no
student plays. It prints the design policy's entropy and its levels' walls and shortest path per
window of iterations and per seed. An adversary whose walls fall as fast on noise as PAIRED's do on
regret empties its levels by collapsing, not by design: 50 placements of a near-deterministic
policy land on few cells.

    python bench/adversary_on_noise.py --seeds 0 1 2 3 4
    python bench/adversary_on_noise.py --set adversary.ppo.ent_coef=0.01

123 iterations are the adversary updates of a 1M-step run of ``configs/paired-maze-transfer.yaml``
(32 levels of 256 protagonist steps each).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advrl.config import UEDRunConfig, load_config
from advrl.runners.ued import build_runner


def run_seed(config_path: str, overrides: list[str], seed: int, iterations: int, sd: float) -> Any:
    """Train one adversary on noise; per iteration: walls, shortest path, entropy after the update."""
    config = load_config(UEDRunConfig, config_path, [f"train.seed={seed}", *overrides])
    if config.method != "paired":
        raise SystemExit(f"{config_path} is a {config.method} config, not paired")
    runner = build_runner(config)
    runner.start(10**12)
    teacher: Any = runner.teacher  # PAIRED's: it has the adversary
    adversary = teacher.adversary
    logger = runner.logger  # the adversary logs there under adversary/
    rng = np.random.default_rng(seed + 1000)
    rows = []
    for _ in range(iterations):
        levels = adversary.design()
        stats = runner.family.stats(levels)
        adversary.reward(rng.normal(0.0, sd, size=len(levels)))
        entropy = -float(logger.name_to_value["adversary/train/entropy_loss"])
        logger.dump(0)
        rows.append(
            {"walls": stats["num_walls"], "path": stats["shortest_path"], "entropy": entropy}
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/paired-maze-transfer.yaml")
    parser.add_argument("--set", action="append", default=[], help="config overrides")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=123)
    parser.add_argument("--sd", type=float, default=0.1, help="the noise's standard deviation")
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)

    results = {s: run_seed(args.config, args.set, s, args.iterations, args.sd) for s in args.seeds}
    edges = np.linspace(0, args.iterations, args.windows + 1).astype(int)
    head = " | ".join(f"iterations {lo + 1}-{hi}" for lo, hi in itertools.pairwise(edges))
    print(f"noise sd {args.sd}; overrides {args.set or 'none'}; walls / shortest path / entropy")
    print(f"| seed | {head} |\n|---|" + "---|" * args.windows)
    for seed, rows in results.items():
        cells = []
        for lo, hi in itertools.pairwise(edges):
            w = rows[lo:hi]
            cells.append(
                f"{np.mean([r['walls'] for r in w]):.1f} / {np.nanmean([r['path'] for r in w]):.1f}"
                f" / {np.mean([r['entropy'] for r in w]):.2f}"
            )
        print(f"| {seed} | " + " | ".join(cells) + " |")
    if args.json:
        out = {"config": args.config, "overrides": args.set, "sd": args.sd, "runs": results}
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
