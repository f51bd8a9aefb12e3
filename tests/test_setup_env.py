"""Setup's environment, built as the README's first command builds it (no test extras), runs the
main job and the whole Quick tour (with short budgets), each command as a user types it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from test_readme import README, ROOT, quick_tour, shortened


def setup_command() -> list[list[str]]:
    """The first command of the README's Setup, split at ``&&``."""
    text = README.read_text().split("## Setup", 1)[1]
    block = re.search(r"```bash\n(.*?)```", text, flags=re.S)
    assert block is not None
    first = block.group(1).splitlines()[0]
    return [shlex.split(part) for part in first.split("&&")]


def test_setups_environment_runs_the_main_job_and_the_quick_tour(tmp_path: Path) -> None:
    steps = setup_command()
    assert steps[0] == ["python3", "-m", "venv", ".venv"]
    installs, main_job = steps[1:-1], steps[-1]
    assert [s[:2] for s in installs] == [[".venv/bin/pip", "install"]] * len(installs)
    assert main_job[0] == ".venv/bin/advrl"
    assert not any("[" in word for s in installs for word in s)  # no extras: what a user gets
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    for words in installs:  # `-e .` from the repository root, as the README runs it
        command = [str(venv / "bin" / "pip"), *words[1:], "-q"]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(ROOT / "configs", work / "configs")
    advrl = str(venv / "bin" / "advrl")
    commands = [main_job, *quick_tour()[:-1]]  # the last is `tensorboard`, a server
    for words in commands:
        args = shortened(words)
        done = subprocess.run(
            [advrl, *args], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, (words, done.stderr[-2000:])
    assert (work / "plots" / "learning_curves.png").is_file()  # `advrl plot` (matplotlib)
    assert (work / "labyrinth.gif").is_file() and (work / "demos" / "cartpole.npz").is_file()
    for run in ("ppo-maze", "dr", "paired", "robust", "expert-cartpole"):
        assert (work / "runs" / run / "summary.json").is_file(), run
    assert (
        len(list((work / "runs").glob("Maze-Walls0to60-v0-sfl-seed0-*/summary.json"))) == 1
    )  # the main job
    # the environment has no test extras: pytest is not in it
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import pytest"], env=env)
    assert probe.returncode != 0
