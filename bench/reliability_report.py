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
GOOD_DEMOS = {
    "obs": np.zeros((3, 2), np.float32),
    "acts": np.zeros(2, np.int64),
    "rews": np.zeros(2, np.float32),
    "lengths": np.array([2]),
    "terminated": np.array([True]),
    "truncated": np.array([False]),
}
"""A valid demonstrations file's arrays (one episode of 2 steps), which cases then break."""


def sets(items: list[str]) -> list[str]:
    return [x for item in items for x in ("--set", item)]


@dataclass
class Case:
    category: str
    name: str
    argv: Callable[[Path], list[str]]
    expect: str = "error"  # "error": one advrl: error line; "ok": runs; "either": one of the two
    check: Callable[[Path], str | None] | None = None
    """After the command, in its folder: what went wrong that the exit status does not show
    (``"unsafe: ..."``: a write outside the run folder; ``"imported: ..."``: code ran)."""


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
    if case.check is not None:
        problem = case.check(folder)
        if problem is not None:
            kind, _, detail = problem.partition(": ")
            return kind, detail
    lines = [line for line in err.getvalue().splitlines() if line.startswith("advrl: error:")]
    if case.expect == "either":
        if rc == 0 or (rc == 2 and len(lines) == 1):
            return "clean", lines[0][len("advrl: error: ") :][:90] if lines else "ran"
        return "silent", f"exit {rc}, {len(lines)} error lines"
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


def train(*extra: str) -> Callable[[Path], list[str]]:
    """``advrl train ppo`` on the tiny maze config, in the case's folder, with ``extra``."""
    return lambda f: ["train", "ppo", "--config", CONFIG, *sets([*TINY, f"out_dir={f}"]), *extra]


def cases(run: Path) -> list[Case]:

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

    good = GOOD_DEMOS
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


