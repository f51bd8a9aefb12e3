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


def test_perturbed_observations_stay_in_the_ball_and_leave_the_env_alone() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    from advrl.agents.robust.atla import PerturbedObservations

    clean = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    wrapped = PerturbedObservations(make_vec_env("CartPole-v1", n_envs=2, seed=0))
    assert np.array_equal(wrapped.reset(), clean.reset())  # no adversary yet: unchanged
    wrapped.adversary, wrapped.eps = _GaussianAdversary(), 0.2  # type: ignore[assignment]
    for _ in range(10):
        actions = np.array([0, 1])
        seen, r1, d1, _ = wrapped.step(actions)
        truth, r2, d2, _ = clean.step(actions)
        assert np.abs(seen - truth).max() <= 0.2 + 1e-6 and np.abs(seen - truth).max() > 0
        assert np.array_equal(r1, r2) and np.array_equal(d1, d2)  # the env moved the same


class _GaussianAdversary:
    """A stand-in adversary policy: large random actions (clipped to the unit box)."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def predict(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, None]:
        return self.rng.normal(0, 5, obs.shape).astype(np.float32), None


def test_atla_alternates_the_adversary_with_the_agent_and_resumes(tmp_path: Path) -> None:
    """``adversarial.method: atla``: before each of the agent's rollouts the adversary takes one
    iteration of its own; the checkpoint holds both, and a resumed run goes on."""
    from advrl.runners.checkpoints import read_checkpoint

    config = str(Path(__file__).parents[1] / "configs" / "robust-cartpole.yaml")
    argv = ["train", "ppo", "--config", config, "-q"]
    argv += sets("adversarial.method=atla", "adversarial.eps=0.1", "adversarial.eps_warmup=0")
    argv += sets("env.n_envs=2", "ppo.n_steps=32", "ppo.batch_size=32", "ppo.n_epochs=1")
    argv += sets("train.total_timesteps=192", "train.checkpoint_every=64", "train.eval_episodes=2")
    argv += sets(f"out_dir={tmp_path}", "name=atla")
    assert main(argv) == 0
    run = tmp_path / "atla"
    state = read_checkpoint(run / "checkpoints" / "step_192.pt")
    agent_steps = state["agents"]["policy"]["num_timesteps"]
    adversary_steps = state["trainer"]["adversary"]["num_timesteps"]
    assert agent_steps == 192 and adversary_steps == 192  # one iteration each, in turn
    more = ["train", "ppo", "--resume", str(run), "--set", "train.total_timesteps=256", "-q"]
    assert main(more) == 0
    resumed = read_checkpoint(run / "checkpoints" / "step_256.pt")
    assert resumed["trainer"]["adversary"]["num_timesteps"] == 256


def test_atla_on_the_maze_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(Path(__file__).parents[1] / "configs" / "ppo-maze.yaml")
    argv = [
        "train",
        "ppo",
        "--config",
        config,
        *sets("adversarial.method=atla", f"out_dir={tmp_path}"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "learned adversary perturbs Box observations" in err


def test_the_learned_attack_in_advrl_eval_is_the_attackers_own_episodes(
    victim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``advrl eval VICTIM --attack learned --adversary ATTACKER`` plays the trained adversary's
    greedy perturbation: at the attacker's eps, on the same seeds, the victim's return is exactly
    minus the attacker run's own greedy evaluation."""
    config = str(Path(__file__).parents[1] / "configs" / "attacker.yaml")
    argv = ["train", "ppo", "--config", config, "-q"]
    argv += sets(f"env.kwargs.victim={victim}", "env.kwargs.eps=0.5", "train.total_timesteps=128")
    argv += sets("ppo.n_steps=64", "ppo.batch_size=64", "env.n_envs=2", f"out_dir={tmp_path}")
    argv += sets("name=adv", "train.eval_episodes=3")
    assert main(argv) == 0
    summary = json.loads((tmp_path / "adv" / "summary.json").read_text())
    attacked = -summary["eval"]["policy_deterministic"]["mean_return"]
    evaluate = ["eval", str(victim), "--attack", "learned", "--adversary", str(tmp_path / "adv")]
    evaluate += ["--eps", "0,0.5", "--eps-units", "normalized", "--episodes", "3"]
    assert main([*evaluate, "--out", str(tmp_path), "--no-plot", "-q"]) == 0
    curve = json.loads((tmp_path / "robustness-learned.json").read_text())["runs"]["v"]["curve"]
    assert curve[1]["mean_return"] == pytest.approx(attacked)
    capsys.readouterr()
    assert main(["eval", str(victim), "--attack", "learned", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--adversary RUN" in err
    wrong = ["eval", str(victim), "--attack", "learned", "--adversary", str(victim), "--no-plot"]
    assert main([*wrong, "--episodes", "1"]) == 2  # a run that is no attacker of this victim
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "configs/attacker.yaml" in err


def test_the_adversary_envs_random_state_is_its_victims_env(victim: Path) -> None:
    """A checkpoint saves ``env.unwrapped.np_random`` of each env: for the attacker's env that is
    the wrapped env's generator, so a resumed attacker's episodes go on as they would have."""
    env = adversary_env(victim, 0.3, "normalized")
    env.reset(seed=5)
    state = env.np_random.bit_generator.state
    assert state == env.env.unwrapped.np_random.bit_generator.state
    first = [env.step(np.zeros(4, np.float32))[0] for _ in range(3)]
    env.reset(seed=5)
    env.np_random.bit_generator.state = state
    assert all(np.array_equal(a, env.step(np.zeros(4, np.float32))[0]) for a in first)
