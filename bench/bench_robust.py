"""Robust agents benchmark: clean return, return under PGD, ARA and training cost per method.

Trains PPO from ``configs/robust-<task>.yaml`` with each adversarial training method and seed (runs
with a ``summary.json`` are reused), then plays every policy greedily under a PGD attack at each eps
on the same seeded episodes. Prints one markdown table: mean ± std over seeds of the clean return,
the return under PGD at two budgets, the ARA (return x eps) and the normalized ARA (random policy 0,
``--reference`` 1, over the measured eps range), and training wall-clock relative to plain PPO.
Each run's evaluation is kept in its folder (``bench-eval-<settings>.json``) and reused by a later
call with the same evaluation settings, so adding seeds evaluates only the new runs.

    python bench/bench_robust.py --seeds 0,1,2 --out bench-runs/robust
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from advrl.agents import ObservationAttack
from advrl.config import PPORunConfig, load_config
from advrl.envs.vector import make_env
from advrl.episodes import EVAL_SEED_OFFSET
from advrl.eval.robustness import CurvePoint, curve_report, random_return, robustness_curve
from advrl.runners import train_ppo
from advrl.runners.loading import load_run


def method(name: str, term: str = "{}", *sets: str) -> list[str]:
    """The overrides of adversarial method ``name`` with its own settings ``term`` (YAML; the
    whole section, so that no other method's settings from the task's config remain)."""
    return [f"adversarial.method={name}", f"adversarial.term={term}", *sets]


MIXED = "{weight: 0.5}"
"""The mixing methods' weight of the perturbed loss (both tasks' configs)."""

METHODS: dict[str, list[str]] = {
    "ppo": method("none"),
    "pgd_at": method("pgd_at", MIXED),
    "sa": method("sa"),
    "fgsm_rs": method("fgsm_rs", MIXED),
    "fast_bat": method("fast_bat", MIXED),
    "fast_bat_carry": method("fast_bat", "{weight: 0.5, z: carry}"),
    "fast_bat_random": method("fast_bat", "{weight: 0.5, z: random}"),
    # The adversarial term on every other minibatch at twice the weight (weight 0.5 -> 1).
    "fast_bat_every2": method("fast_bat", MIXED, "adversarial.adv_every=2"),
    "pgd_at_every2": method("pgd_at", MIXED, "adversarial.adv_every=2"),
    # Every third / fourth minibatch, each all perturbed (weight 1/k: the largest k w <= 1).
    "fast_bat_every3": method(
        "fast_bat", "{weight: 0.3333333333333333}", "adversarial.adv_every=3"
    ),
    "fast_bat_every4": method("fast_bat", "{weight: 0.25}", "adversarial.adv_every=4"),
    "advprop": method("advprop", "{}", "policy.dual_bn=true"),
    "simaug": method("simaug"),
    "svc": method("none", "{}", "adversarial.svc_bound=2.0"),
    # The maze's discrete attack as the training attack: one whole cell of the view.
    "pgd_at_flip": method("pgd_at", MIXED, "adversarial.attack=flip", "adversarial.eps=1"),
    "sa_flip": method("sa", "{}", "adversarial.attack=flip", "adversarial.eps=1"),
    "simaug_walls": method("simaug", "{views: [walls:0.05, walls:0.1]}"),
    "advprop_flip": method(
        "advprop", "{}", "policy.dual_bn=true", "adversarial.attack=flip", "adversarial.eps=1"
    ),
}
"""Method name -> config overrides (applied after ``--set``)."""

TASK_TERMS: dict[tuple[str, str], str] = {
    ("maze-small", "simaug"): "{views: [gaussian:0.1, dropout:0.1]}",
}
"""A method's own settings where a task has its own (the maze's SimAug views)."""


def train(task: str, method: str, seed: int, out: Path, extra: list[str]) -> dict[str, Any]:
    name = f"{task}-{method}-seed{seed}"
    if (out / name / "summary.json").is_file():
        return json.loads((out / name / "summary.json").read_text())
    sets = [f"out_dir={out}", f"name={name}", f"train.seed={seed}", *extra, *METHODS[method]]
    if (task, method) in TASK_TERMS:
        sets.append(f"adversarial.term={TASK_TERMS[task, method]}")
    return train_ppo(load_config(PPORunConfig, Path("configs") / f"robust-{task}.yaml", sets))


def evaluate_run(
    summary: dict[str, Any],
    seed: int,
    attack: ObservationAttack,
    eps: list[float],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The run's curve under ``attack`` and the random policy's return (cached in the run folder)."""
    run = Path(summary["run"])
    settings = [dataclasses.asdict(attack), eps, args.episodes, args.discrete]
    key = hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:12]
    cache = run / f"bench-eval-{key}.json"
    if cache.is_file():
        saved = json.loads(cache.read_text())
        points = [CurvePoint(**p) for p in saved["points"]]
        return {"points": points, "baseline": saved["baseline"], "time": summary["wall_clock_s"]}
    loaded = load_run(run)
    model, config = loaded.model, loaded.config
    factory = functools.partial(make_env, config.env.id, config.env.kwargs)
    eval_seed = seed + EVAL_SEED_OFFSET
    points = robustness_curve(
        model, factory, attack, eps, episodes=args.episodes, seed=eval_seed, discrete=args.discrete
    )
    baseline = random_return(factory, args.episodes, eval_seed)
    saved = {"settings": settings, "points": [dataclasses.asdict(p) for p in points]}
    cache.write_text(json.dumps({**saved, "baseline": baseline}))
    return {"points": points, "baseline": baseline, "time": summary["wall_clock_s"]}


