"""Robust agents on MuJoCo against the SA-PPO / ATLA table: clean return and return under the
strongest attack, per method, over seeds.

Each run trains in its own process from ``configs/robust-<task>.yaml`` (resumable: a killed run
goes on from its newest checkpoint), one at a time, so long runs span sessions::

    python bench/bench_robust_mujoco.py --one ppo 0          # train (or resume) one run
    python bench/bench_robust_mujoco.py --attacker ppo 0     # train the learned attack on it
    python bench/bench_robust_mujoco.py --report --save      # evaluate and print the table

The report plays every finished run greedily for ``--episodes`` episodes under every attack of
the table (``advrl eval --attack all``: random, fgsm, pgd, critic, mad, rs) at the task's eps in
normalized units, and under the learned attack where one was trained (its run's return,
negated). "Strongest" is the lowest mean return over them, as the papers report; the table gives
the median agent (the papers' convention) and the IQM over seeds with stratified-bootstrap 95%
CIs (rliable), beside the published numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advrl.agents import ObservationAttack  # noqa: E402
from advrl.agents.attacks import ATTACKS  # noqa: E402
from advrl.eval.statistics import aggregate  # noqa: E402
from advrl.runners.robustness import evaluate_attacks  # noqa: E402

TASKS = {
    "hopper": {
        "eps": 0.075,
        "published": {"ppo": (3167, 636), "sa": (3705, 1076), "atla": (3291, 1772)},
    }
}
"""Per task: eps (normalized units) and the published (clean, strongest attack) median agents:
SA-PPO (Zhang et al., NeurIPS 2020) and ATLA (Zhang et al., ICLR 2021) READMEs (their ATLA row is
ATLA-PPO with an LSTM and SA; advrl's ``atla`` is the feed-forward ATLA-PPO)."""

METHODS: dict[str, list[str]] = {
    "ppo": ["adversarial.method=none"],
    # SA-PPO's kappa 1.0 (its SGLD config) is term.coef 2.0 here (configs/robust-hopper.yaml)
    "sa": ["adversarial.method=sa", "adversarial.term.coef=2.0"],
    "pgd_at": ["adversarial.method=pgd_at", "adversarial.term.weight=0.5"],
    "atla": ["adversarial.method=atla"],
}
"""Method name -> overrides of the task's config."""


def advrl(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "advrl.cli", *args], check=True, env=env)


def sets(items: list[str]) -> list[str]:
    return [x for item in items for x in ("--set", item)]


def train_one(task: str, method: str, seed: int, out: Path) -> None:
    run = out / f"{method}-seed{seed}"
    if (run / "summary.json").is_file():
        return
    if (run / "config.yaml").is_file():
        advrl("train", "ppo", "--resume", str(run))
        return
    config = str(ROOT / "configs" / f"robust-{task}.yaml")
    items = [f"out_dir={out}", f"name={run.name}", f"train.seed={seed}", *METHODS[method]]
    advrl("train", "ppo", "--config", config, *sets(items))


def train_attacker(task: str, method: str, seed: int, out: Path, steps: int) -> None:
    victim = out / f"{method}-seed{seed}"
    run = out / f"{victim.name}-attacker"
    if (run / "summary.json").is_file():
        return
    if (run / "config.yaml").is_file():
        advrl("train", "ppo", "--resume", str(run))
        return
    items = [f"env.kwargs.victim={victim}", f"env.kwargs.eps={TASKS[task]['eps']}"]
    items += [f"out_dir={out}", f"name={run.name}", f"train.seed={seed}"]
    items += [f"train.total_timesteps={steps}"]
    advrl("train", "ppo", "--config", str(ROOT / "configs" / "attacker.yaml"), *sets(items))


