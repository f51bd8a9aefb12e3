"""Every registered advrl env: Gymnasium's and SB3's checkers, seeded determinism, fresh-interpreter make.

Generated from the registry, so a new env is tested the moment it is registered.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from importlib import resources

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import advrl
from advrl.envs import advrl_env_ids

LAYOUT = str(resources.files("advrl.envs").joinpath("layouts", "SixteenRooms.txt"))
SHIPPED_IDS = [i for i in advrl_env_ids() if "MineTest" not in i]
EXTRA_KWARGS: dict[str, dict[str, object]] = {"advrl/MazeLayout-v0": {"layout": LAYOUT}}


@pytest.fixture(scope="module", autouse=True)
def victim(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A tiny trained CartPole run for the learned attack's env to wrap."""
    from advrl.cli import main

    out = tmp_path_factory.mktemp("victim")
    sets = ["train.total_timesteps=64", "ppo.n_steps=32", "ppo.batch_size=32", "name=v"]
    sets += [f"out_dir={out}", "train.eval_episodes=1", "env.normalize.obs=true"]
    argv = ["expert", "train", "--env", "CartPole-v1", "-q"]
    assert main([*argv, *(x for s in sets for x in ("--set", s))]) == 0
    EXTRA_KWARGS["advrl/ObservationAdversary-v0"] = {"victim": str(out / "v"), "eps": 0.5}


def make(env_id: str) -> gym.Env:
    return gym.make(env_id, **EXTRA_KWARGS.get(env_id, {}))


def test_registry_is_complete() -> None:
    ids = set(advrl_env_ids())
    for expected in [
        "advrl/Maze-v0",
        "advrl/MazeDesigner-v0",
        "advrl/Maze-Labyrinth-v0",
        "advrl/Maze-SixteenRooms-v0",
        "advrl/Maze-PerfectMazeMedium-v0",
        "advrl/CartPole-v1",
        "advrl/Pendulum-v1",
        "advrl/Acrobot-v1",
    ]:
        assert expected in ids
    advrl.register_envs()  # idempotent
    assert set(advrl_env_ids()) == ids


@pytest.mark.parametrize("env_id", SHIPPED_IDS)
def test_checkers_pass(env_id: str) -> None:
    env = make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # style advice (36x36 images, [-1, 1] actions) is not failure
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=False)
    env.close()


def rollout(env: gym.Env, seed: int, steps: int = 60) -> list:
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        trace.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            trace.append(obs)
    return trace


@pytest.mark.parametrize("env_id", SHIPPED_IDS)
def test_seeded_rollouts_repeat(env_id: str) -> None:
    a, b = rollout(make(env_id), 3), rollout(make(env_id), 3)
    assert gym.utils.env_checker.data_equivalence(a, b)
    c = rollout(make(env_id), 4)
    assert not gym.utils.env_checker.data_equivalence(a, c)


def test_every_id_makes_in_a_fresh_interpreter() -> None:
    code = (
        "import gymnasium as gym, sys\n"
        f"ids = {SHIPPED_IDS!r}\n"
        f"extra = {EXTRA_KWARGS!r}\n"
        "for i in ids:\n"
        "    env = gym.make('advrl:' + i, **extra.get(i, {}))\n"
        "    env.reset(seed=0)\n"
        "print(len(ids))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(SHIPPED_IDS))
    assert np.all([i.startswith("advrl/") for i in SHIPPED_IDS])
