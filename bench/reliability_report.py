"""Throw bad input and faults at the ``advrl`` command line, as a careless or hostile user would,
and count the outcomes: a clean one-line error, a traceback, a hang, or a silent wrong result.

    python bench/reliability_report.py [--kills 5] [--out docs/reliability-table.md]

Every case runs the real CLI (``advrl.cli.main``) in this process with a time limit; the kill
cases run real training processes and SIGKILL them at random points, then resume. The table it
prints (and writes with ``--out``) is the one in ``docs/reliability.md``.
"""

# ruff: noqa: E501  (the catalogue below is a table: one case per line)
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advrl.cli import main  # noqa: E402

CONFIG = str(ROOT / "configs" / "ppo-maze.yaml")
TINY = [
    "env.n_envs=2",
    "ppo.n_steps=64",
    "ppo.batch_size=64",
    "ppo.n_epochs=1",
    "train.total_timesteps=512",
    "train.eval_every=256",
    "train.eval_episodes=2",
    "train.image_every=0",
    "train.checkpoint_every=256",
    "train.progress_bar=false",
]
LIMIT_S = 20


def sets(items: list[str]) -> list[str]:
    return [x for item in items for x in ("--set", item)]


@dataclass
class Case:
    category: str
    name: str
    argv: Callable[[Path], list[str]]
    expect: str = "error"  # "error": one advrl: error line; "ok": runs (a warning is fine)


class Hang(Exception):
    pass


