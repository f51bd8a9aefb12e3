"""The learned observation attack (ATLA's optimal attack): an adversary policy whose action is the
perturbation of what a frozen victim sees, rewarded with minus the victim's reward."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from advrl.agents.attacks.learned import ObservationAdversaryEnv
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.cli import main
from advrl.envs.vector import make_env
from advrl.runners.loading import load_run


def sets(*items: str) -> list[str]:
    return [x for item in items for x in ("--set", item)]


@pytest.fixture(scope="module")
def victim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short CartPole run under observation normalization."""
    out = tmp_path_factory.mktemp("victim")
    argv = ["expert", "train", "--env", "CartPole-v1", "-q"]
    argv += sets("train.total_timesteps=256", "ppo.n_steps=64", "ppo.batch_size=64", "name=v")
    argv += sets(f"out_dir={out}", "train.eval_episodes=1", "env.normalize.obs=true")
    assert main(argv) == 0
    return out / "v"


def adversary_env(victim: Path, eps: float, units: str) -> ObservationAdversaryEnv:
    env = gym.make("advrl/ObservationAdversary-v0", victim=str(victim), eps=eps, eps_units=units)
    unwrapped = env.unwrapped
    assert isinstance(unwrapped, ObservationAdversaryEnv)
    return unwrapped


@pytest.mark.parametrize("units", ["normalized", "env"])
def test_the_perturbation_stays_in_its_ball(victim: Path, units: str) -> None:
    env = adversary_env(victim, 0.3, units)
    normalizer = env.normalizer
    assert normalizer is not None
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(-3, 3, env.action_space.shape).astype(np.float32)  # clipped to [-1, 1]
        seen = torch.as_tensor(env.seen(action))
        if units == "normalized":
            gap = (seen - torch.as_tensor(obs)).abs().max()
        else:  # a raw observation within eps whose normalization the victim sees
            raw = normalizer.unnormalize(seen[None])[0]
            gap = (raw - torch.as_tensor(env.raw)).abs().max()
        assert gap <= 0.3 + 1e-5
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()


def test_no_perturbation_replays_the_victims_own_episode(victim: Path) -> None:
    """With a zero action the adversary's episode is the victim's clean one, its reward negated;
    the env moves only by the victim's actions."""
    loaded = load_run(victim)
    venv = loaded.model.get_env()
    assert venv is not None
    normalizer = ObservationNormalizer.of_env(venv)
    assert normalizer is not None
    env = adversary_env(victim, 0.5, "normalized")
    clean = make_env("CartPole-v1")
    env.reset(seed=3)
    raw, _ = clean.reset(seed=3)
    for _ in range(30):
        seen = normalizer(torch.as_tensor(raw)[None])[0].numpy()
        action, _ = loaded.model.predict(seen, deterministic=True)
        raw, reward, done, cut, _ = clean.step(action)
        _, adv_reward, adv_done, adv_cut, info = env.step(np.zeros(4, np.float32))
        assert np.allclose(env.raw, raw) and adv_reward == -reward == -info["victim_reward"]
        assert (adv_done, adv_cut) == (done, cut)
        if done or cut:
            break


def test_an_attacker_trains_as_a_ppo_run_and_its_return_is_minus_the_victims(
    victim: Path, tmp_path: Path
) -> None:
    argv = [
        "train",
        "ppo",
        "--config",
        str(Path(__file__).parents[1] / "configs" / "attacker.yaml"),
    ]
    argv += sets(f"env.kwargs.victim={victim}", "train.total_timesteps=128", "ppo.n_steps=64")
    argv += sets("ppo.batch_size=64", "env.n_envs=2", f"out_dir={tmp_path}", "name=adv")
    argv += sets("train.eval_episodes=2")
    assert main([*argv, "-q"]) == 0
    summary = json.loads((tmp_path / "adv" / "summary.json").read_text())
    attacked = summary["eval"]["policy_deterministic"]["mean_return"]
    assert attacked <= 0  # minus CartPole's (positive) return
    assert main(["eval", str(tmp_path / "adv"), "--episodes", "2", "-q"]) == 0


def test_a_missing_victim_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "train",
        "ppo",
        "--config",
        str(Path(__file__).parents[1] / "configs" / "attacker.yaml"),
    ]
    assert main([*argv, *sets(f"out_dir={tmp_path}"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "env.kwargs.victim=RUN" in err