def cell(rows: list[dict[Any, float]], key: Any, fmt: str = ".1f") -> str:
    """``mean ± std`` over seeds."""
    values = np.array([r[key] for r in rows])
    return f"{values.mean():{fmt}} ± {values.std():{fmt}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="cartpole")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--eps", default="0,0.02,0.05,0.1,0.15,0.2", help="attack sizes")
    parser.add_argument("--budgets", default="0.05,0.1", help="two eps shown as columns")
    parser.add_argument("--digits", type=int, default=1, help="decimals of returns (maze: 3)")
    parser.add_argument("--attack", default="pgd", choices=["pgd", "flip"], help="flip: maze")
    parser.add_argument("--objective", default="kl", choices=["kl", "ce", "value"])
    parser.add_argument("--steps", type=int, default=10, help="PGD steps of the evaluation")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument(
        "--reference", type=float, help="return scaled to 1 (default: the first method's clean)"
    )
    parser.add_argument(
        "--discrete", action="store_true", help="maze: act on cell flips, not relaxed features"
    )
    parser.add_argument("--set", action="append", default=[], help="extra config override")
    parser.add_argument("--out", default="bench-runs/robust")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    eps = [float(e) for e in args.eps.split(",")]
    budgets = [float(b) for b in args.budgets.split(",")]
    attack = ObservationAttack(
        method=args.attack, eps=max(eps), objective=args.objective, steps=args.steps
    )
    print(
        f"# {platform.node()} {platform.processor() or platform.machine()}, "
        f"{time.strftime('%Y-%m-%d')}; {args.attack} ({args.objective}, steps {args.steps}), "
        f"{args.episodes} greedy episodes per eps"
    )
    header = ["method", "seeds", "clean", *(f"{args.attack} eps={b:g}" for b in budgets)]
    header += ["ARA", "normalized ARA", "train s", "x PPO"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    measured: dict[str, list[dict[str, Any]]] = {}
    for method in args.methods.split(","):
        measured[method] = []
        for seed in seeds:
            summary = train(args.task, method, seed, out, args.set)
            measured[method].append(evaluate_run(summary, seed, attack, eps, args))
    first = next(iter(measured.values()))
    reference = args.reference
    if reference is None:  # the first method's (plain PPO's) mean clean return
        reference = float(np.mean([m["points"][0].mean_return for m in first]))
    base_time = float(np.mean([m["time"] for m in first]))
    for method, runs in measured.items():
        rows: list[dict[Any, float]] = []
        for m in runs:
            report = curve_report(m["points"], baseline=m["baseline"], reference=reference)
            at = {p.eps: p.mean_return for p in m["points"]}
            rows.append(
                {
                    "clean": at[eps[0]],
                    **{b: at[b] for b in budgets},
                    "ara": report.ara,
                    "nara": report.normalized_ara or 0.0,
                    "time": m["time"],
                }
            )
        mean_time = float(np.mean([r["time"] for r in rows]))
        fmt = f".{args.digits}f"
        cells = [method, str(len(seeds)), cell(rows, "clean", fmt)]
        cells += [cell(rows, b, fmt) for b in budgets]
        cells += [
            cell(rows, "ara", f".{args.digits + 1}f"),
            cell(rows, "nara", ".3f"),
            f"{mean_time:.0f}",
        ]
        cells.append(f"{mean_time / base_time:.2f}")
        print("| " + " | ".join(cells) + " |", flush=True)
    print(f"\nnormalized ARA: random = 0, {reference:.3g} = 1, over eps {eps[0]:g}..{eps[-1]:g}")


if __name__ == "__main__":
    main()