def cause_cases(run: Path) -> list[Case]:
    """The audit by cause (docs/reliability.md, "By cause"): inputs of each kind beyond the
    catalogue above, built from a few rules (every file a run folder's commands write, every
    source an env id can come from, every size, ...) rather than listed by hand."""
    precious = b"precious"

    def copied(f: Path) -> Path:
        return copy_run(run, f)

    # -- 1. writes through links: a planted link to a file (or folder) outside the run
    def linked(target: str, *argv: str, folder: bool = False) -> tuple[Callable, Callable]:
        def build(f: Path) -> list[str]:
            t = copied(f)
            outside = f / "outside"
            if folder:
                outside.mkdir()
                (outside / "keep.txt").write_bytes(precious)
            else:
                outside.write_bytes(precious)
            path = t / target
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir() and not path.is_symlink():
                subprocess.run(["rm", "-rf", str(path)], check=True)
            else:
                path.unlink(missing_ok=True)
            path.symlink_to(outside, target_is_directory=folder)
            return [a.replace("RUN", str(t)).replace("DIR", str(f)) for a in argv]

        def check(f: Path) -> str | None:
            outside = f / "outside"
            if folder:
                names = sorted(p.name for p in outside.iterdir())
                if names != ["keep.txt"] or (outside / "keep.txt").read_bytes() != precious:
                    return f"unsafe: wrote into {target}/ -> outside ({names})"
            elif not outside.is_file() or outside.read_bytes() != precious:
                return f"unsafe: wrote through {target} -> outside"
            return None

        return build, check

    resume = ("train", "ppo", "--resume", "RUN", "--train.total_timesteps", "768")
    evaluate = ("eval", "RUN", "--levels", "FourRooms", "--episodes", "2")
    enjoy = ("enjoy", "RUN", "--level", "FourRooms")
    plot = ("plot", "RUN")
    link_cases = [
        *[(t, resume, False) for t in (".lock", "tb/progress.csv", "model.zip", "summary.json",
                                       "config.yaml", "checkpoints/step_768.pt",
                                       "checkpoints/.step_768.pt.tmp", "checkpoints/step_512.pt")],
        *[(t, resume, True) for t in ("tb", "checkpoints")],
        ("eval-FourRooms.csv", evaluate, False), ("tb/progress.csv", evaluate, False),
        ("tb", evaluate, True), ("videos/FourRooms.gif", enjoy, False), ("videos", enjoy, True),
        ("plots/learning_curves.png", plot, False), ("plots", plot, True),
    ]  # fmt: skip
    out: list[Case] = []
    for target, argv, folder in link_cases:
        build, check = linked(target, *argv, folder=folder)
        out.append(Case("1 links", f"{argv[0]}: {target} a link", build, "either", check))

    def run_is_link(*argv: str) -> Callable[[Path], list[str]]:
        def build(f: Path) -> list[str]:
            t = copied(f)
            link = f / "linked-run"
            link.symlink_to(t, target_is_directory=True)
            return [a.replace("RUN", str(link)) for a in argv]

        return build

    for argv in (resume, evaluate, enjoy, plot):
        out.append(Case("1 links", f"{argv[0]}: the run folder a link", run_is_link(*argv)))

    # -- 2. code imported from data: a module on the path that leaves a mark when imported
    def evil(f: Path, form: str) -> str:
        name = f"evil_{f.name.replace('-', '_').replace('.', '_')}"
        (f / f"{name}.py").write_text(f"open({str(f / 'IMPORTED')!r}, 'w').write('x')\n")
        sys.path.insert(0, str(f))
        return form.replace("MOD", name)

    def imported(f: Path) -> str | None:
        return "imported: the module ran" if (f / "IMPORTED").exists() else None

    def from_source(source: str, form: str) -> Callable[[Path], list[str]]:
        def build(f: Path) -> list[str]:
            env_id = evil(f, form)
            if source == "--config":
                path = f / "c.yaml"
                path.write_text(yaml.safe_dump({"env": {"id": env_id}, "out_dir": str(f)}))
                return ["train", "ppo", "--config", str(path)]
            if source == "--set":
                return ["train", "ppo", "--config", CONFIG, "--set", f"env.id={env_id}"]
            if source == "--env.id":
                return ["train", "ppo", "--config", CONFIG, "--env.id", env_id]
            if source == "expert --env":
                return ["expert", "train", "--env", env_id, "--set", f"out_dir={f}"]
            if source == "levels show":
                return ["levels", "show", env_id]
            if source == "sweep":
                path = f / "c.yaml"
                path.write_text(yaml.safe_dump({"env": {"id": env_id}}))
                return ["sweep", "--config", str(path), "--seeds", "0", "--out", str(f)]
            t = copied(f)  # a run folder's config.yaml
            config = yaml.safe_load((t / "config.yaml").read_text())
            config["env"]["id"] = env_id
            (t / "config.yaml").write_text(yaml.safe_dump(config))
            command = {
                "resume": resume,
                "eval": evaluate,
                "enjoy": enjoy,
                "demos record": ("demos", "record", "--model", "RUN", "--out", "DIR/d.npz"),
            }
            return [a.replace("RUN", str(t)).replace("DIR", str(f)) for a in command[source]]  # fmt: skip

        return build

    sources = ["--config", "--set", "--env.id", "expert --env", "levels show", "sweep", "resume",
               "eval", "enjoy", "demos record"]  # fmt: skip
    for source in sources:
        for form in ("MOD:Env-v0", "MOD:Env", "MOD.sub:Env-v0"):
            out.append(Case("2 imports", f"{source}: {form}", from_source(source, form),
                            "error", imported))  # fmt: skip

    # -- 3. sizes without bounds

    for item in ("policy.lstm_hidden=100000000", "policy.net_arch=[1000000000]",
                 "policy.net_arch=[64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64]",
                 "policy.conv_filters=100000000", "env.kwargs.size=100000",
                 "env.kwargs.agent_view_size=999", "env.kwargs.num_walls=1000000000",
                 "train.seed=1180591620717411303424", "train.seed=-1",
                 "ppo.n_epochs=1000000000000",
        "env.kwargs.max_steps=1000000000000",
        "train.total_timesteps=-5",
        "ppo.batch_size=10000000", "env.n_envs=100000000"):  # fmt: skip
        out.append(Case("3 sizes", item[:48], train("--set", item)))

    def deep_yaml(f: Path) -> list[str]:
        path = f / "c.yaml"
        path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
        return ["train", "ppo", "--config", str(path)]

    out.append(Case("3 sizes", "YAML nested 5,000 deep", deep_yaml))
    out.append(
        Case(
            "3 sizes",
            "--set nested 5,000 deep",
            train("--set", "env.kwargs.x=" + "[" * 5000 + "]" * 5000),
        )
    )
    out.append(
        Case(
            "3 sizes",
            "sweep of 2 million seeds",
            lambda f: ["sweep", "--config", CONFIG, "--seeds", "0-2000000", "--out", str(f)],
        )
    )
    out.append(
        Case(
            "3 sizes",
            "sweep of 20,000 trials",
            lambda f: [
                "sweep",
                "--config",
                CONFIG,
                "--seeds",
                "0-9",
                "--grid",
                "ppo.learning_rate=" + ",".join(f"{1e-4 + i * 1e-7:.7f}" for i in range(2000)),
                "--out",
                str(f),
            ],
        )
    )

    def huge_demos(f: Path) -> list[str]:
        path = f / "d.npz"
        np.savez(
            path,
            obs=np.zeros((3, 2), np.float32),
            acts=np.zeros(2, np.int64),
            rews=np.zeros(2, np.float32),
            lengths=np.array([2]),
            terminated=np.array([True]),
            truncated=np.array([False]),
        )
        data = path.read_bytes().replace(b"'shape': (3, 2)", b"'shape': (1000000000000, 2)")
        path.write_bytes(data)
        return ["demos", "info", str(path)]

    out.append(Case("3 sizes", "demos with a rewritten array header", huge_demos))

    # -- 4. what a dependency would reject, in advrl's words
    for item in ("ppo.batch_size=1", "ppo.device=tpu", "ppo.device=cuda:99", "ppo.learning_rate=-1",
                 "ppo.clip_range=-0.2", "ppo.gae_lambda=2", "ppo.n_epochs=0", "train.eval_levels=[Nowhere]",  # (a PPO run has none: unknown key)
                 "ppo.max_grad_norm=-1", "env.backend=batched"):  # fmt: skip
        out.append(
            Case(
                "4 dependency rules",
                item,
                train("--set", item),
                "either" if item == "env.backend=batched" else "error",
            )
        )
    out.append(
        Case(
            "4 dependency rules",
            "n_steps x envs = 1",
            train("--set", "env.n_envs=1", "--set", "ppo.n_steps=1", "--set", "ppo.batch_size=2"),
        )
    )
    out.append(Case("4 dependency rules", "bad YAML in a flag", train("--env.kwargs", "{a: [1")))
    out.append(
        Case("4 dependency rules", "eval --levels ''", on_copy(run, "eval", "RUN", "--levels", ""))
    )
    for cpus in ("0", "-1"):
        sweep = ["sweep", "--config", CONFIG, "--seeds", "0", "--cpus-per-trial", cpus]
        out.append(
            Case(
                "4 dependency rules",
                f"sweep --cpus-per-trial {cpus}",
                lambda f, sweep=sweep: [*sweep, "--out", str(f)],
            )
        )

    def method_list(f: Path) -> list[str]:
        path = f / "c.yaml"
        path.write_text("method: [dr]\n")
        return ["train", "dr", "--config", str(path)]

    out.append(Case("4 dependency rules", "method: [dr]", method_list))

    # -- 5. the file system's answers
    def out_dir_file(f: Path) -> list[str]:
        (f / "file").write_text("x")
        return [*train("--set", f"out_dir={f / 'file'}")(f)[:-2], "--set", f"out_dir={f / 'file'}"]

    out.append(Case("5 file system", "out_dir is a file", out_dir_file))

    def under_a_file(f: Path) -> list[str]:
        (f / "file").write_text("x")
        return ["train", "ppo", "--config", CONFIG, *sets([*TINY, f"out_dir={f / 'file' / 'sub'}"])]

    out.append(Case("5 file system", "out_dir under a file", under_a_file))
    out.append(
        Case("5 file system", "a name of 300 characters", train("--set", "name=" + "n" * 300))
    )
    out.append(
        Case(
            "5 file system",
            "out_dir in /proc",
            lambda f: [
                "train",
                "ppo",
                "--config",
                CONFIG,
                *sets([*TINY, "out_dir=/proc/advrl-runs"]),
            ],
        )
    )
    out.append(
        Case(
            "5 file system",
            "demos record to a folder",
            on_copy(run, "demos", "record", "--model", "RUN", "--out", "DIR"),
        )
    )

    # -- 6. silent wrong results
    def yaml_text(text: str, *extra: str) -> Callable[[Path], list[str]]:
        def build(f: Path) -> list[str]:
            path = f / "c.yaml"
            path.write_text(text)
            return ["train", "ppo", "--config", str(path), "--set", f"out_dir={f}", *extra]

        return build

    out.append(
        Case(
            "6 silent results",
            "a section twice",
            yaml_text("ppo: {n_steps: 64}\nppo: {batch_size: 64}\n"),
        )
    )
    out.append(
        Case(
            "6 silent results",
            "a key twice in --set",
            train("--set", "env.kwargs={size: 7, size: 9}"),
        )
    )
    out.append(Case("6 silent results", "cuda without a GPU", train("--set", "ppo.device=cuda")))
    out.append(
        Case(
            "6 silent results",
            "--config with --resume",
            on_copy(run, "train", "ppo", "--resume", "RUN", "--config", CONFIG),
        )
    )
    out.append(
        Case(
            "6 silent results",
            "emptied config.yaml",
            on_copy(run, "eval", "RUN", before=lambda t: (t / "config.yaml").write_text("")),
        )
    )
    out.append(
        Case(
            "6 silent results",
            "--resume to elsewhere",
            on_copy(run, "train", "ppo", "--resume", "RUN", "--set", "name=other"),
        )
    )
    out.append(
        Case(
            "6 silent results",
            "duplicate --grid keys",
            lambda f: [
                "sweep",
                "--config",
                CONFIG,
                "--grid",
                "ppo.n_steps=64,128",
                "--grid",
                "ppo.n_steps=32",
                "--out",
                str(f),
            ],
        )
    )

    def garbled(kind: str) -> Callable[[Path], None]:
        def change(t: Path) -> None:
            path = t / "tb" / "progress.csv"
            lines = path.read_text().splitlines()
            if kind == "header":
                path.write_bytes(b"\xff\xfe" + path.read_bytes())
            else:
                cells = lines[2].split(",")
                cells[
                    next(
                        i for i, k in enumerate(lines[0].split(",")) if k == "time/total_timesteps"
                    )
                ] = "2x6"
                lines[2] = ",".join(cells)
                path.write_text("\n".join(lines) + "\n")

        return change

    def kept_aside(f: Path) -> str | None:
        found = list(f.glob("run/tb/progress.damaged.csv"))
        return None if found else "silent: the damaged history was not kept aside"

    for kind in ("header", "row"):
        out.append(
            Case(
                "6 silent results",
                f"garbled progress.csv {kind}",
                on_copy(run, *resume, before=garbled(kind)),
                "ok",
                kept_aside,
            )
        )

    def flipped(t: Path) -> None:
        path = t / "checkpoints" / "step_512.pt"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))

    out.append(
        Case(
            "6 silent results",
            "flipped bytes in the newest checkpoint",
            on_copy(run, *evaluate, before=flipped),
            "ok",
        )
    )
    complex_demos = {**GOOD_DEMOS, "obs": np.ones((3, 2), np.complex64)}

    def complex_file(f: Path) -> list[str]:
        np.savez(f / "d.npz", **complex_demos)
        return ["demos", "info", str(f / "d.npz")]

    out.append(Case("6 silent results", "complex-valued demo observations", complex_file))

    # -- the features since the by-cause audit, each by the cause it could fall under
    for item in ("env.normalize.obs=true", "adversarial.method=atla", "adversarial.eps_units=raw",
                 "adversarial={method: atla, term: {adversary_lr: 0}}",
                 "env.normalize.clip_obs=-1"):  # fmt: skip
        out.append(Case("4 dependency rules", item, train("--set", item)))
    attack = ("eval", "RUN", "--episodes", "1", "--no-plot", "--eps", "0,0.1")
    for extra in (("--attack", "rs", "--rs-steps", "0"), ("--attack", "learned"),
                  ("--attack", "learned", "--adversary", "RUN"),
                  ("--attack", "pgd", "--eps-units", "normalized", "--adversary", "DIR")):  # fmt: skip
        out.append(Case("4 dependency rules", " ".join(extra), on_copy(run, *attack, *extra)))
    for argv in (["--import", "no_such_module_here", "envs"], ["--import"], ["--import", "x.py"]):
        out.append(Case("2 imports", " ".join(argv), lambda f, a=argv: list(a)))
    victim = ["train", "ppo", "--config", str(ROOT / "configs" / "attacker.yaml")]
    out.append(Case("4 dependency rules", "an attacker with no victim", lambda f: [*victim]))
    out.append(
        Case(
            "4 dependency rules",
            "an attacker of a folder that is no run",
            lambda f: [*victim, "--set", f"env.kwargs.victim={f}"],
        )
    )
    return out


