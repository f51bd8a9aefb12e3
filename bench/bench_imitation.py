"""Adversarial imitation benchmark: normalized score of GAIL, ASAF, ASAF-w, ASAF-1 and GAIL -> ASAF.

For each task: train (or reuse) a PPO expert from ``configs/expert-<task>.yaml``, record
``--demo-episodes`` greedy episodes, then train every method from ``configs/<gail|asaf>-<task>.yaml``
for each seed. Prints one markdown table: final normalized score (0 = random, 1 = expert; stochastic
policy, ``eval_episodes`` episodes) and the env steps at which the periodic evaluations first
reached 0.9 (a run that never did counts as its budget), IQM over seeds, env steps and
wall-clock.

    python bench/bench_imitation.py --tasks cartpole --seeds 0,1,2 --out bench-runs/imitation

From pixels (``pixel-maze``, ``pixel-cartpole``): the state-based expert plays the pixel env
(``advrl/PixelMaze-Small-v0``, ``advrl/PixelCartPole-v1``) from ``info["state"]`` while its frames
are recorded, and GAIL imitates the frames (``configs/gail-pixel-<task>.yaml``), with and without
DiffAugment, from few demonstrations; the recorded episodes a run does not imitate stay out of D's
training, and D's accuracy on seen and unseen expert steps is reported:

    python bench/bench_imitation.py --tasks pixel-maze --methods gail,gail+diffaug-full \
        --demo-counts 2,10 --seeds 0,1,2,3,4 --results docs/results/imitation-pixels

With DAC's absorbing states (``gail-dac``, ``gail-dac+diffaug-full`` and the frozen-D control
``gail-dac-frozen-d``), where the reward's sign no longer solves the maze by itself:

    python bench/bench_imitation.py --tasks pixel-maze --methods gail-dac,gail-dac+diffaug-full \
        --demo-counts 2,1 --seeds 0,1,2,3,4 --results docs/results/imitation-dac

GAIL on Pendulum, each fix spelled out (``gail-wgan-gp``: the settings before them; ``gail-kl``:
PPO's KL stop alone; ``gail-sde-gp0-l1-kl``: the three, as ``configs/gail-pendulum.yaml``):

    python bench/bench_imitation.py --tasks pendulum --methods gail-wgan-gp,gail-kl,gail-sde-gp0-l1-kl \
        --seeds 0,1,2,3,4 --results docs/results/imitation-pendulum

Each run's figures are kept as one JSON under ``--results`` (``--report`` prints the table from
them); the table gives the IQM over seeds with stratified-bootstrap 95% CIs (rliable).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from advrl.config import PPORunConfig, imitation_run_config, load_config
from advrl.envs.vector import make_env
from advrl.episodes import sb3_policy
from advrl.gail import record_demos, save_demos
from advrl.gail.record import policy_input_for
from advrl.runners import train_ppo
from advrl.runners.imitation import train_imitation
from advrl.runners.loading import load_run

DEFAULT_DEMOS = 10
"""Demonstrations recorded per task (and used per run unless --demo-counts says otherwise)."""


def pendulum(*, sde: bool, kl: float | None, penalty: float, center: float) -> list[str]:
    """The overrides of one GAIL-on-Pendulum variant: gSDE or not, PPO's ``target_kl``, and D's
    gradient penalty weight and centre."""
    return [
        f"ppo.use_sde={str(sde).lower()}",
        f"ppo.sde_sample_freq={4 if sde else -1}",
        f"ppo.target_kl={'null' if kl is None else kl}",
        f"discriminator.grad_penalty={penalty}",
        f"discriminator.grad_penalty_center={center}",
    ]


METHODS: dict[str, tuple[str, list[str]]] = {
    "gail": ("gail", ["discriminator.augment=null"]),
    "asaf": ("asaf", ["asaf.window=null"]),
    "asaf-w": ("asaf", ["asaf.window=32", "asaf.batch_size=50"]),
    "asaf-1": ("asaf", ["asaf.window=1", "asaf.batch_size=200"]),
    "gail+asaf": ("asaf", []),  # ASAF fine-tuning of the same seed's GAIL policy
    "gail+diffaug": ("gail", ["discriminator.augment=translation,cutout"]),
    "gail+diffaug-full": ("gail", ["discriminator.augment=color,translation,cutout"]),
    # a control: D stays at its initialization, so the reward is the form's sign and nothing learned
    "gail-frozen-d": ("gail", ["discriminator.augment=null", "discriminator.learning_rate=1e-12"]),
    # GAIL on Pendulum, each setting spelled out (configs/gail-pendulum.yaml holds the last row's):
    # gSDE exploration as the expert's PPO (noise redrawn every 4 steps), PPO's KL stop, and D's
    # gradient penalty (weight, centre); the diagnosis is in docs/benchmarks.md
    "gail-wgan-gp": ("gail", pendulum(sde=False, kl=None, penalty=10, center=1)),
    "gail-kl": ("gail", pendulum(sde=False, kl=0.02, penalty=10, center=1)),
    "gail-gp0": ("gail", pendulum(sde=False, kl=None, penalty=10, center=0)),
    "gail-gp0-l1": ("gail", pendulum(sde=False, kl=None, penalty=1, center=0)),
    "gail-gp0-logit": (
        "gail",
        [*pendulum(sde=False, kl=None, penalty=10, center=0), "discriminator.reward=logit"],
    ),
    "gail-sde": ("gail", pendulum(sde=True, kl=None, penalty=10, center=1)),
    "gail-sde-gp0-l1": ("gail", pendulum(sde=True, kl=None, penalty=1, center=0)),
    "gail-sde-gp0-l1-anneal": (
        "gail",
        [*pendulum(sde=True, kl=None, penalty=1, center=0), "ppo.lr_schedule=linear"],
    ),
    "gail-sde-gp0-l1-kl": ("gail", pendulum(sde=True, kl=0.02, penalty=1, center=0)),
    # the same three with DAC's absorbing state: no reward for ending or prolonging an episode
    "gail-dac": ("gail", ["discriminator.augment=null", "discriminator.absorbing=true"]),
    "gail-dac+diffaug-full": (
        "gail",
        ["discriminator.augment=color,translation,cutout", "discriminator.absorbing=true"],
    ),
    "gail-dac-frozen-d": (
        "gail",
        [
            "discriminator.augment=null",
            "discriminator.learning_rate=1e-12",
            "discriminator.absorbing=true",
        ],
    ),
}
"""Method name -> (config family, overrides)."""


STOCHASTIC_DEMOS = {"maze-small", "pixel-maze"}
"""Tasks whose expert is recorded with sampled actions (a greedy maze policy can loop forever)."""

PIXEL_TASKS = {
    "pixel-cartpole": ("cartpole", "advrl/PixelCartPole-v1"),
    "pixel-maze": ("maze-small", "advrl/PixelMaze-Small-v0"),
}
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
            policy_input=policy_input_for(env, model.observation_space, model.action_space),
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
    config = load_config(
        imitation_run_config(family), Path("configs") / f"{family}-{task}.yaml", sets
    )
    run = out / name
    resume = run if any(run.glob("checkpoints/*.pt")) else None  # cut off: go on from there
    if run.exists() and resume is None:  # started, no checkpoint yet: begin again
        shutil.rmtree(run)
    return train_imitation(config, resume=resume)


def disc_accuracy(run: Path) -> dict[str, float]:
    """D's last logged accuracy on the expert steps it trains on and on unseen ones, if logged."""
    last: dict[str, float] = {}
    with open(run / "tb" / "progress.csv") as f:
        for row in csv.DictReader(f):
            for key in ("seen", "unseen"):
                if row.get(f"disc/expert_acc_{key}", ""):
                    last[key] = float(row[f"disc/expert_acc_{key}"])
    return last