def run_case(case: Case, work: Path) -> tuple[str, str]:
    """Outcome (clean / traceback / hang / silent) and a short detail."""
    folder = Path(tempfile.mkdtemp(dir=work))
    argv = case.argv(folder)
    err, out = io.StringIO(), io.StringIO()

    def alarm(*_: object) -> None:
        raise Hang

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(LIMIT_S)
    try:
        with (
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(out),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("default")
            try:
                rc = main(argv)
            except SystemExit as exit_:
                rc = int(exit_.code or 0)
    except Hang:
        return "hang", f"over {LIMIT_S} s"
    except Exception as exc:
        return "traceback", f"{type(exc).__name__}: {str(exc)[:80]}"
    finally:
        signal.alarm(0)
    lines = [line for line in err.getvalue().splitlines() if line.startswith("advrl: error:")]
    if case.expect == "error":
        if rc == 2 and len(lines) == 1:
            return "clean", lines[0][len("advrl: error: ") :][:90]
        return "silent", f"exit {rc}, {len(lines)} error lines"
    return ("clean", "ran") if rc == 0 else ("silent", f"exit {rc}: {err.getvalue()[:80]}")


def base_run(work: Path) -> Path:
    argv = ["train", "ppo", "--config", CONFIG, *sets([*TINY, f"out_dir={work}", "name=base"])]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    return work / "base"


def copy_run(run: Path, folder: Path) -> Path:
    target = folder / "run"
    subprocess.run(["cp", "-r", str(run), str(target)], check=True)
    (target / ".lock").unlink(missing_ok=True)
    return target


def cases(run: Path) -> list[Case]:
    def train(*extra: str) -> Callable[[Path], list[str]]:
        return lambda f: [
            "train",
            "ppo",
            "--config",
            CONFIG,
            *sets([*TINY, f"out_dir={f}"]),
            *extra,
        ]

    def config_file(text: str | bytes) -> Callable[[Path], list[str]]:
        def argv(f: Path) -> list[str]:
            path = f / "c.yaml"
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
            return ["train", "ppo", "--config", str(path), "--set", f"out_dir={f}"]

        return argv

    def on_run(change: Callable[[Path], None], *argv: str) -> Callable[[Path], list[str]]:
        def build(f: Path) -> list[str]:
            target = copy_run(run, f)
            change(target)
            return [a.replace("RUN", str(target)).replace("DIR", str(f)) for a in argv]

        return build

    def damage(names: list[str], data: bytes) -> Callable[[Path], None]:
        def change(target: Path) -> None:
            for name in names:
                (target / "checkpoints" / name).write_bytes(data)

        return change

    def foreign(target: Path) -> None:
        torch.save({"something": torch.zeros(1)}, target / "checkpoints" / "step_512.pt")

    def module_env(target: Path) -> None:
        config = yaml.safe_load((target / "config.yaml").read_text())
        config["env"]["id"] = "some_module:Env-v0"
        (target / "config.yaml").write_text(yaml.safe_dump(config))

    def demo_file(arrays: dict[str, np.ndarray] | bytes) -> Callable[[Path], list[str]]:
        def argv(f: Path) -> list[str]:
            path = f / "d.npz"
            if isinstance(arrays, bytes):
                path.write_bytes(arrays)
            else:
                np.savez(path, **arrays)
            return ["demos", "info", str(path)]

        return argv

    def layout(text: str | bytes) -> Callable[[Path], list[str]]:
        def argv(f: Path) -> list[str]:
            path = f / "l.txt"
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
            return ["levels", "show", str(path), "--out", str(f / "l.png")]

        return argv

    good = {
        "obs": np.zeros((3, 2), np.float32),
        "acts": np.zeros(2, np.int64),
        "rews": np.zeros(2, np.float32),
        "lengths": np.array([2]),
        "terminated": np.array([True]),
        "truncated": np.array([False]),
    }
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb.append("env: {kwargs: {bomb: *a8}}")
    eval_run = ["eval", "RUN"]
    return [
        # ------------------------------------------------------------ settings
        Case("settings", "unknown key", train("--set", "ppo.lr=1")),
        Case("settings", "wrong type", train("--set", "ppo.n_steps=many")),
        Case("settings", "float for an int", train("--set", "ppo.n_steps=1.5")),
        Case("settings", "bad choice", train("--set", "env.backend=threads")),
        Case("settings", "negative", train("--set", "env.n_envs=-1")),
        Case("settings", "NaN learning rate", train("--set", "ppo.learning_rate=nan")),
        Case("settings", "inf entropy weight", train("--set", "ppo.ent_coef=.inf")),
        Case("settings", "NaN by flag", train("--ppo.vf_coef", "nan")),
        Case("settings", "bad flag value", train("--ppo.n_steps", "x")),
        Case("settings", "gamma > 1", train("--set", "ppo.gamma=1.5")),
        Case("settings", "1e9 envs", train("--set", "env.n_envs=1000000000")),
        Case("settings", "1e9 steps", train("--set", "ppo.n_steps=1000000000")),
        Case("settings", "huge rollout", train("--set", "env.n_envs=65536", "--set", "ppo.n_steps=100000")),
        Case("settings", "section not a mapping", train("--set", "ppo=3")),
        Case("settings", "override without =", train("--set", "train.seed")),
        Case("settings", "unknown env", train("--set", "env.id=advrl/NoSuch-v0")),
        Case("settings", "bad env kwarg", train("--set", "env.kwargs.colour=red")),
        Case("settings", "name escapes", train("--set", "name=../x")),
        Case("settings", "absolute name", train("--set", "name=/tmp/abs")),
        Case("settings", "old section name", train("--set", "plr.replay_prob=0.3")),
        Case("settings", "advprop without dual bn", train("--set", "adversarial.method=advprop")),
        Case("settings", "recurrent batch", train("--set", "policy.lstm_hidden=8", "--set", "ppo.batch_size=100")),
        Case("config file", "missing", lambda f: ["train", "ppo", "--config", str(f / "none.yaml")]),
        Case("config file", "not YAML", config_file("ppo: [unclosed\n")),
        Case("config file", "a list", config_file("- a\n- b\n")),
        Case("config file", "not UTF-8", config_file("name: caf\xe9\n".encode("latin-1"))),
        Case("config file", "binary", config_file(bytes(range(256)))),
        Case("config file", "alias bomb", config_file("\n".join(bomb))),
        Case("config file", "config for another method", config_file("method: paired\n"), "error"),
        # ------------------------------------------------------------ command line
        Case("arguments", "--eps ,", on_run(lambda t: None, *eval_run, "--attack", "pgd", "--eps", ",")),
        Case("arguments", "--eps 0,nan", on_run(lambda t: None, *eval_run, "--attack", "pgd", "--eps", "0,nan")),
        Case("arguments", "--eps 0,1e300", on_run(lambda t: None, *eval_run, "--attack", "pgd", "--eps", "0,1e300")),
        Case("arguments", "--eps words", on_run(lambda t: None, *eval_run, "--attack", "pgd", "--eps", "a,b")),
        Case("arguments", "--reference inf", on_run(lambda t: None, *eval_run, "--attack", "pgd", "--reference", "inf")),
        Case("arguments", "--episodes 0", on_run(lambda t: None, *eval_run, "--episodes", "0")),
        Case("arguments", "unknown held-out maze", on_run(lambda t: None, *eval_run, "--levels", "Nowhere")),
        Case("arguments", "levels show --out x", lambda f: ["levels", "show", "FourRooms", "--out", str(f / "x")]),
        Case("arguments", "levels show unknown", lambda f: ["levels", "show", "Nowhere"]),
        Case("arguments", "eval a missing folder", lambda f: ["eval", str(f / "none")]),
        Case("arguments", "eval a plain folder", lambda f: ["eval", str(f)]),
        Case("arguments", "demos record to .txt", on_run(lambda t: None, "demos", "record", "--model", "RUN", "--out", "DIR/d.txt")),
        # ------------------------------------------------------------ run folders
        Case("run folder", "truncated newest checkpoint: eval", on_run(damage(["step_512.pt"], b"\0" * 10), *eval_run, "--levels", "FourRooms", "--episodes", "2"), "ok"),
        Case("run folder", "truncated newest checkpoint: resume", on_run(damage(["step_512.pt"], b"\0" * 10), "train", "ppo", "--resume", "RUN", "--train.total_timesteps", "640"), "ok"),
        Case("run folder", "every checkpoint damaged", on_run(damage(["step_256.pt", "step_512.pt"], b"junk"), "train", "ppo", "--resume", "RUN", "--train.total_timesteps", "640")),
        Case("run folder", "foreign checkpoint", on_run(foreign, *eval_run, "--levels", "FourRooms", "--episodes", "2"), "ok"),
        Case("run folder", "module:Env in config.yaml", on_run(module_env, *eval_run)),
        Case("run folder", "resume with other network", on_run(lambda t: None, "train", "ppo", "--resume", "RUN", "--set", "policy.net_arch=[64]")),
        Case("run folder", "config.yaml not UTF-8", on_run(lambda t: (t / "config.yaml").write_bytes(b"\xff\xfe"), *eval_run)),
        Case("run folder", "config.yaml missing", on_run(lambda t: (t / "config.yaml").unlink(), *eval_run)),
        Case("run folder", "no checkpoints", on_run(lambda t: [p.unlink() for p in (t / "checkpoints").iterdir()], *eval_run)),
        # ------------------------------------------------------------ demonstrations
        Case("demos", "missing file", lambda f: ["demos", "info", str(f / "none.npz")]),
        Case("demos", "random bytes", demo_file(os.urandom(300))),
        Case("demos", "empty .npz", demo_file({})),
        Case("demos", "scalar obs", demo_file({**good, "obs": np.array(1.0)})),
        Case("demos", "NaN obs", demo_file({**good, "obs": np.full((3, 2), np.nan, np.float32)})),
        Case("demos", "inf rewards", demo_file({**good, "rews": np.array([0.0, np.inf])})),
        Case("demos", "vector expert_return", demo_file({**good, "expert_return": np.zeros(3)})),
        Case("demos", "ragged lengths", demo_file({**good, "lengths": np.array([5])})),
        Case("demos", "imitation 2-D indices", demo_file({"obs": good["obs"], "acts": good["acts"], "terminal": np.array([True]), "indices": np.zeros((1, 1), np.int64)})),
        Case("demos", "pickled objects", demo_file({**good, "rews": np.array([{}, {}], dtype=object)})),
        Case("demos", "valid file", demo_file(good), "ok"),
        # ------------------------------------------------------------ layouts
        Case("layouts", "1000-wide level", layout(">" + "." * 998 + "G\n")),
        Case("layouts", "5 MB file", layout("." * (5 * 1024 * 1024))),
        Case("layouts", "not UTF-8", layout("; caf\xe9\n>.G\n".encode("latin-1"))),
        Case("layouts", "bad character after comments", layout("; a\n; b\n>.G\n.x.\n")),
        Case("layouts", "ragged rows", layout(">.G\n..\n")),
        Case("layouts", "no goal", layout(">..\n...\n")),
        Case("layouts", "two starts", layout(">.G\n..<\n")),
        Case("layouts", "empty", layout("\n\n")),
        Case("layouts", "unsolvable (a warning)", layout(">#G\n.#.\n"), "ok"),
    ]  # fmt: skip


def kill_trials(n: int, work: Path, rng: random.Random) -> list[dict[str, int]]:
    """SIGKILL real runs at random points, resume, and count progress rows lost before the last
    checkpoint (and rows doubled)."""
    results = []
    for i in range(n):
        out = work / f"kill{i}"
        argv = [sys.executable, "-m", "advrl.cli", "train", "ppo", "--config", CONFIG]
        argv += sets([s for s in TINY if "total" not in s and "checkpoint" not in s])
        argv += sets([f"out_dir={out}", "name=r", "train.total_timesteps=100000000"])
        argv += sets(["train.checkpoint_every=256"])
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ckpts = out / "r" / "checkpoints"
        while not (ckpts.is_dir() and any(ckpts.glob("step_*.pt"))):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 2.0))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        run = out / "r"
        last = max(int(p.stem.split("_")[1]) for p in ckpts.glob("step_*.pt"))
        before = _steps(run)
        target = last + 512
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = main(
                ["train", "ppo", "--resume", str(run), "--train.total_timesteps", str(target)]
            )
        after = _steps(run)
        kept = [s for s in before if s <= last]
        results.append(
            {
                "checkpoint": last,
                "rows_before_kill": len(before),
                "rows_lost_before_checkpoint": len([s for s in kept if s not in after]),
                "rows_doubled": len(after) - len(set(after)),
                "resumed_ok": int(rc == 0 and after[-1] == target),
            }
        )
    return results