def on_copy(
    run: Path, *argv: str, before: Callable[[Path], None] | None = None
) -> Callable[[Path], list[str]]:
    """A command on a copy of the base run (``RUN``), in the case's folder (``DIR``)."""

    def build(f: Path) -> list[str]:
        t = copy_run(run, f)
        if before is not None:
            before(t)
        return [a.replace("RUN", str(t)).replace("DIR", str(f)) for a in argv]

    return build


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


UED_TINY = [
    "env.num_levels=4",
    "protagonist.ppo.n_steps=32",
    "protagonist.ppo.batch_size=128",
    "protagonist.ppo.n_epochs=1",
    "antagonist.ppo.n_steps=32",
    "antagonist.ppo.batch_size=128",
    "antagonist.ppo.n_epochs=1",
    "adversary.ppo.batch_size=56",
    "adversary.ppo.n_epochs=1",
    "protagonist.policy.conv_filters=4",
    "antagonist.policy.conv_filters=4",
    "adversary.policy.conv_filters=4",
    "train.eval_every=0",
    "train.image_every=0",
    "train.checkpoint_every=0",
    "train.progress_bar=false",
]
"""The small-maze UED configs, tiny: 4 levels, 32-step rollouts, checkpoints only on Ctrl-C."""


def interrupt_trials(work: Path, rng: random.Random) -> list[tuple[str, str, str]]:
    """Ctrl-C (SIGINT) sent to real ``advrl train`` processes of each method family at random
    points, once or twice in a row, and to ``advrl eval``; then ``--resume``. Clean: exit 130,
    no traceback, one line naming the way on (train) and a resume that reaches its target with
    every row up to the last checkpoint kept and none doubled. Returns (name, outcome, detail)."""
    out: list[tuple[str, str, str]] = []
    ppo = ["train", "ppo", "--config", CONFIG]
    ppo += sets([s for s in TINY if "total" not in s and "checkpoint" not in s])
    ppo += sets(["train.checkpoint_every=0", "train.eval_every=0"])
    trials = [
        ("ppo", ppo, 1, True),
        ("ppo", ppo, 2, True),
        ("ppo", ppo, 1, False),
        ("dr", ["train", "dr", "--config", str(ROOT / "configs/dr-maze-small.yaml")], 1, True),
        (
            "paired",
            ["train", "paired", "--config", str(ROOT / "configs/paired-maze-small.yaml")],
            1,
            True,
        ),
        (
            "paired",
            ["train", "paired", "--config", str(ROOT / "configs/paired-maze-small.yaml")],
            2,
            True,
        ),
    ]
    for i, (method, base, signals, after_a_row) in enumerate(trials):
        name = (
            f"{method}: {'Ctrl-C twice' if signals == 2 else 'Ctrl-C'} "
            f"{'at a random point after its first row' if after_a_row else 'while it starts'}"
        )
        sizes = UED_TINY if method != "ppo" else []
        argv = [*base, *sets([*sizes, f"out_dir={work / f'int{i}'}", "name=r"])]
        argv += sets(["train.total_timesteps=100000000"])
        run = work / f"int{i}" / "r"
        out.append((name, *_interrupted(argv, run, signals, after_a_row, rng)))
    evaluate = ["eval", str(work / "int0" / "r"), "--episodes", "100000"]
    out.append(("eval: Ctrl-C while it plays", *_interrupted(evaluate, None, 1, False, rng)))
    return out


