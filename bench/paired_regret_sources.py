"""Where PAIRED's regret comes from: a capability gap between the students, or the estimator.

PAIRED scores a level with ``max(antagonist's best return - protagonist's mean return, 0)`` over the
episodes each student finished in its rollout. Even two copies of one policy score above 0 there:
the best of several episodes beats their mean, the more so the more episodes fit in a rollout (short
levels) and the more their returns vary. This script loads a PAIRED run's checkpoint, lets its
adversary design ``--batches`` batches of levels, and on the same levels compares

- the regret the adversary is trained on (antagonist vs protagonist), with
- the regret of the protagonist against an independent replay of itself (protagonist vs
  protagonist: the estimator's bias, no capability gap), and
- the antagonist against itself,

with the episodes per level and the share of levels each student solved. If the self-regret is
close to the adversary's regret, the adversary is rewarded for the estimator's bias rather than for
levels that the antagonist can solve and the protagonist cannot.

The adversary's reward is scored with the run's own estimator (``teacher.regret``); the other rows
use PAIRED's clipped one. ``--levels random`` plays DR's levels (0-60 random walls) instead of the
adversary's designs: a range from empty rooms to dense ones, on which the table by shortest path
shows where the students' capability gap is, that is, which levels an adversary would be paid for.

    python bench/paired_regret_sources.py bench-runs/transfer/paired-seed0 --batches 8
    python bench/paired_regret_sources.py bench-runs/transfer/paired-mean-seed1 --levels random
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advrl.config import UEDRunConfig, load_run_config
from advrl.envs import RandomWalls
from advrl.pair import paired_regret
from advrl.pair.students import RolloutResult
from advrl.runners.checkpoints import read_checkpoint
from advrl.runners.ued import build_runner
from advrl.runs import RunDir


def summary(name: str, scores: np.ndarray) -> dict[str, Any]:
    """Mean and positive share of one regret estimate."""
    return {"estimate": name, "mean": float(scores.mean()), "positive": float((scores > 0).mean())}


PATH_BINS = ((1, 5), (6, 10), (11, 15), (16, 25), (26, 169))
"""Shortest-path ranges (inclusive) of the per-difficulty table; unsolvable levels are a row."""


def by_path(
    paths: list[int | None],
    reward: np.ndarray,
    self_regret: np.ndarray,
    p_solved: np.ndarray,
    a_solved: np.ndarray,
) -> list[dict[str, Any]]:
    """Per shortest-path range: levels, the adversary's reward (mean and standard error), the
    protagonist-vs-itself regret (same estimator) and each student's solve rate."""
    rows = []
    ranges: list[tuple[str, np.ndarray]] = [("unsolvable", np.array([p is None for p in paths]))]
    for lo, hi in PATH_BINS:
        mask = np.array([p is not None and lo <= p <= hi for p in paths])
        ranges.append((f"{lo}-{hi}", mask))
    for name, mask in ranges:
        if not mask.any():
            continue
        rows.append(
            {
                "shortest_path": name,
                "levels": int(mask.sum()),
                "reward": float(reward[mask].mean()),
                "reward_se": float(reward[mask].std(ddof=1) / np.sqrt(mask.sum()))
                if mask.sum() > 1
                else float("nan"),
                "self_regret": float(self_regret[mask].mean()),
                "protagonist_solved": float(p_solved[mask].mean()),
                "antagonist_solved": float(a_solved[mask].mean()),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a PAIRED run folder")
    parser.add_argument("--checkpoint", default=None, help="default: the run's latest")
    parser.add_argument("--batches", type=int, default=8, help="batches of designed levels")
    parser.add_argument(
        "--levels",
        choices=("adversary", "random"),
        default="adversary",
        help="the adversary's designs, or DR's levels with 0-60 random walls",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    run = RunDir.open(args.run)
    config = load_run_config(UEDRunConfig, run.config_file)
    if config.method != "paired":
        raise SystemExit(f"{args.run} is a {config.method} run, not paired")
    runner = build_runner(config)
    runner.start(10**12)
    checkpoint = Path(args.checkpoint) if args.checkpoint else run.latest_checkpoint()
    if checkpoint is None:
        raise SystemExit(f"{args.run} has no checkpoint")
    runner.load_state_dict(read_checkpoint(checkpoint))
    teacher: Any = runner.teacher
    pro, ant = runner.protagonist, runner.antagonist
    assert ant is not None
    results: dict[str, list[RolloutResult]] = {k: [] for k in ("p", "p2", "a", "a2")}
    walls, paths = [], []
    level_paths: list[int | None] = []
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    dr = RandomWalls(shape=runner.family.shape, num_walls=(0, 60))
    for _ in range(args.batches):
        if args.levels == "adversary":
            levels = teacher.adversary.design()
        else:
            levels = [dr.sample(rng) for _ in range(config.env.num_levels)]
        stats = runner.family.stats(levels)
        walls.append(stats["num_walls"])
        paths.append(stats["shortest_path"])
        level_paths += [lvl.shortest_path_length() for lvl in levels]
        for key, student in (("p", pro), ("p2", pro), ("a", ant), ("a2", ant)):
            results[key].append(student.play(levels, learn=False))

    def returns(key: str) -> list[list[float]]:
        return [list(r) for result in results[key] for r in result.returns]

    def solved_per_level(key: str) -> np.ndarray:
        return np.array([s for result in results[key] for s in result.solved], dtype=float)

    def solved(key: str) -> float:
        return float(solved_per_level(key).mean())

    mode = config.teacher.regret
    reward = paired_regret(returns("p"), returns("a"), mode)
    self_regret = paired_regret(returns("p"), returns("p2"), mode)  # the run's estimator
    episodes = np.array([len(r) for r in returns("p")])
    rows = [
        summary(f"antagonist vs protagonist (the adversary's reward, {mode})", reward),
        summary(
            "protagonist vs itself (estimator bias)", paired_regret(returns("p"), returns("p2"))
        ),
        summary(
            "antagonist vs itself (estimator bias)", paired_regret(returns("a"), returns("a2"))
        ),
    ]
    if mode != "clipped":
        rows.append(summary(f"protagonist vs itself ({mode})", self_regret))
    table = by_path(level_paths, reward, self_regret, solved_per_level("p"), solved_per_level("a"))
    out = {
        "run": args.run,
        "checkpoint": checkpoint.name,
        "levels_from": args.levels,
        "levels": len(episodes),
        "walls": float(np.mean(walls)),
        "shortest_path": float(np.nanmean(paths)),
        "episodes_per_level": float(episodes.mean()),
        "protagonist_solved": solved("p"),
        "antagonist_solved": solved("a"),
        "regret": rows,
        "by_shortest_path": table,
    }
    print(
        f"{args.run} @ {checkpoint.name}: {out['levels']} levels ({args.levels}), "
        f"{out['walls']:.1f} walls, "
        f"shortest path {out['shortest_path']:.1f}, {out['episodes_per_level']:.1f} protagonist "
        f"episodes per level; solved by the protagonist {out['protagonist_solved']:.2f}, by the "
        f"antagonist {out['antagonist_solved']:.2f}"
    )
    print("| regret estimate | mean | share > 0 |\n|---|---|---|")
    for row in rows:
        print(f"| {row['estimate']} | {row['mean']:.3f} | {row['positive']:.2f} |")
    print(
        f"\n| shortest path | levels | adversary's reward ({mode}) | protagonist vs itself "
        "| solved P / A |\n|---|---|---|---|---|"
    )
    for t in table:
        print(
            f"| {t['shortest_path']} | {t['levels']} | {t['reward']:.3f} ± {t['reward_se']:.3f} "
            f"| {t['self_regret']:.3f} "
            f"| {t['protagonist_solved']:.2f} / {t['antagonist_solved']:.2f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