def _steps(run: Path) -> list[int]:
    with (run / "tb" / "progress.csv").open(newline="") as f:
        return [int(float(r["time/total_timesteps"])) for r in csv.DictReader(f)]


def main_report() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the markdown table here too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    run = base_run(work)
    rows, outcomes = [], Counter()
    by_category: dict[str, Counter[str]] = {}
    for case in cases(run):
        outcome, detail = run_case(case, work)
        outcomes[outcome] += 1
        by_category.setdefault(case.category, Counter())[outcome] += 1
        rows.append((case.category, case.name, outcome, detail))
    kills = kill_trials(args.kills, work, random.Random(args.seed))
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| category | inputs | clean one-line error (or ran, where it should) | traceback | hang | silent |",
        "|---|---|---|---|---|---|",
    ]
    for category, counts in by_category.items():
        lines.append(
            f"| {category} | {sum(counts.values())} | {counts['clean']} | {counts['traceback']} "
            f"| {counts['hang']} | {counts['silent']} |"
        )
    lines.append(
        f"| **all** | {sum(outcomes.values())} | {outcomes['clean']} | {outcomes['traceback']} | "
        f"{outcomes['hang']} | {outcomes['silent']} |"
    )
    lines += ["", "| category | input | outcome | what it said |", "|---|---|---|---|"]
    lines += [f"| {c} | {n} | {o} | {d.replace('|', '/')} |" for c, n, o, d in rows]
    lines += [
        "",
        f"Kills: {len(kills)} runs killed with SIGKILL at random points after their first "
        "checkpoint, then resumed.",
        "",
        "| checkpoint step | rows before the kill | rows lost before the checkpoint | rows doubled | resumed to the end |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {k['checkpoint']} | {k['rows_before_kill']} | {k['rows_lost_before_checkpoint']} | "
        f"{k['rows_doubled']} | {'yes' if k['resumed_ok'] else 'NO'} |"
        for k in kills
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    print(json.dumps({"outcomes": dict(outcomes)}))
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main_report()