def evaluate(task: str, run: Path, episodes: int) -> dict[str, Any]:
    """Clean and attacked mean returns of one finished run (kept in its folder)."""
    names = [
        name
        for name, a in ATTACKS.items()
        if not a.whole_cells and not a.needs_adversary  # (the learned one: from its own run)
    ]
    cached = run / f"bench-attacks-{episodes}-{'-'.join(names)}.json"
    if cached.is_file():
        return dict(json.loads(cached.read_text()))
    eps = TASKS[task]["eps"]
    attacks = [
        ObservationAttack(name, eps=eps, objective=ATTACKS[name].objective, eps_units="normalized")
        for name in names
    ]
    results = evaluate_attacks(
        [run], attacks, [0.0, eps], episodes=episodes, out=run / "bench-attacks", plot=False
    )
    curves = {r.attack["method"]: next(iter(r.runs.values())).points for r in results}
    out = {
        "clean": curves["random"][0].mean_return,
        "attacks": {name: points[1].mean_return for name, points in curves.items()},
    }
    cached.write_text(json.dumps(out, indent=2))
    return out


def report(task: str, out: Path, episodes: int, seeds: list[int]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for method in METHODS:
        runs = [out / f"{method}-seed{s}" for s in seeds]
        done = [r for r in runs if (r / "summary.json").is_file()]
        if not done:
            continue
        per_run = []
        for run in done:
            result = evaluate(task, run, episodes)
            attacker = out / f"{run.name}-attacker" / "summary.json"
            if attacker.is_file():
                summary = json.loads(attacker.read_text())
                result["attacks"]["learned"] = -summary["eval"]["policy_deterministic"][
                    "mean_return"
                ]
            result["strongest"] = min(result["attacks"].values())
            result["run"] = run.name
            per_run.append(result)
        clean = np.array([r["clean"] for r in per_run])
        strongest = np.array([r["strongest"] for r in per_run])
        median = per_run[int(np.argsort(strongest)[len(strongest) // 2])]
        rows[method] = {
            "runs": per_run,
            "median_agent": {"clean": median["clean"], "strongest": median["strongest"]},
            "clean": clean.tolist(),
            "strongest": strongest.tolist(),
        }
    if all(len(r["runs"]) > 1 for r in rows.values()) and rows:
        stats = aggregate({m: np.array(r["strongest"]) for m, r in rows.items()})
        for m, a in stats.items():
            rows[m]["strongest_iqm"] = a.iqm.as_tuple()
    return rows


def table(task: str, rows: dict[str, Any]) -> str:
    published = TASKS[task]["published"]
    lines = [
        "| method | seeds | median agent: clean / strongest | IQM strongest [95% CI] "
        "| published median: clean / strongest |",
        "|---|---|---|---|---|",
    ]
    for method, r in rows.items():
        med = r["median_agent"]
        iqm = r.get("strongest_iqm")
        ci = f"{iqm[0]:.0f} [{iqm[1]:.0f}, {iqm[2]:.0f}]" if iqm else "n/a"
        pub = published.get(method)
        lines.append(
            f"| {method} | {len(r['runs'])} | {med['clean']:.0f} / {med['strongest']:.0f} | {ci} | "
            f"{f'{pub[0]} / {pub[1]}' if pub else '—'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="hopper", choices=list(TASKS))
    parser.add_argument("--out", default="bench-state/robust-hopper")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "SEED"))
    parser.add_argument("--attacker", nargs=2, metavar=("METHOD", "SEED"))
    parser.add_argument("--attacker-steps", type=int, default=999_424)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--save", action="store_true", help="write docs/results/robust-mujoco/")
    args = parser.parse_args()
    out = Path(args.out)
    if args.one:
        train_one(args.task, args.one[0], int(args.one[1]), out)
    if args.attacker:
        train_attacker(args.task, args.attacker[0], int(args.attacker[1]), out, args.attacker_steps)
    if args.report:
        seeds = [int(s) for s in args.seeds.split(",")]
        rows = report(args.task, out, args.episodes, seeds)
        text = table(args.task, rows)
        print(text)
        if args.save:
            folder = ROOT / "docs" / "results" / "robust-mujoco"
            folder.mkdir(parents=True, exist_ok=True)
            meta = {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "date": time.strftime("%Y-%m-%d"),
                "episodes": args.episodes,
            }
            path = folder / f"{args.task}.json"
            path.write_text(json.dumps({**meta, "rows": rows}, indent=2))
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
