"""Adversarial imitation benchmark: normalized score of GAIL, ASAF, ASAF-w, ASAF-1 and GAIL -> ASAF.

For each task: train (or reuse) a PPO expert from ``configs/expert-<task>.yaml``, record
``--demo-episodes`` greedy episodes, then train every method from ``configs/<gail|asaf>-<task>.yaml``
for each seed. Prints one markdown table: final normalized score (0 = random, 1 = expert; stochastic
policy, ``eval_episodes`` episodes), mean and spread over seeds, env steps and wall-clock, plus the
score at intermediate evaluations (steps to reach 0.9).

    python bench/bench_imitation.py --tasks cartpole --seeds 0,1,2 --out bench-runs/imitation

From pixels (``pixel-cartpole``): the CartPole expert plays ``advrl/PixelCartPole-v1`` from its
state while its 48x48 frames are recorded, and GAIL imitates the frames
(``configs/gail-pixel-cartpole.yaml``), with and without DiffAugment, from few demonstrations:

    python bench/bench_imitation.py --tasks pixel-cartpole --methods gail,gail+diffaug-full \
        --demo-counts 1,2,5,10 --seeds 0,1,2,3,4
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from advrl.config import ImitationRunConfig, PPORunConfig, load_config
from advrl.envs.vector import make_env
from advrl.eval import sb3_policy
from advrl.gail import record_demos, save_demos
from advrl.gail.record import state_input
from advrl.runners import train_ppo
from advrl.runners.imitation import train_imitation
from advrl.runners.loading import load_run

DEFAULT_DEMOS = 10
"""Demonstrations recorded per task (and used per run unless --demo-counts says otherwise)."""

METHODS: dict[str, tuple[str, list[str]]] = {
    "gail": ("gail", ["discriminator.augment=null"]),
    "asaf": ("asaf", ["asaf.window=null"]),
    "asaf-w": ("asaf", ["asaf.window=32", "asaf.batch_size=50"]),
    "asaf-1": ("asaf", ["asaf.window=1", "asaf.batch_size=200"]),
    "gail+asaf": ("asaf", []),  # ASAF fine-tuning of the same seed's GAIL policy
    "gail+diffaug": ("gail", ["discriminator.augment=translation,cutout"]),
    "gail+diffaug-full": ("gail", ["discriminator.augment=color,translation,cutout"]),
}
"""Method name -> (config family, overrides)."""


STOCHASTIC_DEMOS = {"maze-small"}
"""Tasks whose expert is recorded with sampled actions (a greedy maze policy can loop forever)."""

PIXEL_TASKS = {"pixel-cartpole": ("cartpole", "advrl/PixelCartPole-v1")}
"""Pixel task -> (the task whose expert plays from the state, the pixel env recorded)."""


def expert_demos(task: str, out: Path, episodes: int) -> Path:
    """Train (or reuse) the task's expert and record its demos."""
    demos = out / f"demos-{task}.npz"
    if demos.is_file():
        return demos
    expert_task, pixel_env = PIXEL_TASKS.get(task, (task, None))
    run = out / f"expert-{expert_task}"
    if not (run / "summary.json").is_file():
        config = load_config(
            PPORunConfig,
            Path("configs") / f"expert-{expert_task}.yaml",
            [f"out_dir={out}", f"name=expert-{expert_task}"],
        )
        train_ppo(config)
    loaded = load_run(run)
    model, config = loaded.model, loaded.config
    env_id = pixel_env or config.env.id
    env = make_env(env_id, {} if pixel_env else config.env.kwargs)
    save_demos(
        record_demos(
            env,
            sb3_policy(model, deterministic=task not in STOCHASTIC_DEMOS),
            episodes,
            env_id=env_id,
            policy_input=state_input if pixel_env else None,
        ),
        demos,
    )
    return demos


def eval_curve(run: Path) -> list[tuple[int, float]]:
    """(env steps, eval/normalized_score) rows of a run's CSV log."""
    rows = []
    with open(run / "tb" / "progress.csv") as f:
        for row in csv.DictReader(f):
            score = row.get("eval/normalized_score", "")
            if score:
                rows.append((int(float(row["time/total_timesteps"])), float(score)))
    return rows


def run_method(
    task: str, method: str, seed: int, demos: Path, out: Path, steps: int | None, episodes: int
) -> dict[str, Any]:
    family, overrides = METHODS[method]
    name = f"{task}-{method}-seed{seed}"
    if episodes != DEFAULT_DEMOS:
        name = f"{task}-{method}-d{episodes}-seed{seed}"
    if (out / name / "summary.json").is_file():
        return json.loads((out / name / "summary.json").read_text())
    sets = [
        f"out_dir={out}",
        f"name={name}",
        f"train.seed={seed}",
        f"demos.path={demos}",
        f"demos.episodes={episodes}",
        *overrides,
    ]
    if steps is not None:
        sets.append(f"train.total_timesteps={steps}")
    if task in PIXEL_TASKS and family == "gail" and episodes < DEFAULT_DEMOS:
        sets.append(f"demos.heldout_episodes={DEFAULT_DEMOS - episodes}")  # D's unseen accuracy
    if method == "gail+asaf":
        gail = run_method(task, "gail", seed, demos, out, None, episodes)
        sets.append(f"init.from_run={gail['run']}")
    config = load_config(ImitationRunConfig, Path("configs") / f"{family}-{task}.yaml", sets)
    return train_imitation(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="cartpole")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--demo-episodes", type=int, default=DEFAULT_DEMOS, help="recorded")
    parser.add_argument(
        "--demo-counts", default=None, help="comma-separated demos per run (default: all recorded)"
    )
    parser.add_argument("--asaf-steps", type=int, help="budget of ASAF runs (default: config's)")
    parser.add_argument("--finetune-steps", type=int, default=50_000)
    parser.add_argument("--out", default="bench-runs/imitation")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}"
    )
    print(
        "| task | method | seeds | normalized score (stoch.) | greedy | steps | wall-clock s | "
        "steps to 0.9 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    counts = [args.demo_episodes]
    if args.demo_counts:
        counts = [int(c) for c in args.demo_counts.split(",")]
    for task, count in ((t, c) for t in args.tasks.split(",") for c in counts):
        demos = expert_demos(task, out, args.demo_episodes)
        for method in args.methods.split(","):
            steps = None
            if method == "gail+asaf":
                steps = args.finetune_steps
            elif method.startswith("asaf"):
                steps = args.asaf_steps
            results = [run_method(task, method, s, demos, out, steps, count) for s in seeds]
            scores = [r["eval"]["policy"]["normalized_score"] for r in results]
            greedy = [r["eval"]["policy_deterministic"]["normalized_score"] for r in results]
            reach = []
            for r in results:
                hits = [step for step, score in eval_curve(Path(r["run"])) if score >= 0.9]
                reach.append(hits[0] if hits else None)
            reached = [x for x in reach if x is not None]
            reach_text = (
                f"{int(np.median(reached))} ({len(reached)}/{len(reach)})" if reached else "never"
            )
            label = task if count == args.demo_episodes else f"{task}, {count} demos"
            print(
                f"| {label} | {method} | {len(seeds)} | "
                f"{np.mean(scores):.2f} ± {np.std(scores):.2f} | "
                f"{np.mean(greedy):.2f} ± {np.std(greedy):.2f} | "
                f"{results[0]['timesteps']} | {np.mean([r['wall_clock_s'] for r in results]):.0f} | "
                f"{reach_text} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
