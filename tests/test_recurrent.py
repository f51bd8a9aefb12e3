"""Recurrent policies (sb3-contrib's RecurrentPPO): built from ``lstm_hidden``, trained as UED
students and adversaries, evaluated with their hidden state carried, refused where unsupported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml
from sb3_contrib import RecurrentPPO

from advrl.agents import RobustPPO, make_ppo
from advrl.cli import main
from advrl.envs.heldout import heldout_generator
from advrl.episodes import sb3_policy
from advrl.episodes.levels import play_levels
from advrl.files import read_state

MAZE = "advrl/Maze-Small-v0"


def recurrent_maze() -> RecurrentPPO:
    model = make_ppo(gym.make(MAZE), lstm_hidden=8, net_arch=[8], n_steps=16, batch_size=16, seed=0)
    assert isinstance(model, RecurrentPPO)
    return model


def test_lstm_hidden_builds_recurrent_ppo_on_the_maze() -> None:
    model = recurrent_maze()
    assert model.policy.lstm_actor.hidden_size == 8
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(32)
    assert any(
        not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True)
    )
    with pytest.raises(ValueError, match="RecurrentPPO only"):
        make_ppo(gym.make("CartPole-v1"), lstm_hidden=8, algorithm=RobustPPO)
    with pytest.raises(ValueError, match="feed-forward"):
        make_ppo(gym.make("CartPole-v1"), lstm_hidden=8, dual_bn=True)


def test_sb3_policy_carries_the_hidden_state_and_resets_it() -> None:
    model = recurrent_maze()
    env = gym.make(MAZE)
    obs, _ = env.reset(seed=3)
    policy = sb3_policy(model, deterministic=True)
    state, start = None, np.ones(1, dtype=bool)
    for _ in range(6):  # the same chain by hand
        expected, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        start = np.zeros(1, dtype=bool)
        assert policy(obs) == expected
    assert state is not None
    torch.testing.assert_close(policy._state[0], state[0])
    policy.reset()
    assert policy._state is None and policy._start.all()


class Recorder:
    """A model whose ``predict`` records what it is given and hands out a counter as its state."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, np.ndarray]] = []

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        self.calls.append((state, episode_start.copy()))
        n = len(obs["direction"])
        return np.full(n, 2), (0 if state is None else state + 1)  # 2: forward


def test_play_levels_hands_the_state_back_and_starts_episodes_once() -> None:
    model = Recorder()
    generator = heldout_generator("FourRooms")
    rng = np.random.default_rng(0)
    levels = [generator.sample(rng) for _ in range(3)]
    play_levels(model, levels, max_steps=5)
    states = [state for state, _ in model.calls]
    assert states == [None, *range(len(states) - 1)]
    assert model.calls[0][1].all() and not any(start.any() for _, start in model.calls[1:])


def tiny_recurrent(out: Path, total: int) -> dict[str, Any]:
    ppo = {"n_steps": 16, "batch_size": 64, "n_epochs": 1, "learning_rate": 1e-3}
    policy = {"net_arch": [8], "conv_filters": 4, "lstm_hidden": 8}
    return {
        "method": "paired",
        "env": {"id": "advrl/Maze-v0", "kwargs": {"size": 7, "max_steps": 12}, "num_levels": 4},
        "protagonist": {"ppo": ppo, "policy": policy},
        "antagonist": {"ppo": ppo, "policy": policy},
        "adversary": {
            "ppo": {**ppo, "batch_size": 20},
            "policy": policy,
            "wall_budget": 3,
            "noise_dim": 2,
        },
        "train": {
            "total_timesteps": total,
            "seed": 0,
            "eval_every": 128,
            "eval_episodes": 2,
            "eval_levels": ["FourRooms"],
            "image_every": 0,
            "checkpoint_every": 128,
        },
        "out_dir": str(out),
        "name": "paired",
    }


