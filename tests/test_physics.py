"""Parameterized physics envs: defaults are the standard envs; levels change the dynamics."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

STANDARD = [
    ("advrl/CartPole-v1", "CartPole-v1"),
    ("advrl/Pendulum-v1", "Pendulum-v1"),
    ("advrl/Acrobot-v1", "Acrobot-v1"),
]


@pytest.mark.parametrize(("ours", "theirs"), STANDARD)
def test_defaults_reproduce_the_standard_env_exactly(ours: str, theirs: str) -> None:
    a, b = gym.make(ours), gym.make(theirs)
    assert a.observation_space == b.observation_space and a.action_space == b.action_space
    b.action_space.seed(0)
    for episode in range(3):
        oa, _ = a.reset(seed=episode)
        ob, _ = b.reset(seed=episode)
        np.testing.assert_array_equal(oa, ob)
        for _ in range(300):
            action = b.action_space.sample()
            oa, ra, ta, ua, _ = a.step(action)
            ob, rb, tb, ub, _ = b.step(action)
            np.testing.assert_array_equal(oa, ob)
            assert (ra, ta, ua) == (rb, tb, ub)
            if ta or ua:
                break


def test_pendulum_without_gravity_keeps_its_angular_velocity() -> None:
    env = gym.make("advrl/Pendulum-v1")
    obs, info = env.reset(seed=0, options={"level": {"g": 0.0}})
    assert info["level"]["g"] == 0.0 and info["level"]["m"] == 1.0
    for _ in range(50):
        new, *_ = env.step(np.array([0.0], dtype=np.float32))
        assert new[2] == pytest.approx(obs[2], abs=1e-6)
    with_gravity = gym.make("advrl/Pendulum-v1")
    obs, _ = with_gravity.reset(seed=0)
    new, *_ = with_gravity.step(np.array([0.0], dtype=np.float32))
    assert abs(new[2] - obs[2]) > 1e-3


def test_pendulum_torque_limit_clips() -> None:
    weak, strong = gym.make("advrl/Pendulum-v1"), gym.make("advrl/Pendulum-v1")
    ow, _ = weak.reset(seed=1, options={"level": {"max_torque": 0.0, "g": 0.0}})
    strong.reset(seed=1, options={"level": {"g": 0.0}})
    nw, *_ = weak.step(np.array([2.0], dtype=np.float32))
    ns, *_ = strong.step(np.array([2.0], dtype=np.float32))
    assert nw[2] == pytest.approx(ow[2], abs=1e-6) and ns[2] > nw[2] + 0.1


def test_cartpole_gravity_and_derived_masses() -> None:
    env = gym.make("advrl/CartPole-v1")
    env.reset(seed=0, options={"level": {"masspole": 0.5, "length": 1.0}})
    inner = env.unwrapped
    assert inner.total_mass == pytest.approx(1.5) and inner.polemass_length == pytest.approx(0.5)
    # One step from a tilted pole at rest: gravity adds tau * g sin(theta) / (l (4/3 - mp cos^2 / M))
    # to the angular velocity, whatever the push.
    omegas = []
    for gravity in (0.0, 20.0):
        env.reset(seed=0, options={"level": {"gravity": gravity}})
        inner.state = np.array([0.0, 0.0, 0.05, 0.0])
        obs, *_ = env.step(1)
        omegas.append(float(obs[3]))
    theta, mp, total, half_length = 0.05, 0.1, 1.1, 0.5
    expected = (
        0.02 * 20.0 * np.sin(theta) / (half_length * (4 / 3 - mp * np.cos(theta) ** 2 / total))
    )
    assert omegas[1] - omegas[0] == pytest.approx(expected, rel=1e-5)


def test_acrobot_parameters_change_dynamics() -> None:
    a, b = gym.make("advrl/Acrobot-v1"), gym.make("advrl/Acrobot-v1")
    a.reset(seed=0)
    b.reset(seed=0, options={"level": {"link_mass_2": 3.0}})
    oa = [a.step(2)[0] for _ in range(5)][-1]
    ob = [b.step(2)[0] for _ in range(5)][-1]
    assert not np.allclose(oa, ob)


@pytest.mark.parametrize(
    ("level", "problem"),
    [
        ({"gravity": 25.0}, "'gravity' = 25.0 is out of range \\[0.0, 20.0\\]"),
        ({"gravity": float("nan")}, "out of range"),
        ({"gravty": 1.0}, "unknown parameter\\(s\\) \\['gravty'\\].*valid: \\['force_mag'"),
        ({"gravity": [1.0, 2.0]}, "must be a scalar"),
        ([1.0], "is a dict of parameters"),
    ],
)
def test_bad_levels_are_clear_errors(level, problem: str) -> None:
    env = gym.make("advrl/CartPole-v1")
    with pytest.raises(ValueError, match=problem):
        env.reset(seed=0, options={"level": level})


@pytest.mark.parametrize(
    "env_id", ["advrl/CartPole-DR-v1", "advrl/Pendulum-DR-v1", "advrl/Acrobot-DR-v1"]
)
def test_domain_randomization_draws_seeded_levels_in_range(env_id: str) -> None:
    env = gym.make(env_id)
    space = env.unwrapped.level_space
    levels = [env.reset(seed=s)[1]["level"] for s in range(10)]
    assert levels == [gym.make(env_id).reset(seed=s)[1]["level"] for s in range(10)]
    for level in levels:
        assert space.contains({k: np.array(v) for k, v in level.items()})
    assert len({tuple(lvl.values()) for lvl in levels}) == 10


def test_level_space_sample_is_a_valid_level() -> None:
    env = gym.make("advrl/Pendulum-v1")
    space = env.unwrapped.level_space
    space.seed(0)
    _, info = env.reset(seed=0, options={"level": space.sample()})
    assert set(info["level"]) == {"g", "m", "l", "max_torque"}