def record(
    task: str, method: str, count: int, seed: int, summary: dict[str, Any]
) -> dict[str, Any]:
    """One run's figures for the tables (kept under --results)."""
    run = Path(summary["run"])
    return {
        "task": task,
        "method": method,
        "demos": count,
        "seed": seed,
        "score": summary["eval"]["policy"]["normalized_score"],
        "greedy": summary["eval"]["policy_deterministic"]["normalized_score"],
        "steps": summary["timesteps"],
        "wall_clock_s": summary["wall_clock_s"],
        "curve": eval_curve(run),
        "disc_accuracy": disc_accuracy(run),
    }


def steps_to(curve: list[list[float]] | list[tuple[int, float]], level: float) -> float | None:
    """The first evaluation's env steps at which the score reached ``level`` (None: never)."""
    return next((float(step) for step, score in curve if score >= level), None)


def table(records: list[dict[str, Any]], reps: int) -> list[str]:
    """One row per (task, demos, method): IQM [95% CI] over seeds (rliable)."""
    from advrl.eval.statistics import aggregate

    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["task"], r["demos"], r["method"]), []).append(r)
    columns: dict[str, dict[tuple[str, int, str], np.ndarray]] = {
        "score": {},
        "greedy": {},
        "reach": {},
    }
    for key, runs in groups.items():
        columns["score"][key] = np.array([r["score"] for r in runs])
        columns["greedy"][key] = np.array([r["greedy"] for r in runs])
        # a run that never reached 0.9 counts as its whole budget: a lower bound on its steps
        columns["reach"][key] = np.array(
            [steps_to(r["curve"], 0.9) or float(r["steps"]) for r in runs]
        )
    names = {str(k): k for k in groups}
    stats = {
        c: aggregate({str(k): v for k, v in values.items()}, reps) for c, values in columns.items()
    }
    lines = [
        "| task | demos | method | seeds | normalized score (stoch.) | greedy | steps to 0.9 "
        "(reached) | D's accuracy on seen / unseen expert steps | steps | wall-clock s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, (task, count, method) in names.items():
        runs = groups[(task, count, method)]
        reached = sum(steps_to(r["curve"], 0.9) is not None for r in runs)
        acc = [r["disc_accuracy"] for r in runs if r["disc_accuracy"]]
        acc_text = (
            f"{np.mean([a['seen'] for a in acc]):.2f} / {np.mean([a['unseen'] for a in acc]):.2f}"
            if acc
            else "-"
        )
        reach = stats["reach"][label].iqm
        lines.append(
            f"| {task} | {count} | {method} | {len(runs)} | {stats['score'][label].iqm.format()} | "
            f"{stats['greedy'][label].iqm.format()} | "
            f"{reach.point:,.0f} [{reach.low:,.0f}, {reach.high:,.0f}] ({reached}/{len(runs)}) | "
            f"{acc_text} | {runs[0]['steps']} | {np.mean([r['wall_clock_s'] for r in runs]):.0f} |"
        )
    return lines


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
    parser.add_argument("--out", default="bench-runs/imitation", help="run folders")
    parser.add_argument(
        "--results", default="docs/results/imitation", help="one JSON of figures per run"
    )
    parser.add_argument("--report", action="store_true", help="only the table, from --results")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args()
    out, results = Path(args.out), Path(args.results)
    seeds = [int(s) for s in args.seeds.split(",")]
    counts = [args.demo_episodes]
    if args.demo_counts:
        counts = [int(c) for c in args.demo_counts.split(",")]
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}"
    )
    records = []
    for task, count in ((t, c) for t in args.tasks.split(",") for c in counts):
        for method in args.methods.split(","):
            for seed in seeds:
                path = results / f"{task}-{method}-d{count}-seed{seed}.json"
                if path.is_file() or args.report:
                    if path.is_file():
                        records.append(json.loads(path.read_text()))
                    continue
                out.mkdir(parents=True, exist_ok=True)
                demos = expert_demos(task, out, args.demo_episodes)
                steps = None
                if method == "gail+asaf":
                    steps = args.finetune_steps
                elif method.startswith("asaf"):
                    steps = args.asaf_steps
                summary = run_method(task, method, seed, demos, out, steps, count)
                records.append(record(task, method, count, seed, summary))
                results.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(records[-1], indent=1) + "\n")
                print(f"{path.stem}: normalized score {records[-1]['score']:.2f}", flush=True)
    print("\n".join(table(records, args.reps)))


if __name__ == "__main__":
    main()
