"""Checkpoints: exact round trip, safe loading."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import torch

from advrl.agents import make_ppo
from advrl.runs import RunDir, load_checkpoint, save_checkpoint


def tiny_model(seed: int):
    return make_ppo(gym.make("advrl/Maze-Small-v0"), n_steps=32, batch_size=32, seed=seed)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    a = tiny_model(0)
    a.learn(64)
    save_checkpoint(tmp_path / "step_64.pt", a)
    b = tiny_model(1)
    load_checkpoint(tmp_path / "step_64.pt", b)
    assert b.num_timesteps == 64
    for (name, pa), pb in zip(
        a.policy.state_dict().items(), b.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), name
    opt_a, opt_b = a.policy.optimizer.state_dict(), b.policy.optimizer.state_dict()
    assert opt_a["param_groups"] == opt_b["param_groups"]
    assert not list(tmp_path.glob(".*.tmp"))


class Payload:
    """An arbitrary object: unpickling it must be refused."""


def test_unsafe_or_foreign_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"params": Payload()}, path)
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        load_checkpoint(path, tiny_model(0))
    torch.save({"something": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not an advrl checkpoint"):
        load_checkpoint(path, tiny_model(0))


def test_run_dir_latest_checkpoint(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "x")
    assert run.latest_checkpoint() is None
    for step in (900, 10_000, 2_000):
        run.checkpoint_path(step).write_bytes(b"")
    assert run.latest_checkpoint() == run.checkpoint_path(10_000)
    with pytest.raises(FileExistsError):
        RunDir.create(tmp_path, "x")
