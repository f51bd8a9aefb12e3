"""The pixel maze from the command line: SimAug over views trains, and `advrl eval --views`."""

from __future__ import annotations

from pathlib import Path

import pytest

from advrl.cli import main

TINY = [
    "env.n_envs=2",
    "ppo.n_steps=16",
    "ppo.batch_size=32",
    "ppo.n_epochs=1",
    "train.total_timesteps=32",
    "train.eval_episodes=2",
    "train.progress_bar=false",
]


def sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.mark.parametrize("method", ["simaug", "rad"])
def test_views_config_trains_and_evaluates_under_view_spaces(
    tmp_path: Path, method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Path(__file__).parents[1] / "configs" / "views-pixel-maze.yaml"
    args = ["train", "ppo", "--config", str(config)]
    args += sets(f"out_dir={tmp_path}", "name=run", f"adversarial.method={method}", *TINY)
    assert main(args) == 0
    run = tmp_path / "run"
    capsys.readouterr()
    assert main(["eval", str(run), "--views", "default,heldout", "--episodes", "3", "-q"]) == 0
    out = capsys.readouterr().out
    header = "views    episodes  solve_rate  return  solve_rate_greedy  return_greedy  "
    assert header + "solve_rate_random  return_random" in out
    assert "\nheldout  3 " in out
    lines = (run / "eval-views-default_heldout.csv").read_text().splitlines()
    assert lines[0].startswith("views,episodes,solve_rate,return,") and [
        x[:7] for x in lines[1:]
    ] == ["default", "heldout"]
    assert main(["eval", str(run), "--views", "dusk", "--episodes", "1", "-q"]) == 2
    assert "views='dusk': choose one of ['default', 'heldout', 'train']" in capsys.readouterr().err


def test_eval_views_needs_a_pixel_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = Path(__file__).parents[1] / "configs" / "ppo-maze.yaml"
    args = ["train", "ppo", "--config", str(config)]
    args += sets(f"out_dir={tmp_path}", "name=run", *TINY)
    assert main(args) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--views", "heldout"]) == 2
    assert "--views: advrl/Maze-Small-v0 has no views to draw it under (pixel envs" in (
        capsys.readouterr().err
    )