def _interrupted(
    argv: list[str], run: Path | None, signals: int, after_a_row: bool, rng: random.Random
) -> tuple[str, str]:
    """One Ctrl-C trial (see :func:`interrupt_trials`): its outcome and a short detail."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "advrl.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=_default_sigint,  # (a report started in the background ignores Ctrl-C)
    )
    if after_a_row and run is not None:
        deadline = time.time() + 120
        while time.time() < deadline and len(_rows(run)) < 1:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
    else:
        time.sleep(rng.uniform(0.5, 2.5))
    for k in range(signals):
        process.send_signal(signal.SIGINT)
        if k + 1 < signals:
            time.sleep(rng.uniform(0.0, 0.3))
    try:
        said, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return "hang", "still running 120 s after Ctrl-C"
    if "Traceback" in said:
        return "traceback", said.strip().splitlines()[-1][:80]
    if process.returncode != 130:
        return "silent", f"exit {process.returncode}"
    if run is None:  # a command that writes nothing: it only has to stop cleanly
        return "clean", said.strip().splitlines()[-1][:90]
    ckpts = run / "checkpoints"
    steps = [int(p.stem.split("_")[1]) for p in ckpts.glob("step_*.pt")] if ckpts.is_dir() else []
    if not steps:  # stopped before anything was trained: a fresh start is the way on
        return "clean", "stopped before its first update; " + said.strip().splitlines()[-1][:60]
    last, before = max(steps), _rows(run)
    if signals == 1 and (not before or int(float(before[-1])) != last):
        return "silent", f"no checkpoint at its last row's step ({last})"
    more = f"train.total_timesteps={last + 256}"
    resumed = subprocess.run(
        [sys.executable, "-m", "advrl.cli", "train", argv[1], "--resume", str(run), "--set", more],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    after = _rows(run)
    kept = [s for s in before if int(float(s)) <= last]
    if resumed.returncode != 0 or after[: len(kept)] != kept or len(set(after)) != len(after):
        return "silent", f"resume exit {resumed.returncode}, {len(kept)} rows kept of {len(after)}"
    line = next((x for x in said.splitlines() if "--resume" in x), said.strip().splitlines()[-1])
    return "clean", f"{len(after) - len(kept)} rows after the resume; said: {line.strip()[:70]}"


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, which a shell's background job does not inherit
    (it starts with SIGINT ignored, and so would every process it starts)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _rows(run: Path) -> list[str]:
    """The step of each training row of a run's progress.csv (PPO or UED), none if absent."""
    path = run / "tb" / "progress.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if not r.get("eval/final")]
    return [r.get("time/protagonist_steps") or r["time/total_timesteps"] for r in rows]


