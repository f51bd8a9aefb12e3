"""The advrl command line, run for real with tiny budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from advrl.cli import main

TINY = [
    "env.n_envs=2",
    "ppo.n_steps=64",
    "ppo.batch_size=64",
    "ppo.n_epochs=1",
    "train.total_timesteps=512",
    "train.eval_every=256",
    "train.eval_episodes=3",
    "train.image_every=256",
    "train.checkpoint_every=256",
    "train.progress_bar=false",
]
CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "ppo-maze.yaml")


def run_cli(*args: str) -> int:
    return main(list(args))


def sets(items: list[str]) -> list[str]:
    return [x for item in items for x in ("--set", item)]


def test_envs_lists_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("envs") == 0
    out = capsys.readouterr().out
    assert "advrl/Maze-Labyrinth-v0" in out and "advrl/Pendulum-v1" in out


@pytest.mark.parametrize("name", ["Labyrinth", "advrl/Maze-v0", "advrl/Maze-PerfectMazeSmall-v0"])
def test_levels_show_writes_a_png(tmp_path: Path, name: str) -> None:
    from PIL import Image

    out = tmp_path / "level.png"
    assert run_cli("levels", "show", name, "--out", str(out)) == 0
    assert Image.open(out).size[0] > 100


def test_levels_show_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("levels", "show", "NoSuchMaze", "--out", str(tmp_path / "x.png")) == 2
    assert "unknown level 'NoSuchMaze'" in capsys.readouterr().err
    assert run_cli("levels", "show", "advrl/CartPole-v1", "--out", str(tmp_path / "x.png")) == 2
    assert "not a maze env" in capsys.readouterr().err
    assert run_cli("levels", "show", str(tmp_path / "none.txt")) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "f").write_text("")
    assert run_cli("levels", "show", "Labyrinth", "--out", str(tmp_path / "f" / "x" / "l.png")) == 2
    assert "is a file, not a folder for l.png" in capsys.readouterr().err
    assert run_cli("levels", "show", "Labyrinth", "--out", str(tmp_path / "new" / "l.png")) == 0


def test_train_ppo_writes_a_complete_run_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "ppo", "--config", CONFIG, *sets([*TINY, f"out_dir={tmp_path}", "name=r"])]
    assert run_cli(*args) == 0
    run = tmp_path / "r"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["timesteps"] == 512 and summary["resumed_from"] is None
    for key in ("policy", "policy_deterministic", "random"):
        assert 0.0 <= summary["eval"][key]["success_rate"] <= 1.0
    assert (run / "config.yaml").is_file() and (run / "model.zip").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_256.pt", "step_512.pt"]
    events = EventAccumulator(str(run / "tb"), size_guidance={"images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {
        "rollout/ep_rew_mean",
        "train/value_loss",
        "eval/success_rate",
        "levels/num_walls",
    } <= scalars
    assert "levels/images" in events.Tags()["images"]
    assert "success" in capsys.readouterr().out

    resume = ["train", "ppo", "--resume", str(run), "--set", "train.total_timesteps=1024"]
    assert run_cli(*resume) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["timesteps"] == 1024 and summary["resumed_from"] == 512

    assert run_cli(*args) == 2  # the run folder exists: never overwritten
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--set", "ppo.lr=1"], "unknown key 'lr' in ppo"),
        (["--set", "env.id=advrl/NoSuchEnv-v0"], "env 'advrl/NoSuchEnv-v0'"),
        (["--set", "env.kwargs.size=2"], "size must be between 4"),
        (["--set", "env.kwargs.colour=red"], "unexpected keyword argument 'colour'"),
    ],
)
def test_train_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], problem: str
) -> None:
    args = ["train", "ppo", "--config", CONFIG, "--set", f"out_dir={tmp_path}", *extra]
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("advrl: error:") and problem in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # nothing written


def test_missing_config_and_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli("train", "ppo", "--config", str(tmp_path / "nope.yaml")) == 2
    assert "not found" in capsys.readouterr().err
    assert run_cli("train", "ppo", "--resume", str(tmp_path)) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert run_cli("train", "ppo") == 2


def test_backend_choice() -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    from advrl.config import ConfigError, EnvSettings
    from advrl.envs.batched import BatchedMaze
    from advrl.runners.ppo import make_training_env

    env = make_training_env(EnvSettings(id="advrl/Maze-Small-v0", n_envs=4), seed=0)
    assert isinstance(env, BatchedMaze) and env.size == 9 and env.wall_range == (0, 12)
    assert env.max_steps == 100
    kwargs = {"size": 11, "num_walls": [2, 5]}
    env = make_training_env(EnvSettings(id="advrl/Maze-v0", kwargs=kwargs, n_envs=2), seed=0)
    assert isinstance(env, BatchedMaze) and env.size == 11 and env.wall_range == (2, 5)
    gym_env = make_training_env(EnvSettings(id="advrl/Maze-v0", backend="gymnasium", n_envs=2), 0)
    assert isinstance(gym_env, DummyVecEnv)
    assert isinstance(
        make_training_env(EnvSettings(id="advrl/Maze-Labyrinth-v0", n_envs=2), 0), DummyVecEnv
    )
    with pytest.raises(ConfigError, match=r"set env\.backend=gymnasium"):
        make_training_env(EnvSettings(id="advrl/CartPole-v1", backend="batched"), seed=0)