def final_params(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    latest = max(run.glob("checkpoints/step_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
    state = read_state(latest)
    return {role: a["params"]["policy"] for role, a in state["agents"].items()}


def test_paired_with_recurrent_agents_trains_evaluates_and_resumes_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = tmp_path / "whole.yaml"
    whole.write_text(yaml.safe_dump(tiny_recurrent(tmp_path / "a", 256)))
    assert main(["train", "paired", "--config", str(whole)]) == 0
    run_a = tmp_path / "a" / "paired"
    params = final_params(run_a)
    assert {"protagonist", "antagonist", "adversary"} <= params.keys()
    assert all(any("lstm_actor" in k for k in p) for p in params.values())
    summary = json.loads((run_a / "summary.json").read_text())
    assert "FourRooms" in summary["eval"]["stochastic"]
    capsys.readouterr()
    assert main(["eval", str(run_a), "--levels", "FourRooms", "--episodes", "2"]) == 0
    assert "FourRooms" in capsys.readouterr().out

    cut = tmp_path / "cut.yaml"
    cut.write_text(yaml.safe_dump(tiny_recurrent(tmp_path / "b", 128)))
    assert main(["train", "paired", "--config", str(cut)]) == 0
    run_b = tmp_path / "b" / "paired"
    assert (
        main(["train", "paired", "--resume", str(run_b), "--set", "train.total_timesteps=256"]) == 0
    )
    resumed = final_params(run_b)
    for role, tensors in params.items():
        for name, tensor in tensors.items():
            torch.testing.assert_close(resumed[role][name], tensor, rtol=0, atol=0)


def test_recurrent_policies_are_refused_where_unsupported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = Path(__file__).resolve().parents[1] / "configs"
    out = ["--set", f"out_dir={tmp_path}", "--set", "policy.lstm_hidden=8"]
    robust = ["train", "ppo", "--config", str(configs / "robust-cartpole.yaml"), *out]
    assert main(robust) == 2
    assert "feed-forward policies" in capsys.readouterr().err
    assert main(["train", "gail", "--config", str(configs / "gail-cartpole.yaml"), *out]) == 2
    assert "drop policy.lstm_hidden" in capsys.readouterr().err
    expert = ["train", "ppo", "--config", str(configs / "expert-cartpole.yaml")]
    bad = [*expert, "--set", f"out_dir={tmp_path}", "--set", "policy.lstm_hidden=0"]
    assert main(bad) == 2
    assert "policy.lstm_hidden must be positive" in capsys.readouterr().err
    assert main([*expert, *out, "--set", "policy.dual_bn=true"]) == 2
    assert "policy.dual_bn (AdvProp) is for feed-forward policies" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_attacks_refuse_a_recurrent_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = Path(__file__).resolve().parents[1] / "configs" / "expert-cartpole.yaml"
    tiny = [
        "policy.lstm_hidden=4",
        "env.n_envs=2",
        "ppo.n_steps=16",
        "ppo.batch_size=32",
        "train.total_timesteps=32",
        "train.eval_every=0",
        "train.eval_episodes=1",
        "train.progress_bar=false",
        f"out_dir={tmp_path}",
        "name=lstm",
    ]
    sets = [x for t in tiny for x in ("--set", t)]
    assert main(["train", "ppo", "--config", str(config), *sets]) == 0
    capsys.readouterr()
    run = str(tmp_path / "lstm")
    assert main(["eval", run, "--attack", "pgd", "--eps", "0,0.1", "--no-plot"]) == 2
    assert "feed-forward policy" in capsys.readouterr().err
    assert main(["eval", run, "--episodes", "2"]) == 0  # plain evaluation carries the state


def test_recording_demos_starts_each_episode_afresh() -> None:
    from advrl.gail.record import record_demos

    class Counting:
        def __init__(self) -> None:
            self.resets = 0

        def reset(self) -> None:
            self.resets += 1

        def __call__(self, obs: Any) -> int:
            return 0

    policy = Counting()
    record_demos(gym.make("CartPole-v1"), policy, 3, random_episodes=1)
    assert policy.resets == 3
