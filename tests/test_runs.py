"""Checkpoints: exact round trip, safe loading."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import torch

from advrl.agents import make_ppo
from advrl.periodic import Periodic
from advrl.runners.checkpoints import read_checkpoint, upgrade_checkpoint, write_checkpoint
from advrl.runners.trainers import SB3Trainer
from advrl.runs import RunDir


def tiny_model(seed: int):
    return make_ppo(gym.make("advrl/Maze-Small-v0"), n_steps=32, batch_size=32, seed=seed)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    a = tiny_model(0)
    a.learn(64)
    trainer = SB3Trainer(a)
    write_checkpoint(tmp_path / "step_64.pt", trainer.num_timesteps, trainer.state_dict())
    b = tiny_model(1)
    SB3Trainer(b).load_state_dict(read_checkpoint(tmp_path / "step_64.pt"))
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
        read_checkpoint(path)
    torch.save({"something": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not an advrl checkpoint"):
        read_checkpoint(path)


def test_run_dir_latest_checkpoint(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "x")
    assert run.latest_checkpoint() is None
    for step in (900, 10_000, 2_000):
        run.checkpoint_path(step).write_bytes(b"")
    assert run.latest_checkpoint() == run.checkpoint_path(10_000)
    with pytest.raises(FileExistsError):
        RunDir.create(tmp_path, "x")


def test_a_checkpoint_of_the_earlier_layout_loads(tmp_path: Path) -> None:
    """PPO checkpoints once held one model's params, counters and torch's random state."""
    a = tiny_model(0)
    a.learn(64)
    legacy = {
        "params": a.get_parameters(),
        "num_timesteps": 64,
        "n_updates": 2,
        "torch_rng": torch.get_rng_state(),
    }
    torch.save(legacy, tmp_path / "step_64.pt")
    state = read_checkpoint(tmp_path / "step_64.pt")
    assert set(state) == {"agents", "rng"} and state["agents"]["policy"]["n_updates"] == 2
    b = tiny_model(1)
    SB3Trainer(b).load_state_dict(state)
    assert b.num_timesteps == 64 and b._n_updates == 2
    for (name, pa), pb in zip(
        a.policy.state_dict().items(), b.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), name
    assert upgrade_checkpoint(state) is state  # today's layout passes through


def test_periodic_acts_once_per_boundary_passed() -> None:
    calls: list[int] = []
    steps = {"now": 0}
    every = Periodic(100, lambda: calls.append(steps["now"]), start=50)
    for now in (60, 149, 150, 151, 420, 449, 450):
        steps["now"] = now
        every(now)
    assert calls == [150, 420, 450]  # 150; 250-420 passed at once; then 450
    never = Periodic(0, lambda: calls.append(-1), start=0)
    never(10**9)
    assert -1 not in calls


def test_a_resumed_runs_events_stay_on_the_uninterrupted_runs_steps() -> None:
    """A run checkpointed every 50 steps and evaluated every 250, resumed at 450: its next
    evaluations are at 500 and 750, where the uninterrupted run's are (not at 700, 950)."""
    uninterrupted, resumed = Periodic(250, start=0), Periodic.resumed(250, None, 450)
    steps = range(460, 1010, 10)
    assert [s for s in steps if resumed.due(s)] == [500, 750, 1000]
    assert [s for s in range(10, 1010, 10) if uninterrupted.due(s)] == [250, 500, 750, 1000]
    assert Periodic.resumed(250, None, 500).next == 750  # resumed on a boundary
    assert Periodic.resumed(0, None, 500).next is None


def test_images_are_due_at_the_first_rollout_then_every_n_steps() -> None:
    images = Periodic(100, start=-100)
    assert [images.due(s) for s in (5, 50, 100, 150, 420, 499, 500)] == [
        True, False, True, False, True, False, True,
    ]  # fmt: skip
    assert not Periodic(0, start=0).due(10**9)