def _steps(run: Path) -> list[int]:
    """The steps of a run's training rows (not its final evaluation's, marked ``eval/final``)."""
    with (run / "tb" / "progress.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if not r.get("eval/final")]
    return [int(float(r["time/total_timesteps"])) for r in rows]


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
    for case in [*cases(run), *cause_cases(run)]:
        outcome, detail = run_case(case, work)
        outcomes[outcome] += 1
        by_category.setdefault(case.category, Counter())[outcome] += 1
        rows.append((case.category, case.name, outcome, detail))
    for name, outcome, detail in interrupt_trials(work, random.Random(args.seed)):
        outcomes[outcome] += 1
        by_category.setdefault("7 Ctrl-C", Counter())[outcome] += 1
        rows.append(("7 Ctrl-C", name, outcome, detail))
    kills = kill_trials(args.kills, work, random.Random(args.seed))
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| category | inputs | clean one-line error (or ran, where it should) | traceback | hang | silent | unsafe | imported |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for category, counts in by_category.items():
        lines.append(
            f"| {category} | {sum(counts.values())} | {counts['clean']} | {counts['traceback']} "
            f"| {counts['hang']} | {counts['silent']} | {counts['unsafe']} | {counts['imported']} |"
        )
    lines.append(
        f"| **all** | {sum(outcomes.values())} | {outcomes['clean']} | {outcomes['traceback']} | "
        f"{outcomes['hang']} | {outcomes['silent']} | {outcomes['unsafe']} | "
        f"{outcomes['imported']} |"
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
