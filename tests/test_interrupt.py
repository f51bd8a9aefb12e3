"""Ctrl-C during `advrl train` stops at the next safe point with a checkpoint, and `--resume`
continues as if nothing happened: no progress row lost or doubled, the same final networks."""

from __future__ import annotations

import csv
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from test_imitation_cli import demos_file, expert_run, imitation_config  # noqa: F401 (fixtures)
from test_ued_cli import final_params, tiny_config


def rows(run: Path) -> list[str]:
    with (run / "tb" / "progress.csv").open(newline="") as f:
        return [
            r.get("time/protagonist_steps") or r["time/total_timesteps"] for r in csv.DictReader(f)
        ]


def advrl(*args: str) -> subprocess.Popen[str]:
    """``advrl`` in a process with Ctrl-C's default action (the test run may have been started
    as a background job, which ignores SIGINT, and its children would inherit that)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "advrl.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def interrupt_after(
    proc: subprocess.Popen[str], progress: Path, n_rows: int, twice: bool = False
) -> str:
    """Send SIGINT (``twice``: two, 0.05 s apart) once ``progress`` has more than ``n_rows``
    lines; returns what the process said."""
    deadline = time.time() + 120
    while time.time() < deadline:
        if progress.is_file() and len(progress.read_text().splitlines()) > n_rows:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    if twice:
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    return out


def ppo_config(out: Path) -> dict[str, Any]:
    """configs/ppo-maze.yaml, tiny: 2 envs of 32 steps per iteration."""
    config = yaml.safe_load((Path(__file__).parents[1] / "configs" / "ppo-maze.yaml").read_text())
    config["env"]["n_envs"] = 2
    config["ppo"].update(n_steps=32, batch_size=64, n_epochs=1)
    config["policy"].update(net_arch=[8], conv_filters=4)
    config["train"].update(
        total_timesteps=100_000,
        eval_every=0,
        checkpoint_every=0,
        image_every=0,
        eval_episodes=2,
        progress_bar=False,
    )
    return {**config, "out_dir": str(out), "name": "ppo"}


def cut_resumed_and_whole(
    tmp_path: Path, method: str, config: dict[str, Any], more: int
) -> tuple[Path, list[str], int]:
    """Train ``config`` and send SIGINT after 3 rows (it must stop with a checkpoint at its last
    row's step), resume it ``more`` steps further, and train the same budget uninterrupted in
    ``tmp_path/whole``; returns the run, its rows at the cut, and the budget."""
    (tmp_path / "cut.yaml").write_text(yaml.safe_dump(config))
    run = Path(config["out_dir"]) / method
    proc = advrl("train", method, "--config", str(tmp_path / "cut.yaml"))
    out = interrupt_after(proc, run / "tb" / "progress.csv", 3)
    assert proc.returncode == 130, out
    assert "with a checkpoint; continue with advrl train" in out and "--resume" in out
    cut = rows(run)
    step = int(float(cut[-1]))
    assert (run / "checkpoints" / f"step_{step}.pt").is_file()  # at the last row's step
    total = step + more
    resumed = advrl(
        "train", method, "--resume", str(run), "--set", f"train.total_timesteps={total}"
    )
    assert resumed.wait(timeout=300) == 0
    whole = {**config, "out_dir": str(tmp_path / "whole")}
    whole["train"] = {**config["train"], "total_timesteps": total}
    (tmp_path / "whole.yaml").write_text(yaml.safe_dump(whole))
    assert advrl("train", method, "--config", str(tmp_path / "whole.yaml")).wait(timeout=300) == 0
    return run, cut, total


@pytest.mark.parametrize("method", ["dr", "paired", "ppo"])
def test_ctrl_c_leaves_a_checkpoint_and_resume_continues_exactly(
    tmp_path: Path, method: str
) -> None:
    config = (
        ppo_config(tmp_path / "cut")
        if method == "ppo"
        else tiny_config(
            method,
            tmp_path / "cut",
            total_timesteps=100_000,
            eval_every=0,
            checkpoint_every=0,
            image_every=0,
            progress_bar=False,
        )
    )
    run, _, _ = cut_resumed_and_whole(tmp_path, method, {**config, "name": method}, 2 * 64)
    assert rows(run) == rows(tmp_path / "whole" / method)  # none lost, none doubled
    if method == "ppo":  # its envs' episodes in progress are not in a checkpoint: a resumed
        return  # PPO run starts new ones, so only its history is the uninterrupted run's
    a, b = final_params(tmp_path / "whole" / method), final_params(run)  # UED: exactly
    for role in a:
        for name, tensor in a[role].items():
            torch.testing.assert_close(b[role][name], tensor, rtol=0, atol=0, msg=f"{role}.{name}")


@pytest.mark.parametrize("method", ["gail", "asaf"])
def test_ctrl_c_in_imitation_leaves_a_checkpoint_and_resume_keeps_the_history(
    tmp_path: Path,
    method: str,
    demos_file: Path,  # noqa: F811 (the fixture)
) -> None:
    """GAIL (PPO rollouts of 2 x 16 steps) and ASAF (rounds of 2 whole episodes): Ctrl-C stops
    at the next safe point with a checkpoint; the resumed run's rows are the uninterrupted run's."""
    train = {"total_timesteps": 100_000, "eval_every": 0, "checkpoint_every": 0}
    (tmp_path / "cut").mkdir()
    cut_path = imitation_config(
        tmp_path / "cut", method, demos_file, name=method, train={**train, "progress_bar": False}
    )
    config = yaml.safe_load(cut_path.read_text())
    run, cut, total = cut_resumed_and_whole(tmp_path, method, config, 64)
    after = rows(run)
    assert after[: len(cut)] == cut  # none lost
    steps = [float(s) for s in after[:-1]]  # (the last row is the final evaluation's)
    assert all(b > a for a, b in itertools.pairwise(steps))  # none doubled
    assert steps[-1] >= total
    if method == "gail":  # fixed rollouts of 2 x 16 steps: exactly the uninterrupted rows
        assert after == rows(tmp_path / "whole" / method)
    # (ASAF's rounds are whole episodes, whose lengths a resumed run's new episodes change)


def test_ctrl_c_while_the_libraries_load_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C at any point after the package itself is imported (torch, SB3 and the command's
    modules still loading, the run being built, training) ends with one line and status 130."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import advrl"], check=True)
    package = time.perf_counter() - start  # (the part before advrl's own code runs)
    config = ppo_config(tmp_path)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    for k in range(12):  # (inside torch's import, an unheld Ctrl-C aborts the process: -6)
        proc = advrl("train", "ppo", "--config", str(tmp_path / "c.yaml"), "--set", f"name=r{k}")
        time.sleep(package + 0.15 * k)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 130 and "Traceback" not in out, (k, out)
        assert out.splitlines()[-1] == "advrl: interrupted" or "--resume" in out, (k, out)


def test_ctrl_c_twice_stops_at_once_and_the_run_resumes(tmp_path: Path) -> None:
    """A second Ctrl-C right after the first stops at once (status 130, no traceback, never a
    process killed by the signal); the run resumes from its last checkpoint, no row doubled."""
    config = {**ppo_config(tmp_path), "name": "r"}
    config["train"]["checkpoint_every"] = 64
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "r"
    proc = advrl("train", "ppo", "--config", str(tmp_path / "c.yaml"))
    said = interrupt_after(proc, run / "tb" / "progress.csv", 3, twice=True)
    assert proc.returncode == 130 and "Traceback" not in said
    last = max(int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("step_*.pt"))
    before = [s for s in rows(run) if int(float(s)) <= last]
    resumed = advrl(
        "train", "ppo", "--resume", str(run), "--set", f"train.total_timesteps={last + 128}"
    )
    assert resumed.wait(timeout=300) == 0
    after = rows(run)
    assert after[: len(before)] == before and len(set(after)) == len(after)
