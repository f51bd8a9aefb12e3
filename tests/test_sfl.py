"""SFL: learnability by hand, the buffer keeps the most learnable levels, batches mix buffer and
new levels, the state round-trips, and `advrl train sfl` runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml
from test_ued_cli import tiny_config

from advrl.cli import main
from advrl.pair import MazeFamily
from advrl.pair.sfl import SFL, learnability


def test_learnability_is_p_times_one_minus_p() -> None:
    np.testing.assert_allclose(learnability(np.array([0.0, 0.5, 0.9, 1.0])), [0, 0.25, 0.09, 0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        learnability(np.array([1.5]))


class Scripted:
    """A protagonist whose success rate on a level is its number of walls / 10 (capped at 1)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, model: Any, levels: Sequence[Any], episodes: int, seed: int) -> np.ndarray:
        self.calls.append((len(levels), episodes))
        return np.minimum(np.array([lvl.num_walls for lvl in levels]) / 10, 1.0)


def attached(sfl: SFL) -> SFL:
    """``sfl`` with a protagonist (the scripted success rates do not look at its policy)."""
    sfl.attach(SimpleNamespace(model=None), None)  # type: ignore[arg-type]
    return sfl


def test_the_buffer_keeps_the_most_learnable_and_batches_mix_it_with_new_levels() -> None:
    scripted = Scripted()
    family = MazeFamily((6, 6), num_walls=(0, 10))
    sfl = attached(
        SFL(family, scripted, num_samples=200, episodes=3, buffer_size=20, refresh_every=4)
    )
    first = sfl.propose(8)
    assert scripted.calls == [(200, 3)]  # refreshed before the first batch
    # p = walls / 10: the most learnable levels have 5 walls (p = .5), then 4 and 6, ...
    walls = [lvl.num_walls for lvl in sfl.buffer]
    assert min(abs(w - 5) for w in walls) == 0 and max(abs(w - 5) for w in walls) <= 1
    assert sfl.scores[0] == pytest.approx(0.25) and (np.diff(sfl.scores) <= 0).all()
    assert first.learn and first.levels[:4] == [sfl.buffer[i] for i in first.buffer_indices]
    metrics = sfl.update(first, None, None)  # type: ignore[arg-type]
    assert metrics["buffer_learnability_mean"] >= 0.24
    for _ in range(3):
        sfl.propose(8)
    assert len(scripted.calls) == 1
    sfl.propose(8)  # the fifth batch: iteration 4, a refresh
    assert len(scripted.calls) == 2


def test_sfl_state_round_trips() -> None:
    family = MazeFamily((6, 6), num_walls=(0, 10))
    sfl = attached(SFL(family, Scripted(), num_samples=50, buffer_size=5, refresh_every=3, seed=1))
    sfl.propose(4)
    state = json.loads(json.dumps(sfl.state_dict()))  # checkpoint-safe
    again = attached(
        SFL(family, Scripted(), num_samples=50, buffer_size=5, refresh_every=3, seed=9)
    )
    again.load_state_dict(state)
    assert again.buffer == sfl.buffer and again.iteration == 1
    assert again.propose(4).levels == sfl.propose(4).levels


def test_sfl_refuses_bad_settings() -> None:
    family = MazeFamily((6, 6))
    with pytest.raises(ValueError, match="buffer_size"):
        SFL(family, Scripted(), num_samples=10, buffer_size=20)
    with pytest.raises(ValueError, match="buffer_share"):
        SFL(family, Scripted(), buffer_share=1.5)
    with pytest.raises(RuntimeError, match="attach the protagonist"):
        SFL(family, Scripted(), num_samples=10, buffer_size=2).propose(4)


def test_advrl_train_sfl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tiny_config("sfl", tmp_path, total_timesteps=128)
    config["teacher"] = {"num_samples": 20, "episodes": 2, "buffer_size": 4, "refresh_every": 1}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "sfl", "--config", str(tmp_path / "c.yaml")]) == 0
    summary = json.loads((tmp_path / "sfl" / "summary.json").read_text())
    assert summary["timesteps"] == 128 and "ued/buffer_learnability_mean" in summary["last"]
    physics = tiny_config("sfl", tmp_path)
    physics["env"] = {"id": "advrl/CartPole-v1", "kwargs": {}, "num_levels": 2}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(physics))
    capsys.readouterr()
    assert main(["train", "sfl", "--config", str(tmp_path / "p.yaml")]) == 2
    assert "needs a maze env" in capsys.readouterr().err
