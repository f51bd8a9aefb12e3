"""UED transfer benchmark: each method over seeds, zero-shot on held-out mazes of the training size.

Trains ``configs/<method>-<suffix>.yaml`` for every method and seed, evaluates each protagonist on
the held-out mazes of its config (``train.eval_levels``), and aggregates the stochastic policy's
solve rates with ``rliable``: per method, the IQM and the mean over the (seeds x mazes) matrix with
stratified-bootstrap 95% confidence intervals, a per-maze table, the generated levels' shortest
path and walls early and late in training, and a uniformly random policy on the same episodes.

    pip install -e ".[bench]"
    python bench/bench_ued_transfer.py --methods dr plr accel paired --seeds 0 1 2 3 4
    python bench/bench_ued_transfer.py --report   # the table from the runs finished so far

A variant (``--methods paired-mean``: PAIRED on the unbiased difference-of-means regret) runs its
method's config with the overrides of ``VARIANTS``.

Every run is an ordinary run folder, ``<out>/<method>-seed<seed>``: a finished one (it has
``summary.json``) is skipped, an unfinished one resumes from its latest checkpoint, so the command
can be stopped and started again. A finished run also leaves ``<results>/<method>-seed<seed>.json``
(solve rates per maze, complexity over training, timing): small files that the report is built
from, meant to be kept with the docs. One run at a time uses both cores; ``--jobs 2`` runs two at
once with one torch thread each.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from advrl.config import UEDRunConfig, load_config
from advrl.episodes import EVAL_SEED_OFFSET
from advrl.episodes.actors import RandomActor
from advrl.eval.heldout import evaluate_heldout
from advrl.eval.statistics import aggregate
from advrl.runners.ued import train_ued

VARIANTS: dict[str, tuple[str, list[str]]] = {
    # PAIRED with an estimator of regret that is zero in expectation for equal students
    "paired-mean": ("paired", ["teacher.regret=mean"]),
    "paired-unclipped": ("paired", ["teacher.regret=unclipped"]),
    # the same, with an entropy bonus that keeps the adversary's design policy from collapsing
    "paired-mean-ent": ("paired", ["teacher.regret=mean", "adversary.ppo.ent_coef=0.05"]),
    # smaller bonuses, between the collapse at 0 and the uniform designer at 0.05
    "paired-mean-ent01": ("paired", ["teacher.regret=mean", "adversary.ppo.ent_coef=0.01"]),
    "paired-mean-ent005": ("paired", ["teacher.regret=mean", "adversary.ppo.ent_coef=0.005"]),
    # whichever student did better on a level plays antagonist there (the papers' estimator, and
    # the absolute gap of mean returns): an antagonist that falls behind on hard levels does not
    # make them cost the adversary
    "paired-flexible": ("paired", ["teacher.regret=flexible"]),
    "paired-flexible-mean": ("paired", ["teacher.regret=flexible-mean"]),
    # the papers' adversary: an LSTM of 256 after its convolution (their regret, no bonus)
    "paired-lstm": (
        "paired",
        ["adversary.policy.lstm_hidden=256", "adversary.policy.lstm_shared=true"],
    ),
    # Mediratta et al. (2023)'s stabilizers, their 0-60-block settings: behavioural cloning
    # between the students (KL 0.01 every 5th iteration; both ways, or the protagonist only) with
    # an adversary bonus of 0.005 (HiEnt; the students' 0.01 of this config is above HiEnt's 0.005)
    "paired-bibc": (
        "paired",
        [
            "teacher.cloning=bibc",
            "teacher.cloning_coef=0.01",
            "teacher.cloning_every=5",
            "adversary.ppo.ent_coef=0.005",
        ],
    ),
    "paired-unibc": (
        "paired",
        [
            "teacher.cloning=unibc",
            "teacher.cloning_coef=0.01",
            "teacher.cloning_every=5",
            "adversary.ppo.ent_coef=0.005",
        ],
    ),
    # HiEnt alone (their 0-60-block bonus for the adversary)
    "paired-hient": ("paired", ["adversary.ppo.ent_coef=0.05"]),
    # the maximised negative advantage (Mead et al. 2025) as the adversary's reward and as PLR's
    # score
    "paired-mna": ("paired", ["teacher.regret=mna"]),
    "plr-mna": ("plr", ["teacher.score=mna"]),
    # REPAIRED with the stabilizers (configs/repaired-maze-transfer.yaml)
    "repaired": ("repaired", []),
    # robust PLR at DR's number of gradient updates: it updates on replayed levels only (p = 0.5),
    # so twice DR's env steps, as the UED papers compare them
    "plr-2m": ("plr", ["train.total_timesteps=2000000"]),
    # DR on the levels of a uniformly random adversary (50 wall placements on the 169 cells leave
    # about 43 walls) instead of 0-60 walls: PAIRED's level distribution without its adversary
    "dr-dense": ("dr", ["env.kwargs={num_walls: 43}"]),
    # robust PLR whose new levels are those dense ones
    "plr-dense": ("plr", ["env.kwargs={num_walls: 43}"]),
}
"""Variant name -> (the method whose config it runs, its overrides)."""

# 4M protagonist steps of the two intermediate bonuses (does the slow drift toward emptier levels
# reverse once the students master those?) and of their control, dr-dense. Each run continues its
# 1M twin's final checkpoint: constant learning rates and clip ranges, so that is the 4M run's
# first quarter.
for _short in ("paired-mean-ent01", "paired-mean-ent005", "dr-dense"):
    _method, _overrides = VARIANTS[_short]
    VARIANTS[f"{_short}-4m"] = (_method, [*_overrides, "train.total_timesteps=4000000"])


# The long runs (issue: complexity against adversary updates): feed-forward students (the LSTM's
# updates are 4x slower on this CPU), 30,000 iterations of 32 levels x 256 steps (the papers'
# 250M-step budget: 30,000 adversary updates), held-out evaluations every 250 iterations with the
# worst 1% and 10% of 10,000 sampled levels (3 episodes each to choose them, 3 to score them), a
# checkpoint every 50 (the newest kept) so that a run continues across sessions.
FEED_FORWARD = [
    f"{role}.policy.{key}"
    for role in ("protagonist", "antagonist")
    for key in ("lstm_hidden=null", "lstm_shared=false")
]
ITERATION_STEPS = 32 * 256
LONG = [
    f"train.total_timesteps={30_000 * ITERATION_STEPS}",
    f"train.eval_every={250 * ITERATION_STEPS}",
    f"train.checkpoint_every={50 * ITERATION_STEPS}",
    "train.keep_checkpoints=1",
    f"train.image_every={1000 * ITERATION_STEPS}",
    "train.eval_sampled_levels=10000",
    "train.eval_sampled_episodes=3",
]
VARIANTS["paired-ff-30k"] = ("paired", [*FEED_FORWARD, *LONG])
VARIANTS["dr-ff-30k"] = ("dr", [*FEED_FORWARD, *LONG])
VARIANTS["paired-bibc-ff-30k"] = ("paired", [*VARIANTS["paired-bibc"][1], *FEED_FORWARD, *LONG])


def variant(method: str) -> tuple[str, list[str]]:
    """The method whose config ``method`` runs, and its overrides (none for a plain method)."""
    return VARIANTS.get(method, (method, []))


def run_name(method: str, seed: int) -> str:
    """The run folder (and results file) name of one method and seed."""
    return f"{method}-seed{seed}"


def complexity(progress: list[dict[str, str]]) -> dict[str, Any]:
    """Shortest path and walls of the generated levels (from a run's ``progress.csv`` rows): means
    over the first and last 10% of the iterations, and the least-squares slope per million
    protagonist steps."""
    rows = [r for r in progress if r.get("levels/shortest_path")]
    if not rows:
        return {}
    steps = np.array([float(r["time/protagonist_steps"]) for r in rows])
    out: dict[str, Any] = {"iterations": len(rows)}
    k = max(len(rows) // 10, 1)
    for key in ("shortest_path", "num_walls", "solvable"):
        values = np.array([float(r.get(f"levels/{key}") or "nan") for r in rows])
        out[f"{key}_first"] = float(np.nanmean(values[:k]))
        out[f"{key}_last"] = float(np.nanmean(values[-k:]))
        ok = ~np.isnan(values)
        if ok.sum() >= 2 and np.ptp(steps[ok]) > 0:
            out[f"{key}_slope_per_M"] = float(np.polyfit(steps[ok] / 1e6, values[ok], 1)[0])
    return out


ENTROPY = "adversary/train/entropy_loss"
"""SB3's entropy loss of the adversary (minus its policy's mean entropy)."""

TRAJECTORY_KEYS = (
    "time/protagonist_steps",
    "heldout/mean_solve_rate",
    "ued/protagonist_solve_rate",
    "ued/protagonist_return",
    "ued/antagonist_solve_rate",
    "ued/regret",
    "ued/regret_positive_share",
    "ued/antagonist_lead",
    "ued/antagonist_only_solved",
    "ued/adversary_reward",
    "levels/shortest_path",
    "levels/num_walls",
    "levels/solvable",
    ENTROPY,
)


def trajectory(rows: list[dict[str, str]], points: int = 10) -> list[dict[str, float]]:
    """A run's training metrics (its ``progress.csv`` rows) in ``points`` windows of its
    iterations (window means; the periodic held-out evaluation where one falls in the window)."""
    out = []
    for window in np.array_split(np.arange(len(rows)), min(points, len(rows))):
        entry = {}
        for key in TRAJECTORY_KEYS:
            values = [float(rows[i][key]) for i in window if rows[i].get(key)]
            if values:
                entry[key] = (
                    float(np.mean(values)) if key != "time/protagonist_steps" else values[-1]
                )
        evaluated = [i for i in window if rows[i].get("heldout/mean_solve_rate")]
        if evaluated:  # the step of the evaluation itself
            entry["heldout/steps"] = float(rows[evaluated[-1]]["time/protagonist_steps"])
        out.append(entry)
    return out


def worst_case_of(run: Path, config: Any, args: argparse.Namespace) -> dict[str, Any] | None:
    """SFL's worst-case success of a finished run's protagonist on the fixed sampled levels
    (``--sampled`` levels, ``--sampled-episodes`` each way), where its env is a maze."""
    if not args.sampled:
        return None
    from advrl.eval.worst_case import SampledLevels
    from advrl.runners.loading import load_run

    try:
        sampled = SampledLevels(
            config.env.id, config.env.kwargs, levels=args.sampled, episodes=args.sampled_episodes
        )
    except ValueError:  # not a maze
        return None
    model = load_run(run).model
    return sampled.evaluate(model, seed=config.train.seed + EVAL_SEED_OFFSET).summary()


def train_one(config_path: str, method: str, seed: int, args: argparse.Namespace) -> Path:
    """Train (or resume, or skip) one run; write its results file; returns that file."""
    name = run_name(method, seed)
    result = Path(args.results) / f"{name}.json"
    if result.exists():
        return result
    overrides = [
        f"train.seed={seed}",
        f"out_dir={args.out}",
        f"name={name}",
        *(["train.total_timesteps=" + str(args.steps)] if args.steps else []),
        *variant(method)[1],
        *args.set,
    ]
    config = load_config(UEDRunConfig, config_path, overrides)
    run = Path(args.out) / name
    if (run / "summary.json").exists():
        summary = json.loads((run / "summary.json").read_text())
    else:
        resume = run if (run / "checkpoints").is_dir() and any(run.glob("checkpoints/*")) else None
        if run.exists() and resume is None:  # started, no checkpoint yet: begin again
            shutil.rmtree(run)
        summary = train_ued(config, resume=resume)
    with (run / "tb" / "progress.csv").open() as f:
        progress = list(csv.DictReader(f))
    record = {
        "method": method,
        "seed": seed,
        "config": config_path,
        "protagonist_steps": summary["timesteps"],
        "agent_timesteps": summary["agent_timesteps"],
        "wall_clock_s": summary["wall_clock_s"],
        "student_steps_per_s": summary["student_steps_per_s"],
        "solve_rate": {k: v["success_rate"] for k, v in summary["eval"]["stochastic"].items()},
        "solve_rate_greedy": {
            k: v["success_rate"] for k, v in summary["eval"]["deterministic"].items()
        },
        "episodes": int(config.train.eval_episodes),
        "complexity": complexity(progress),
        "trajectory": trajectory(progress),
        "last": summary.get("last", {}),
        "worst_case": summary.get("sampled") or worst_case_of(run, config, args),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
    }
    result.parent.mkdir(parents=True, exist_ok=True)
    tmp = result.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(result)
    return result


def random_results(names: list[str], seeds: list[int], episodes: int) -> list[dict[str, Any]]:
    """A random policy on each seed's held-out episodes (the ones that seed's runs play)."""
    out = []
    for seed in seeds:
        stats = evaluate_heldout(
            RandomActor(spaces.Discrete(3)), names, episodes=episodes, seed=seed + EVAL_SEED_OFFSET
        )
        rates = {name: s.success_rate for name, s in stats.items()}
        out.append({"method": "random", "seed": seed, "solve_rate": rates})
    return out


def method_scores(records: list[dict[str, Any]], names: list[str]) -> dict[str, np.ndarray]:
    """Per method, the ``[seeds, mazes]`` held-out solve rates."""
    scores = {}
    for method in dict.fromkeys(r["method"] for r in records):
        runs = sorted((r for r in records if r["method"] == method), key=lambda r: r["seed"])
        scores[method] = np.array([[r["solve_rate"][n] for n in names] for r in runs])
    return scores


def held_out_mean(record: dict[str, Any]) -> float:
    """A run's mean solve rate over the held-out mazes (its final evaluation)."""
    return float(np.mean(list(record["solve_rate"].values())))


