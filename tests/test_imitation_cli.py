"""`advrl expert train`, `advrl demos record|info` and `advrl train gail|asaf`, run for real, tiny."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from advrl.cli import main
from advrl.gail import load_demos

TINY_PPO = ["ppo.n_steps=16", "ppo.batch_size=32", "ppo.n_epochs=1", "policy.net_arch=[8]"]


def sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture(scope="module")
def expert_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    args = ["expert", "train", "--env", "CartPole-v1"]
    args += sets(
        f"out_dir={out}",
        "env.n_envs=2",
        "train.total_timesteps=64",
        "train.eval_every=0",
        "train.eval_episodes=2",
        "train.progress_bar=false",
        *TINY_PPO,
    )
    assert main(args) == 0
    (run,) = out.iterdir()
    assert run.name.startswith("CartPole-v1-expert-seed0")
    return run


@pytest.fixture(scope="module")
def demos_file(expert_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demos") / "cartpole.npz"
    args = ["demos", "record", "--model", str(expert_run), "--episodes", "3", "--out", str(path)]
    assert main(args) == 0
    return path


def imitation_config(tmp_path: Path, method: str, demos: Path, **extra: Any) -> Path:
    config: dict[str, Any] = {
        "method": method,
        "env": {"id": "CartPole-v1", "n_envs": 2, "backend": "gymnasium"},
        "demos": {"path": str(demos), "episodes": 2},
        "ppo": {"n_steps": 16, "batch_size": 32, "n_epochs": 1},
        "policy": {"net_arch": [8]},
        **(
            {"discriminator": {"net_arch": [8], "batch_size": 16, "grad_penalty": 1.0}}
            if method == "gail"
            else {"asaf": {"rollout_episodes": 2, "n_epochs": 1, "batch_size": 2}}
        ),
        "train": {
            "total_timesteps": 96,
            "eval_every": 32,
            "eval_episodes": 2,
            "checkpoint_every": 64,
        },
        "out_dir": str(tmp_path / "runs"),
        **extra,
    }
    path = tmp_path / f"{method}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_recorded_demos(demos_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demos = load_demos(demos_file)
    assert demos.num_episodes == 3 and demos.env_id == "CartPole-v1"
    assert demos.expert_return == pytest.approx(demos.episode_returns().mean())
    assert main(["demos", "info", str(demos_file)]) == 0
    out = capsys.readouterr().out
    assert "episodes:     3" in out and "CartPole-v1" in out


def test_pixel_demos_from_a_state_expert_then_gail_from_pixels(
    tmp_path: Path, expert_run: Path, demos_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pixels = tmp_path / "pixels.npz"
    args = ["demos", "record", "--model", str(expert_run), "--episodes", "3", "--out", str(pixels)]
    assert main([*args, "--env", "advrl/PixelCartPole-v1"]) == 0
    assert "from its state (info['state']); recording its pixels" in capsys.readouterr().out
    recorded, state = load_demos(pixels), load_demos(demos_file)
    assert isinstance(recorded.obs, np.ndarray) and recorded.obs.shape[1:] == (48, 48, 9)
    # the same expert on the same seeds: the same episodes, seen as pixels
    np.testing.assert_array_equal(recorded.acts, state.acts)
    np.testing.assert_array_equal(recorded.lengths, state.lengths)
    config = imitation_config(
        tmp_path,
        "gail",
        pixels,
        name="pixels",
        env={"id": "advrl/PixelCartPole-v1", "n_envs": 2, "backend": "gymnasium"},
        discriminator={"net_arch": [8], "batch_size": 16, "augment": "translation,cutout"},
    )
    assert main(["train", "gail", "--config", str(config)]) == 0
    assert "GAIL +DiffAugment on advrl/PixelCartPole-v1" in capsys.readouterr().out


def tb_tags(run: Path) -> set[str]:
    acc = EventAccumulator(str(run / "tb"))
    acc.Reload()
    return set(acc.Tags()["scalars"])


def test_gail_then_asaf_fine_tuning(
    tmp_path: Path,
    demos_file: Path,
    capsys: pytest.CaptureFixture[str],
    undocumented: Callable[[Path], set[str]],
    missing: Callable[[Path, set[str]], set[str]],
) -> None:
    config = imitation_config(tmp_path, "gail", demos_file, name="gail")
    data = yaml.safe_load(config.read_text())
    data["demos"]["heldout_episodes"] = 1  # the third recorded episode: D never trains on it
    data["discriminator"]["absorbing"] = True  # DAC's absorbing state, from the YAML
    config.write_text(yaml.safe_dump(data))
    assert main(["train", "gail", "--config", str(config), "--json"]) == 0
    out = capsys.readouterr().out
    assert "GAIL on CartPole-v1 from 2 expert episodes" in out
    gail = tmp_path / "runs" / "gail"
    summary = json.loads((gail / "summary.json").read_text())
    assert summary["timesteps"] >= 96 and "normalized_score" in summary["eval"]["policy"]
    assert {"disc/loss", "disc/expert_acc", "disc/grad_penalty", "imitation/normalized_score"} <= (
        tb_tags(gail)
    )
    assert {"disc/expert_acc_seen", "disc/expert_acc_unseen"} <= tb_tags(gail)
    assert {"eval/mean_reward", "eval/normalized_score", "rollout/ep_rew_mean"} <= tb_tags(gail)
    assert sorted(p.name for p in (gail / "checkpoints").iterdir()) == ["step_64.pt", "step_96.pt"]

    config = imitation_config(
        tmp_path, "asaf", demos_file, name="asaf", init={"from_run": str(gail)}
    )
    assert main(["train", "asaf", "--config", str(config)]) == 0
    assert "ASAF (fine-tuned)" in capsys.readouterr().out
    asaf = tmp_path / "runs" / "asaf"
    assert {"asaf/loss", "asaf/expert_acc", "imitation/normalized_score"} <= tb_tags(asaf)
    assert {"eval/mean_reward", "eval/normalized_score"} <= tb_tags(asaf)  # eval/* for ASAF too
    assert undocumented(gail) == set() and undocumented(asaf) == set()  # the README's table
    gail_kinds = {
        "GAIL",
        "GAIL with `demos.heldout_episodes`",
        "GAIL with `discriminator.absorbing`",
    }
    assert missing(gail, {"all", *gail_kinds}) == set()
    assert missing(asaf, {"all", "ASAF"}) == set()
    # resume: a longer budget continues from the last checkpoint
    assert main(["train", "asaf", "--resume", str(asaf), "--set", "train.total_timesteps=300"]) == 0
    resumed = json.loads((asaf / "summary.json").read_text())
    assert resumed["resumed_from"] >= 96 and resumed["timesteps"] >= 300
    # the fine-tuned policy records demos like any other run
    more = tmp_path / "asaf-demos.npz"
    assert (
        main(["demos", "record", "--model", str(asaf), "--episodes", "1", "--out", str(more)]) == 0
    )


@pytest.mark.parametrize("window", [1, 3])
def test_asaf_windows_and_bc_start(tmp_path: Path, demos_file: Path, window: int) -> None:
    config = imitation_config(
        tmp_path,
        "asaf",
        demos_file,
        name="w",
        asaf={"window": window, "rollout_steps": 32, "n_epochs": 1, "batch_size": 8},
        init={"bc_epochs": 2},
    )
    assert main(["train", "asaf", "--config", str(config), "--set", "train.eval_every=0"]) == 0
    summary = json.loads((tmp_path / "runs" / "w" / "summary.json").read_text())
    assert summary["variant"] == f"ASAF-{window} +BC"


def test_user_errors(
    tmp_path: Path, demos_file: Path, expert_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def error(args: list[str]) -> str:
        assert main(args) == 2
        return capsys.readouterr().err

    config = imitation_config(tmp_path, "gail", tmp_path / "missing.npz")
    assert "not found; record demos with `advrl demos record`" in error(
        ["train", "gail", "--config", str(config)]
    )
    config = imitation_config(tmp_path, "gail", demos_file, env={"id": "Pendulum-v1"})
    assert "obs has shape (4,) per step, Pendulum-v1 expects (3,)" in error(
        ["train", "gail", "--config", str(config)]
    )
    config = imitation_config(tmp_path, "gail", demos_file)
    assert "is a config for 'gail'" in error(["train", "asaf", "--config", str(config)])
    config = imitation_config(tmp_path, "gail", demos_file, discriminator={"augment": "color"})
    assert "DiffAugment needs image observations" in error(
        ["train", "gail", "--config", str(config)]
    )
    assert "holds only 3" in error(
        [
            "train",
            "gail",
            "--config",
            str(imitation_config(tmp_path, "gail", demos_file)),
            "--set",
            "demos.episodes=9",
        ]
    )
    gail_config = str(imitation_config(tmp_path, "gail", demos_file))
    kept = ["--set", "demos.episodes=2", "--set", "demos.heldout_episodes=2"]
    assert "demos.episodes (2) + demos.heldout_episodes (2) is more than the 3" in error(
        ["train", "gail", "--config", gail_config, *kept]
    )
    assert "heldout_episodes needs episodes" in error(
        ["train", "gail", "--config", gail_config, "--set", "demos.episodes=null", *kept[2:]]
    )
    assert "--out must end in .npz" in error(
        ["demos", "record", "--model", str(expert_run), "--out", "x.txt"]
    )
    assert "Pendulum-v1 has" in error(
        [
            "demos",
            "record",
            "--model",
            str(expert_run),
            "--env",
            "Pendulum-v1",
            "--out",
            str(tmp_path / "p.npz"),
        ]
    )
    assert "give --env ID" in error(["expert", "train"])


def test_what_a_policy_plays_a_pixel_env_from(
    expert_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gymnasium as gym

    from advrl.gail.record import policy_input_for, state_input

    state = gym.make("CartPole-v1")
    pixels = gym.make("advrl/PixelCartPole-v1")
    fits = (state.observation_space, state.action_space)
    assert policy_input_for(state, *fits) is None  # its own observations
    assert policy_input_for(pixels, *fits) is state_input  # the state the pixels draw
    assert policy_input_for(pixels, pixels.observation_space, pixels.action_space) is None
    with pytest.raises(ValueError, match="trained on spaces"):
        policy_input_for(pixels, state.observation_space, gym.spaces.Discrete(3))
    with pytest.raises(ValueError, match="; Acrobot-v1 has"):
        policy_input_for(gym.make("Acrobot-v1"), *fits)
    out = tmp_path / "acrobot.npz"
    args = ["demos", "record", "--model", str(expert_run), "--env", "Acrobot-v1", "--out", str(out)]
    assert main(args) == 2
    assert "the policy was trained on spaces" in capsys.readouterr().err and not out.exists()
