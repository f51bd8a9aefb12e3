"""Student training throughput against jaxued (JAX) on the same maze DR config, interleaved.

    python bench/bench_jaxued.py --jaxued PATH/TO/jaxued --python PATH/TO/jax-venv/bin/python

Both sides train one LSTM-256 student with domain randomization on the 13x13 maze with the
papers' PPO settings (32 envs x 256 steps per update, 5 epochs of one minibatch, learning rate
1e-4, gamma 0.995): jaxued's ``examples/maze_dr.py`` (its defaults), run by the given Python (a
virtual environment with jaxued's example dependencies: jax, flax, optax, chex, distrax, gymnax,
orbax-checkpoint, wandb), and advrl's ``configs/dr-maze.yaml`` in this process. jaxued's loop is
timed from outside its ``main``: ``wandb`` is replaced by a stub that records each logged chunk
of ``--updates`` updates (its evaluation cut to one level, one attempt, and checkpoints off), and
the first chunk, which compiles, is not counted. Each side reports env steps per second of wall
clock and per CPU-second (user + system time of the process, all its threads: the measure that
does not depend on how many cores each library happens to use). The two alternate ``--repeats``
times; the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The jaxued side, run by the other interpreter: time maze_dr.main's chunks with a wandb stub.
JAX_SIDE = r"""
import json, os, resource, sys, time, types
sys.path.insert(0, os.path.join(sys.argv[1], "examples"))
sys.path.insert(0, os.path.join(sys.argv[1], "src"))
updates, chunks = int(sys.argv[2]), int(sys.argv[3])
marks = []

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

class Run:
    pass

stub = types.ModuleType("wandb")
stub.init = lambda config=None, **kw: (setattr(stub, "config", config), Run())[1]
stub.define_metric = lambda *a, **k: None
stub.log = lambda d: marks.append((time.perf_counter(), cpu()))
stub.Video = lambda *a, **k: None
sys.modules["wandb"] = stub
import maze_dr

config = {
    "project": "bench", "run_name": "bench", "seed": 0, "mode": "train",
    "checkpoint_directory": None, "checkpoint_to_eval": -1, "checkpoint_save_interval": 0,
    "max_number_of_checkpoints": 1, "eval_freq": updates, "eval_num_attempts": 1,
    "eval_levels": ["SixteenRooms"], "lr": 1e-4, "max_grad_norm": 0.5,
    "num_updates": updates * chunks, "num_env_steps": None, "num_steps": 256,
    "num_train_envs": 32, "num_minibatches": 1, "gamma": 0.995, "epoch_ppo": 5,
    "clip_eps": 0.2, "gae_lambda": 0.98, "entropy_coeff": 1e-3, "critic_coeff": 0.5,
    "agent_view_size": 5, "n_walls": 25, "group_name": "bench",
}
start = (time.perf_counter(), cpu())
maze_dr.main(config, project="bench")
steps = updates * 32 * 256
rows = []
for (w0, c0), (w1, c1) in zip(marks, marks[1:]):  # the first chunk compiles: skip it
    rows.append({"steps": steps, "wall_s": w1 - w0, "cpu_s": c1 - c0})
print("RESULT " + json.dumps(rows))
"""


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def jaxued_chunks(python: str, path: str, updates: int, chunks: int) -> list[dict[str, float]]:
    """Timed chunks of jaxued's DR training (``chunks`` after a compiling one)."""
    out = subprocess.run(
        [python, "-c", JAX_SIDE, path, str(updates), str(chunks + 1)],
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled"},
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return list(json.loads(line[len("RESULT ") :]))
    raise SystemExit(f"jaxued's side failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def advrl_chunks(runner: Any, updates: int, chunks: int) -> list[dict[str, float]]:
    """Timed chunks of ``updates`` iterations of advrl's DR runner."""
    rows = []
    for _ in range(chunks):
        before = runner.protagonist.model.num_timesteps
        w0, c0 = time.perf_counter(), cpu_seconds()
        for _ in range(updates):
            runner.step()
        steps = runner.protagonist.model.num_timesteps - before
        rows.append(
            {"steps": steps, "wall_s": time.perf_counter() - w0, "cpu_s": cpu_seconds() - c0}
        )
    return rows


def rates(rows: list[dict[str, float]]) -> tuple[float, float]:
    """Median env steps per wall second and per CPU-second."""
    return (
        statistics.median(r["steps"] / r["wall_s"] for r in rows),
        statistics.median(r["steps"] / r["cpu_s"] for r in rows),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jaxued", required=True, help="a checkout of DramaCow/jaxued")
    parser.add_argument("--python", required=True, help="a Python with jaxued's example deps")
    parser.add_argument("--updates", type=int, default=4, help="updates per timed chunk")
    parser.add_argument("--chunks", type=int, default=2, help="timed chunks per turn")
    parser.add_argument("--repeats", type=int, default=2, help="turns of each side, alternated")
    parser.add_argument("--config", default="configs/dr-maze.yaml")
    parser.add_argument("--threads", type=int, default=0, help="advrl's torch threads (0: default)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if not (Path(args.jaxued) / "examples" / "maze_dr.py").is_file():
        raise SystemExit(f"{args.jaxued}: no examples/maze_dr.py; give a jaxued checkout")

    import torch

    from advrl.config import UEDRunConfig, load_config
    from advrl.runners.ued import build_runner

    if args.threads:
        torch.set_num_threads(args.threads)
    runner = build_runner(load_config(UEDRunConfig, args.config, []))
    runner.start(10**12)
    runner.step()  # warm-up
    sides: dict[str, list[dict[str, float]]] = {"jaxued": [], "advrl": []}
    for _ in range(args.repeats):
        sides["jaxued"] += jaxued_chunks(args.python, args.jaxued, args.updates, args.chunks)
        sides["advrl"] += advrl_chunks(runner, args.updates, args.chunks)
    (jw, jc), (aw, ac) = rates(sides["jaxued"]), rates(sides["advrl"])
    print(f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), {time.strftime('%Y-%m-%d')}")  # fmt: skip
    print("| side | env steps / s (wall) | env steps / CPU-s |")
    print("|---|---|---|")
    print(f"| jaxued maze_dr.py | {jw:,.0f} | {jc:,.0f} |")
    print(f"| advrl {args.config} | {aw:,.0f} | {ac:,.0f} |")
    print(f"advrl / jaxued: {aw / jw:.2f}x per wall second, {ac / jc:.2f}x per CPU-second")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "chunks": sides}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
