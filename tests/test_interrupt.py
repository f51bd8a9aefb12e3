"""Ctrl-C during `advrl train` stops at the next safe point with a checkpoint, and `--resume`
continues as if nothing happened: no progress row lost or doubled, the same final networks."""

from __future__ import annotations

import csv
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
from test_ued_cli import final_params, tiny_config


def rows(run: Path) -> list[str]:
    with (run / "tb" / "progress.csv").open(newline="") as f:
        return [
            r.get("time/protagonist_steps") or r["time/total_timesteps"] for r in csv.DictReader(f)
        ]


def advrl(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "advrl.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def interrupt_after(proc: subprocess.Popen[str], progress: Path, n_rows: int) -> str:
    deadline = time.time() + 120
    while time.time() < deadline:
        if progress.is_file() and len(progress.read_text().splitlines()) > n_rows:
            break
        time.sleep(0.2)
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
    (tmp_path / "cut.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "cut" / method
    proc = advrl("train", method, "--config", str(tmp_path / "cut.yaml"))
    out = interrupt_after(proc, run / "tb" / "progress.csv", 3)
    assert proc.returncode == 130, out
    assert "with a checkpoint; continue with advrl train" in out and "--resume" in out
    cut = rows(run)
    step = int(float(cut[-1]))
    assert (run / "checkpoints" / f"step_{step}.pt").is_file()  # at the last row's step
    total = step + 2 * 64  # two more iterations (64 steps each, for every config here)
    resumed = advrl(
        "train", method, "--resume", str(run), "--set", f"train.total_timesteps={total}"
    )
    assert resumed.wait(timeout=300) == 0
    whole_config = {**config, "out_dir": str(tmp_path / "whole")}
    whole_config["train"] = {**config["train"], "total_timesteps": total}
    (tmp_path / "whole.yaml").write_text(yaml.safe_dump(whole_config))
    whole = advrl("train", method, "--config", str(tmp_path / "whole.yaml"))
    assert whole.wait(timeout=300) == 0
    assert rows(run) == rows(tmp_path / "whole" / method)  # none lost, none doubled
    if method == "ppo":  # its envs' episodes in progress are not in a checkpoint: a resumed
        return  # PPO run starts new ones, so only its history is the uninterrupted run's
    a, b = final_params(tmp_path / "whole" / method), final_params(run)  # UED: exactly
    for role in a:
        for name, tensor in a[role].items():
            torch.testing.assert_close(b[role][name], tensor, rtol=0, atol=0, msg=f"{role}.{name}")
