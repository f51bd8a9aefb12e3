"""ASAF: the loss in closed form, D as the policy ratio, pieces, and that fitting imitates."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

import advrl  # noqa: F401
from advrl.agents import make_ppo
from advrl.gail import ASAF, Demonstrations, asaf_logits, asaf_loss, behaviour_clone, cut
from advrl.gail.asaf import Pieces


def test_asaf_loss_equals_closed_form() -> None:
    """Pieces of 3, 1 and 2 steps: D = P_theta / (P_theta + P_G), loss = BCE(expert 1, gen 0)."""
    logp_theta = torch.tensor([-0.1, -0.2, -0.3, -1.5, -0.7, -0.2])
    logp_g = torch.tensor([-0.5, -0.4, -0.1, -0.9, -0.3, -0.6])
    segments = torch.tensor([0, 0, 0, 1, 2, 2])
    logits = asaf_logits(logp_theta, logp_g, segments, 3)
    p_theta = np.exp([-0.6, -1.5, -0.9])
    p_g = np.exp([-1.0, -0.9, -0.9])
    d = p_theta / (p_theta + p_g)
    np.testing.assert_allclose(torch.sigmoid(logits).numpy(), d, rtol=1e-6)
    expert, gen = logits[:2], logits[2:]  # pieces 0, 1 are the expert's, piece 2 generated
    expected = -np.mean(np.log(d[:2])) - np.mean(np.log(1 - d[2:]))
    assert float(asaf_loss(expert, gen)) == pytest.approx(expected, rel=1e-6)


def test_cut_into_windows_and_rows() -> None:
    starts, lengths = cut(np.array([5, 3]), 2)
    np.testing.assert_array_equal(starts, [0, 2, 4, 5, 7])
    np.testing.assert_array_equal(lengths, [2, 2, 1, 2, 1])
    starts, lengths = cut(np.array([5, 3]), None)
    np.testing.assert_array_equal(starts, [0, 5])
    np.testing.assert_array_equal(lengths, [5, 3])
    pieces = Pieces(np.zeros((8, 1)), np.zeros(8), np.zeros(8), *cut(np.array([5, 3]), 2))
    rows, segment = pieces.rows(np.array([3, 1]))
    np.testing.assert_array_equal(rows, [5, 6, 2, 3])
    np.testing.assert_array_equal(segment, [0, 0, 1, 1])


def always(action: int, env_id: str = "CartPole-v1", episodes: int = 4) -> Demonstrations:
    """Demonstrations of a policy that always takes ``action``."""
    env = gym.make(env_id)
    obs, acts, lengths = [], [], []
    for i in range(episodes):
        o, _ = env.reset(seed=i)
        obs.append(o)
        done, t = False, 0
        while not done:
            o, _, term, trunc, _ = env.step(action)
            obs.append(o)
            acts.append(action)
            t += 1
            done = term or trunc
        lengths.append(t)
    return Demonstrations(
        obs=np.array(obs),
        acts=np.array(acts),
        rews=np.ones(len(acts)),
        lengths=np.array(lengths),
        terminated=np.ones(episodes, bool),
        truncated=np.zeros(episodes, bool),
    )


def tiny_model(env_id: str = "CartPole-v1", n_envs: int = 2, seed: int = 0) -> object:
    venv = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    return make_ppo(venv, net_arch=[16], seed=seed, n_steps=16, batch_size=32)


@pytest.mark.parametrize("window", [None, 3, 1])
def test_generated_pieces_start_at_d_one_half_and_cover_every_step(window: int | None) -> None:
    """Right after playing pi_G, pi_theta = pi_G: every generated piece has logit 0 (D = 1/2)."""
    model = tiny_model()
    trainer = ASAF(
        model=model, demos=always(1), window=window, rollout_episodes=3, rollout_steps=40
    )
    pieces, steps = trainer.collect()
    assert model.num_timesteps == steps  # type: ignore[attr-defined]
    if window is None:
        assert len(pieces) == 3
    else:
        assert pieces.lengths.max() <= window and pieces.lengths.sum() == steps
    logits = trainer._piece_logits(pieces, np.arange(len(pieces)))
    torch.testing.assert_close(logits, torch.zeros_like(logits), atol=1e-4, rtol=0)


def test_generated_log_probs_hold_for_continuous_actions() -> None:
    """Pendulum: stored log-probs are of the unclipped Gaussian samples the policy drew."""
    model = tiny_model("Pendulum-v1")
    env = gym.make("Pendulum-v1")
    demos = Demonstrations(
        obs=np.zeros((6, 3), np.float32),
        acts=np.zeros((5, 1), np.float32),
        rews=np.zeros(5),
        lengths=np.array([5]),
        terminated=np.array([False]),
        truncated=np.array([True]),
    )
    demos.check_spaces(env.observation_space, env.action_space)
    trainer = ASAF(model=model, demos=demos, window=4, rollout_steps=20)
    pieces, _ = trainer.collect()
    logits = trainer._piece_logits(pieces, np.arange(len(pieces)))
    torch.testing.assert_close(logits, torch.zeros_like(logits), atol=1e-4, rtol=0)


@pytest.mark.parametrize("window", [None, 1])
def test_asaf_moves_the_policy_towards_the_expert(window: int | None) -> None:
    model = tiny_model(seed=1)
    demos = always(1)
    trainer = ASAF(
        model=model,
        demos=demos,
        window=window,
        rollout_episodes=4,
        rollout_steps=64,
        n_epochs=5,
        batch_size=4 if window is None else 32,
        learning_rate=3e-3,
    )
    policy = model.policy  # type: ignore[attr-defined]
    obs = torch.as_tensor(demos.transitions().obs)

    def p_expert() -> float:
        with torch.no_grad():
            return float(policy.get_distribution(obs).distribution.probs[:, 1].mean())

    before = p_expert()
    seen: list[dict[str, float]] = []
    trainer.learn(600, callback=lambda t, stats: seen.append(stats))
    assert p_expert() > max(before + 0.2, 0.8)
    assert seen and {"loss", "expert_acc", "generator_acc"} <= set(seen[-1])


def test_behaviour_cloning_fits_the_expert() -> None:
    model = tiny_model(seed=2)
    demos = always(0)
    losses = behaviour_clone(model.policy, demos, epochs=20, batch_size=64, learning_rate=1e-2)  # type: ignore[attr-defined]
    assert losses[-1] < losses[0]
    with torch.no_grad():
        probs = model.policy.get_distribution(torch.as_tensor(demos.transitions().obs))  # type: ignore[attr-defined]
    assert float(probs.distribution.probs[:, 0].mean()) > 0.9


def test_asaf_rejects_demos_of_another_env() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match=r"obs has shape \(3,\) per step"):
        ASAF(model=model, demos=_pendulum_like())
    with pytest.raises(ValueError, match="window must be"):
        ASAF(model=model, demos=always(0), window=0)


def _pendulum_like() -> Demonstrations:
    return Demonstrations(
        obs=np.zeros((3, 3), np.float32),
        acts=np.zeros(2, np.int64),
        rews=np.zeros(2),
        lengths=np.array([2]),
        terminated=np.array([True]),
        truncated=np.array([False]),
    )
