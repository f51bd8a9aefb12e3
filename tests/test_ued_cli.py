"""`advrl train paired|dr|minimax|plr|accel` and `advrl eval`, run for real with tiny budgets."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from advrl.cli import main
from advrl.files import read_state

PPO = {"n_steps": 16, "batch_size": 64, "n_epochs": 1, "learning_rate": 1e-3}
TEACHER = {
    "plr": {"buffer_size": 6, "replay_prob": 0.5},
    "accel": {"buffer_size": 6, "replay_prob": 0.5, "num_edits": 2},
    "sfl": {"num_samples": 12, "episodes": 2, "buffer_size": 4, "refresh_every": 3},
    "degen": {"hidden": 16, "minibatches": 2},
    "repaired": {"buffer_size": 6, "replay_prob": 0.5, "cloning": "bibc", "cloning_every": 2},
}


def tiny_config(method: str, out: Path, **train: Any) -> dict[str, Any]:
    """A maze run of 4 levels of 5x5 inside, 3 walls, 16-step rollouts."""
    return {
        "method": method,
        "env": {"id": "advrl/Maze-v0", "kwargs": {"size": 7, "max_steps": 12}, "num_levels": 4},
        "protagonist": {"ppo": PPO, "policy": {"net_arch": [8], "conv_filters": 4}},
        "antagonist": {"ppo": PPO, "policy": {"net_arch": [8], "conv_filters": 4}},
        "adversary": {
            "ppo": {**PPO, "batch_size": 20},
            "policy": {"net_arch": [8], "conv_filters": 4},
            "wall_budget": 3,
            "noise_dim": 2,
        },
        "teacher": TEACHER.get(method, {}),
        "train": {
            "total_timesteps": 256,
            "seed": 0,
            "eval_every": 128,
            "eval_episodes": 2,
            "eval_levels": ["FourRooms", "SimpleCrossing"],
            "image_every": 128,
            "checkpoint_every": 128,
            **train,
        },
        "out_dir": str(out),
        "name": method,
    }


def write(config: dict[str, Any], path: Path) -> str:
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize(
    "method", ["paired", "dr", "minimax", "plr", "accel", "sfl", "degen", "repaired"]
)
def test_each_method_trains_logs_and_checkpoints(tmp_path: Path, method: str) -> None:
    config = write(tiny_config(method, tmp_path), tmp_path / "c.yaml")
    assert main(["train", method, "--config", config]) == 0
    run = tmp_path / method
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == method and summary["timesteps"] == 256
    assert set(summary["eval"]["stochastic"]) == {"FourRooms", "SimpleCrossing"}
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert checkpoints == ["step_128.pt", "step_256.pt"]  # every 128 steps, and the end
    assert (run / "heldout.csv").read_text().startswith("level,episodes,solve_rate")
    # a random policy on the same held-out episodes, the reference for the solve rate
    assert set(summary["eval"]["random"]) == {"FourRooms", "SimpleCrossing"}
    rows = list(csv.DictReader((run / "heldout.csv").open()))
    assert summary["mean_solve_rate_random"] == pytest.approx(
        np.mean([float(r["solve_rate_random"]) for r in rows]), abs=1e-4
    )
    state = read_state(run / "checkpoints" / "step_256.pt")
    roles = {"paired": 3, "repaired": 3, "minimax": 2}.get(method, 1)
    assert len(state["agents"]) == roles
    events = EventAccumulator(str(run / "tb"), size_guidance={"images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {
        "ued/protagonist_return",
        "ued/protagonist_solve_rate",
        "levels/num_walls",
        "levels/shortest_path",
        "levels/solvable",
        "heldout/FourRooms/solve_rate",
        "heldout/mean_solve_rate",
        "protagonist/train/value_loss",
    } <= scalars
    assert "levels/images" in events.Tags()["images"]
    expected = {
        "paired": {"ued/regret", "ued/antagonist_return", "adversary/train/value_loss"},
        "minimax": {"ued/adversary_reward", "adversary/train/value_loss"},
        "dr": set(),
        "plr": {"ued/buffer_size", "ued/buffer_score_mean", "ued/buffer_staleness_mean"},
        "accel": {"ued/buffer_size", "ued/edit"},
        "sfl": {"ued/buffer_learnability_mean", "ued/buffer_success_mean"},
        "degen": {"ued/generator_reward", "ued/generator_entropy", "ued/generator_wall_share"},
        "repaired": {"ued/regret", "ued/buffer_size", "ued/replay", "adversary/train/value_loss"},
    }[method]
    assert expected <= scalars


def final_params(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    latest = max(run.glob("checkpoints/step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    state = read_state(latest)
    return {role: a["params"]["policy"] for role, a in state["agents"].items()}


@pytest.mark.parametrize("method", ["paired", "accel", "sfl", "degen", "repaired"])
def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(
    tmp_path: Path, method: str
) -> None:
    whole = tiny_config(method, tmp_path / "a", total_timesteps=320)
    assert main(["train", method, "--config", write(whole, tmp_path / "a.yaml")]) == 0
    cut = tiny_config(method, tmp_path / "b", total_timesteps=128)
    assert main(["train", method, "--config", write(cut, tmp_path / "b.yaml")]) == 0
    run_b = tmp_path / "b" / method
    assert (
        main(["train", method, "--resume", str(run_b), "--set", "train.total_timesteps=320"]) == 0
    )
    summary = json.loads((run_b / "summary.json").read_text())
    assert summary["resumed_from"] == 128 and summary["timesteps"] == 320

    def iterations(run: Path) -> list[str]:
        with (run / "tb" / "progress.csv").open(newline="") as f:
            return [r["time/protagonist_steps"] for r in csv.DictReader(f)]

    # the resumed run's history is the uninterrupted run's: rows kept, none lost or doubled
    assert iterations(run_b) == iterations(tmp_path / "a" / method)
    a, b = final_params(tmp_path / "a" / method), final_params(run_b)
    assert a.keys() == b.keys()
    for role in a:
        for name, tensor in a[role].items():
            torch.testing.assert_close(b[role][name], tensor, rtol=0, atol=0, msg=f"{role}.{name}")


def test_a_run_folder_in_the_earlier_layout_resumes_exactly(tmp_path: Path) -> None:
    """Run folders written before the ``teacher:`` section (``paired``/``plr``/``accel``
    sections for every method) still resume, with the settings they ran with."""
    whole = tiny_config("accel", tmp_path / "a", total_timesteps=320)
    assert main(["train", "accel", "--config", write(whole, tmp_path / "a.yaml")]) == 0
    cut = tiny_config("accel", tmp_path / "b", total_timesteps=128)
    assert main(["train", "accel", "--config", write(cut, tmp_path / "b.yaml")]) == 0
    run_b = tmp_path / "b" / "accel"
    saved = yaml.safe_load((run_b / "config.yaml").read_text())
    teacher = saved.pop("teacher")
    saved["paired"] = {"regret": "clipped"}
    saved["plr"] = {**{k: v for k, v in teacher.items() if k != "num_edits"}, "robust": True}
    saved["accel"] = {"num_edits": teacher["num_edits"]}
    (run_b / "config.yaml").write_text(yaml.safe_dump(saved))
    assert main(["train", "accel", "--resume", str(run_b), "--train.total_timesteps", "320"]) == 0
    a, b = final_params(tmp_path / "a" / "accel"), final_params(run_b)
    for name, tensor in a["protagonist"].items():
        torch.testing.assert_close(b["protagonist"][name], tensor, rtol=0, atol=0, msg=name)


def test_ued_on_a_physics_env(tmp_path: Path) -> None:
    config = tiny_config("paired", tmp_path)
    config["env"] = {"id": "advrl/Pendulum-v1", "num_levels": 2}
    for role in ("protagonist", "antagonist", "adversary"):
        config[role]["policy"] = {"net_arch": [8]}
    config["adversary"]["ppo"]["batch_size"] = 2
    config["train"]["eval_levels"] = []
    assert main(["train", "paired", "--config", write(config, tmp_path / "c.yaml")]) == 0
    summary = json.loads((tmp_path / "paired" / "summary.json").read_text())
    assert set(summary["eval"]["stochastic"]) == {"default"}
    assert {"levels/g", "levels/m"} <= set(summary["last"])


def test_eval_command_prints_and_saves_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tiny_config("dr", tmp_path, total_timesteps=64), tmp_path / "c.yaml")
    assert main(["train", "dr", "--config", config]) == 0
    capsys.readouterr()
    run = str(tmp_path / "dr")
    assert main(["eval", run, "--levels", "Labyrinth,FourRooms", "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "Labyrinth" in out and "mean solve rate" in out
    assert (tmp_path / "dr" / "eval-Labyrinth_FourRooms.csv").is_file()
    assert main(["eval", run, "--levels", "Nowhere"]) == 2
    assert "unknown held-out maze" in capsys.readouterr().err
    assert main(["eval", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_eval_command_takes_ppo_runs_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(Path(__file__).resolve().parents[1] / "configs" / "ppo-maze.yaml")
    tiny = [
        "env.n_envs=2",
        "ppo.n_steps=32",
        "ppo.batch_size=64",
        "train.total_timesteps=64",
        "train.eval_every=0",
        "train.eval_episodes=2",
        "train.progress_bar=false",
        f"out_dir={tmp_path}",
        "name=p",
    ]
    assert main(["train", "ppo", "--config", config, *[x for t in tiny for x in ("--set", t)]]) == 0
    capsys.readouterr()
    assert (
        main(["eval", str(tmp_path / "p"), "--levels", "PerfectMazeSmall", "--episodes", "4"]) == 0
    )
    assert "PerfectMazeSmall  4" in capsys.readouterr().out


def test_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tiny_config("paired", tmp_path), tmp_path / "c.yaml")
    assert main(["train", "dr", "--config", config]) == 2
    assert "is a config for 'paired'" in capsys.readouterr().err
    bad = tiny_config("plr", tmp_path)
    bad["teacher"]["replay_prob"] = 2.0
    assert main(["train", "plr", "--config", write(bad, tmp_path / "bad.yaml")]) == 2
    assert "teacher.replay_prob must be in [0, 1]" in capsys.readouterr().err
    bad = tiny_config("paired", tmp_path)
    bad["adversary"]["wall_budget"] = 99
    assert main(["train", "paired", "--config", write(bad, tmp_path / "bad.yaml")]) == 2
    assert "wall_budget" in capsys.readouterr().err
    bad = tiny_config("dr", tmp_path)
    bad["env"] = {"id": "CartPole-v1", "num_levels": 2}
    assert main(["train", "dr", "--config", write(bad, tmp_path / "bad.yaml")]) == 2
    assert "level_space" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in ("paired", "plr", "dr"))


def test_a_runner_built_without_a_logger_writes_no_log_folder(tmp_path, monkeypatch) -> None:
    """SB3's ``configure(None)`` makes a folder under the temp directory (``SB3_LOGDIR`` here);
    a runner that logs nowhere must not leave one per run."""
    from advrl.config import UEDRunConfig, load_config
    from advrl.runners.ued import build_runner

    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path / "sb3"))
    config = load_config(UEDRunConfig, "configs/dr-maze-small.yaml", [f"out_dir={tmp_path}"])
    build_runner(config).start(1_000)
    assert not (tmp_path / "sb3").exists()