def report(records: list[dict[str, Any]], names: list[str], reps: int) -> str:
    """The markdown tables."""
    scores = method_scores(records, names)
    agg = aggregate(scores, reps)
    lines = [
        f"{time.strftime('%Y-%m-%d')}; held-out: {len(names)} mazes, stochastic policy; "
        f"IQM and mean over (seeds x mazes), stratified-bootstrap 95% CIs ({reps} reps)",
        "",
        "| method | seeds | IQM [95% CI] | mean [95% CI] | protagonist steps | wall-clock |",
        "|---|---|---|---|---|---|",
    ]
    for method, a in agg.items():
        runs = [r for r in records if r["method"] == method]
        steps = np.mean([r.get("protagonist_steps", 0) for r in runs])
        wall = np.mean([r.get("wall_clock_s", 0) for r in runs]) / 60
        lines.append(
            f"| {method} | {len(runs)} | {a.iqm.format(3)} | {a.mean.format(3)} | "
            + (f"{steps:,.0f} | {wall:.1f} min |" if method != "random" else "- | - |")
        )
    for control in [c for c in ("dr", "dr-dense") if c in agg]:  # each DR control present
        lo_dr, hi_dr = agg[control].iqm.low, agg[control].iqm.high
        lines.append("")
        for method, a in agg.items():
            if method in ("dr", "dr-dense", "random"):
                continue
            lo, hi = a.iqm.low, a.iqm.high
            verdict = (
                f"above {control}"
                if lo > hi_dr
                else f"below {control}"
                if hi < lo_dr
                else f"CIs overlap {control}'s"
            )
            lines.append(f"- IQM of {method}: {verdict}")
    lines += ["", "| maze | " + " | ".join(agg) + " |", "|---|" + "---|" * len(agg)]
    for j, name in enumerate(names):
        cells = [f"{scores[m][:, j].mean():.2f}" for m in agg]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    def point(steps: float) -> int:  # the 50k-step column an evaluation falls in
        return int(round(steps / 5e4) * 5e4)

    curves: dict[str, dict[int, list[float]]] = {}
    for r in records:
        if r["method"] == "random":
            continue
        evaluations = {  # the periodic evaluations, then the final one (the run's solve rates)
            point(e.get("heldout/steps", e["time/protagonist_steps"])): e["heldout/mean_solve_rate"]
            for e in r.get("trajectory", [])
            if "heldout/mean_solve_rate" in e
        }
        evaluations.setdefault(point(r["protagonist_steps"]), held_out_mean(r))
        curve = curves.setdefault(r["method"], {})
        for step, rate in evaluations.items():
            curve.setdefault(step, []).append(rate)
    if curves:
        points = sorted({p for c in curves.values() for p in c})
        lines += [
            "",
            "Mean held-out solve rate during training (the runs' periodic evaluations and the final "
            "one, mean over seeds):",
            "",
            "| method | " + " | ".join(f"{p / 1e6:.2f}M" for p in points) + " |",
            "|---|" + "---|" * len(points),
        ]
        for method, curve in curves.items():
            cells = [f"{np.mean(curve[p]):.3f}" if p in curve else "" for p in points]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    grown = [r for r in records if r.get("complexity")]
    if grown:
        lines += [
            "",
            "Generated or replayed levels (training), first 10% -> last 10% of iterations, mean "
            "over seeds; slope per million protagonist steps:",
            "",
            "| method | shortest path | slope | walls | slope | solvable |",
            "|---|---|---|---|---|---|",
        ]
        for method in dict.fromkeys(r["method"] for r in grown):
            c = [r["complexity"] for r in grown if r["method"] == method]

            def mean(key: str, c: list[dict[str, Any]] = c) -> float:
                return float(np.nanmean([x.get(key, np.nan) for x in c]))

            lines.append(
                f"| {method} | {mean('shortest_path_first'):.1f} -> "
                f"{mean('shortest_path_last'):.1f} | {mean('shortest_path_slope_per_M'):+.2f} | "
                f"{mean('num_walls_first'):.1f} -> {mean('num_walls_last'):.1f} | "
                f"{mean('num_walls_slope_per_M'):+.2f} | {mean('solvable_first'):.2f} -> "
                f"{mean('solvable_last'):.2f} |"
            )
    worst = [r for r in records if r.get("worst_case")]
    if worst:
        lines += [
            "",
            "Worst-case success on the fixed set of sampled levels (SFL's metric: the worst 1% and "
            "10% chosen on one pass, scored on another), mean over seeds [min, max]:",
            "",
            "| method | seeds | levels x episodes | mean | worst 10% | worst 1% |",
            "|---|---|---|---|---|---|",
        ]

        def cell(values: list[float]) -> str:
            return f"{np.mean(values):.3f} [{min(values):.3f}, {max(values):.3f}]"

        for method in dict.fromkeys(r["method"] for r in worst):
            cases = [r["worst_case"] for r in worst if r["method"] == method]
            lines.append(
                f"| {method} | {len(cases)} | {cases[0]['levels']:,} x {cases[0]['episodes']} | "
                f"{cell([c['mean_solve_rate'] for c in cases])} | "
                f"{cell([c['worst_solve_rate']['10'] for c in cases])} | "
                f"{cell([c['worst_solve_rate']['1'] for c in cases])} |"
            )
    designed = [r for r in records if any(ENTROPY in t for t in r.get("trajectory", []))]
    if designed:
        lines += [
            "",
            "The adversary's design policy per run: its entropy (nats; uniform over the 13x13 "
            "cells is 5.13) and the walls of its levels, first -> last tenth of training, and the "
            "run's held-out mean solve rate:",
            "",
            "| run | adversary entropy | walls | held-out mean |",
            "|---|---|---|---|",
        ]
        for r in sorted(designed, key=lambda r: (r["method"], r["seed"])):
            entropy = [-t[ENTROPY] for t in r["trajectory"] if ENTROPY in t]
            c = r.get("complexity", {})
            lines.append(
                f"| {run_name(r['method'], r['seed'])} | {entropy[0]:.2f} -> {entropy[-1]:.2f} | "
                f"{c.get('num_walls_first', np.nan):.1f} -> {c.get('num_walls_last', np.nan):.1f} "
                f"| {held_out_mean(r):.3f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["dr", "plr", "accel", "paired"])
    parser.add_argument("--suffix", default="maze-transfer", help="configs/<method>-<suffix>.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=0, help="protagonist steps (0: the config's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="bench-runs/transfer", help="run folders")
    parser.add_argument("--results", default="docs/results/ued-transfer", help="results files")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (one thread each if >1)")
    parser.add_argument(
        "--sampled", type=int, default=10_000, help="worst-case levels per run (0: none)"
    )
    parser.add_argument(
        "--sampled-episodes", type=int, default=5, help="episodes per sampled level, each pass"
    )
    parser.add_argument("--report", action="store_true", help="only the table, from the results")
    parser.add_argument("--reps", type=int, default=50_000, help="bootstrap replications")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    configs = {m: f"configs/{variant(m)[0]}-{args.suffix}.yaml" for m in args.methods}
    if args.one:  # a worker of --jobs: one run
        torch.set_num_threads(1)
        train_one(configs[args.one[0]], args.one[0], int(args.one[1]), args)
        return
    todo = [  # seed by seed, so that an interrupted benchmark has every method's first seeds
        (m, s)
        for s in args.seeds
        for m in args.methods
        if not (Path(args.results) / f"{run_name(m, s)}.json").exists()
    ]
    if not args.report:
        if args.jobs <= 1:
            for method, seed in todo:
                train_one(configs[method], method, seed, args)
                print(f"done {method} seed {seed}", flush=True)
        else:
            worker = sys.argv[1:]
            running: list[tuple[subprocess.Popen[bytes], str]] = []
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            for method, seed in todo:
                while len(running) >= args.jobs:
                    time.sleep(5)
                    running = [(p, n) for p, n in running if p.poll() is None]
                cmd = [sys.executable, __file__, *worker, "--one", method, str(seed)]
                running.append((subprocess.Popen(cmd, env=env), f"{method} seed {seed}"))
            for proc, label in running:
                proc.wait()
                print(f"done {label} (exit {proc.returncode})", flush=True)

    records = []
    for method in args.methods:
        for seed in args.seeds:
            path = Path(args.results) / f"{run_name(method, seed)}.json"
            if path.exists():
                records.append(json.loads(path.read_text()))
    if not records:
        sys.exit("no finished runs yet: run without --report first")
    names = list(records[0]["solve_rate"])
    episodes = records[0]["episodes"]
    seeds = sorted({r["seed"] for r in records})
    records += random_results(names, seeds, episodes)
    print(
        f"\nmachine: {records[0]['machine']}; configs/<method>-{args.suffix}.yaml; "
        f"{episodes} episodes per maze and seed\n"
    )
    print(report(records, names, args.reps))


if __name__ == "__main__":
    main()
