"""Throughput of full UED iterations, and where each iteration's time goes.

Builds the runner of a UED config (no run folder, no evaluation), runs ``--warmup`` iterations, then
times ``--iterations`` more. Each agent's ``collect_rollouts`` and ``train`` are timed separately, so
the table says how long each agent's rollout and update take, per sample; the rest of an iteration
(proposals, level bookkeeping, scores, logging) is "other". With ``--set`` any config key is
overridden, e.g. ``--set protagonist.policy.lstm_hidden=null`` for feed-forward students.

    python bench/bench_ued_iteration.py --config configs/paired-maze.yaml --iterations 3

It imports whichever ``advrl`` comes first on the path, so the same script times another checkout:
``PYTHONPATH=/path/to/other/checkout python bench/bench_ued_iteration.py ...``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import defaultdict
from typing import Any

import torch

import advrl
from advrl.config import UEDRunConfig, load_config
from advrl.runners.ued import build_runner


def timed(store: dict[str, float], key: str, fn: Any) -> Any:
    """``fn`` wrapped to add its wall-clock seconds to ``store[key]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            store[key] += time.perf_counter() - t0

    return wrapper


def count_flops(runner: Any) -> dict[str, float]:
    """Matrix-product FLOPs (convolutions, GEMMs, forward and backward) of each agent's rollout
    and update over one more iteration, counted by ``torch.utils.flop_counter``."""
    from torch.utils.flop_counter import FlopCounterMode

    flops: dict[str, float] = defaultdict(float)

    def counted(key: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with FlopCounterMode(display=False) as counter:
                out = fn(*args, **kwargs)
            flops[key] += counter.get_total_flops()
            return out

        return wrapper

    originals = {}
    for role, model in runner.agents().items():
        originals[role] = (model.collect_rollouts, model.train)
        model.collect_rollouts = counted(f"{role}/rollout", model.collect_rollouts)
        model.train = counted(f"{role}/update", model.train)
    runner.step()
    for role, model in runner.agents().items():
        model.collect_rollouts, model.train = originals[role]
    return flops


def gemm_rate(seconds: float = 3.0, n: int = 2048) -> float:
    """This machine's sustained fp32 matrix-product rate, GFLOP/s (``n x n`` products)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        torch.mm(a, b)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - t0) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/paired-maze.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument(
        "--flops",
        action="store_true",
        help="also count each phase's matrix-product FLOPs (one more iteration) and the compute "
        "floor at this machine's sustained GEMM rate",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    config = load_config(UEDRunConfig, args.config, args.set)
    runner = build_runner(config)
    times: dict[str, float] = defaultdict(float)
    samples: dict[str, int] = defaultdict(int)
    for role, model in runner.agents().items():
        model.collect_rollouts = timed(times, f"{role}/rollout", model.collect_rollouts)  # type: ignore[method-assign]
        model.train = timed(times, f"{role}/update", model.train)  # type: ignore[method-assign]
    runner.start(10**12)
    for _ in range(args.warmup):
        runner.step()
    times.clear()
    before = {role: m.num_timesteps for role, m in runner.agents().items()}
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        runner.step()
    total = time.perf_counter() - t0
    for role, model in runner.agents().items():
        samples[role] = model.num_timesteps - before[role]
    student = sum(samples[r] for r in ("protagonist", "antagonist") if r in samples)
    rows = []
    for role in runner.agents():
        for phase in ("rollout", "update"):
            seconds = times[f"{role}/{phase}"]
            rows.append(
                {
                    "phase": f"{role} {phase}",
                    "s_per_iteration": seconds / args.iterations,
                    "share": seconds / total,
                    "us_per_sample": 1e6 * seconds / max(samples[role], 1),
                }
            )
    other = total - sum(times.values())
    rows.append(
        {"phase": "other", "s_per_iteration": other / args.iterations, "share": other / total}
    )
    if args.flops:
        flops = count_flops(runner)
        rate = gemm_rate()
        for row in rows[:-1]:
            gflop = flops.get(row["phase"].replace(" ", "/"), 0.0) / 1e9
            row["gflop_per_iteration"] = gflop
            row["floor_s"] = gflop / rate
    result = {
        "advrl": advrl.__file__,
        "config": args.config,
        "set": args.set,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}",
        "iterations": args.iterations,
        "s_per_iteration": total / args.iterations,
        "student_steps_per_s": student / total,
        "phases": rows,
    }
    if args.flops:
        result["gemm_gflop_per_s"] = rate
        floor = sum(r.get("floor_s", 0.0) for r in rows)
        result["floor_s_per_iteration"] = floor
        result["floor_student_steps_per_s"] = student / args.iterations / floor
    print(f"{args.config} {' '.join(args.set)}  ({result['machine']}; advrl: {advrl.__file__})")
    print(
        f"{total / args.iterations:.2f} s per iteration, "
        f"{result['student_steps_per_s']:,.0f} student steps/s"
    )
    extra = " GFLOP / iteration | floor s |" if args.flops else ""
    print("| phase | s / iteration | share | us / sample |" + extra)
    print("|---|---|---|---|" + ("---|---|" if args.flops else ""))
    for row in rows:
        per = f"{row['us_per_sample']:.1f}" if "us_per_sample" in row else ""
        line = f"| {row['phase']} | {row['s_per_iteration']:.3f} | {row['share']:.0%} | {per} |"
        if args.flops and "floor_s" in row:
            line += f" {row['gflop_per_iteration']:.1f} | {row['floor_s']:.3f} |"
        print(line)
    if args.flops:
        print(
            f"sustained fp32 GEMM: {rate:.0f} GFLOP/s; all products at that rate: "
            f"{result['floor_s_per_iteration']:.2f} s per iteration, "
            f"{result['floor_student_steps_per_s']:,.0f} student steps/s"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
