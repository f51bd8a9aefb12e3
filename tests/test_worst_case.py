"""SFL's worst-case success over sampled levels: the levels, the selection of the worst, their
independent rescoring, the run and `advrl eval` wiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from gymnasium import spaces
from test_ued_cli import tiny_config

from advrl.cli import main
from advrl.envs.level import MazeLevel
from advrl.episodes.actors import RandomActor
from advrl.eval.worst_case import SampledLevels, sample_levels, worst_case

EASY = MazeLevel.from_text(">G...\n.....\n.....\n.....\n.....")  # one step forward
HARD = MazeLevel.from_text("^....\n.....\n.....\n.....\n....G")  # forward hits the wall


class Forward:
    """Always steps forward: solves EASY at once and never HARD."""

    def predict(self, observation: dict[str, np.ndarray], **_: Any) -> tuple[np.ndarray, None]:
        return np.full(len(observation["direction"]), 2), None


@pytest.mark.parametrize(("hard", "worst10", "worst1"), [(10, 0.0, 0.0), (5, 0.5, 0.0)])
def test_the_worst_share_by_hand(hard: int, worst10: float, worst1: float) -> None:
    """100 levels, ``hard`` of them never solved: the worst 10 levels hold all of them (and easy
    ones for the rest), the worst 1 level is hard."""
    levels = [EASY] * (100 - hard) + [HARD] * hard
    result = worst_case(Forward(), levels, episodes=2, max_steps=6, chunk=64)
    assert result.mean == pytest.approx(1 - hard / 100)
    assert result.worst == {0.01: worst1, 0.1: pytest.approx(worst10)}
    assert result.scalars()["sampled/worst10_solve_rate"] == pytest.approx(worst10)
    assert result.summary()["worst_solve_rate"] == {"1": worst1, "10": pytest.approx(worst10)}


def test_the_worst_levels_are_scored_on_independent_episodes() -> None:
    """3,000 copies of one level that a random policy solves a third of the time (its first
    action must be forward): the 300 chosen as worst all failed when chosen, yet score about a
    third when played again, as they must, being the same level."""
    levels = [EASY] * 3000
    result = worst_case(
        RandomActor(spaces.Discrete(3)), levels, episodes=1, max_steps=1, chunk=1024
    )
    assert result.mean == pytest.approx(1 / 3, abs=0.03)
    assert result.worst[0.1] == pytest.approx(1 / 3, abs=0.08)  # 0.0 if scored where chosen


def test_sampled_levels_are_solvable_fixed_and_drawn_from_the_envs_walls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    levels = sample_levels("advrl/Maze-Small-v0", {}, 50, seed=3)
    assert len(levels) == 50 and all(lvl.solvable for lvl in levels)
    assert levels == sample_levels("advrl/Maze-Small-v0", {}, 50, seed=3)
    assert all(0 <= lvl.num_walls <= 12 for lvl in levels)  # Maze-Small: 0-12 walls
    assert len({lvl.to_text() for lvl in levels}) > 40
    with pytest.raises(ValueError, match="not a domain-randomized maze"):
        sample_levels("CartPole-v1", {}, 5, seed=0)
    # a full 4x4 grid is solvable only where goal and start touch (1 in 5): with one draw allowed
    # per level wanted, 20 levels are not found
    monkeypatch.setattr("advrl.eval.worst_case.MAX_DRAWS_PER_LEVEL", 1)
    with pytest.raises(ValueError, match="were solvable"):
        sample_levels("advrl/Maze-v0", {"size": 6, "num_walls": 14}, 20, seed=0)


def test_a_ued_run_and_advrl_eval_report_the_worst_levels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config("dr", tmp_path, total_timesteps=128, eval_every=64)
    config["train"].update(eval_sampled_levels=40, eval_sampled_episodes=2)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "dr", "--config", str(tmp_path / "c.yaml")]) == 0
    run = tmp_path / "dr"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["sampled"]["levels"] == 40 and summary["sampled"]["episodes"] == 2
    assert set(summary["sampled"]["worst_solve_rate"]) == {"1", "10"}
    header = (run / "tb" / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"sampled/worst1_solve_rate", "sampled/worst10_solve_rate"} <= set(header)
    capsys.readouterr()
    assert main(["eval", str(run), "--sampled", "30", "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "30 sampled levels" in out and "worst 10%" in out and "worst 1%" in out
    saved = json.loads((run / "eval-sampled-30.json").read_text())
    assert saved["levels"] == 30
    assert main(["eval", str(run), "--sampled", "0"]) == 2
    assert "--sampled must be >= 1" in capsys.readouterr().err


def test_sampled_levels_need_a_maze() -> None:
    with pytest.raises(ValueError, match="not a domain-randomized maze"):
        SampledLevels("CartPole-v1", {}, levels=10, episodes=1)
