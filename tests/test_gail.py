"""GAIL: the reward PPO trains on is the discriminator's, and the trainer's state round-trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

import advrl  # noqa: F401
from advrl.agents import make_ppo
from advrl.episodes import random_policy
from advrl.gail import GAIL, Discriminator, DiscriminatorReward, record_demos
from advrl.gail.discriminator import reward_from_logits


def cartpole_demos():  # type: ignore[no-untyped-def]
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    return record_demos(env, random_policy(env.action_space, 0), 3, random_episodes=2)


def cartpole_parts():  # type: ignore[no-untyped-def]
    """GAIL's collaborators on CartPole, tiny: two envs, a PPO of one 8-unit layer, a D alike."""
    venv = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = make_ppo(venv, net_arch=[8], seed=0, n_steps=32, batch_size=32, n_epochs=1)
    disc = Discriminator(venv.observation_space, venv.action_space, net_arch=(8,))
    return venv, model, disc


def test_reward_wrapper_replaces_rewards_and_keeps_pairs() -> None:
    venv = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    torch.manual_seed(0)
    disc = Discriminator(venv.observation_space, venv.action_space, net_arch=(8,))
    env = DiscriminatorReward(venv, disc, form="logd", normalize=False)
    obs = env.reset()
    seen_obs, seen_acts = [], []
    for t in range(30):
        acts = np.array([t % 2, (t // 2) % 2])
        seen_obs.append(obs)
        seen_acts.append(acts)
        expected = reward_from_logits(disc(obs, acts).detach(), "logd").numpy()
        obs, rewards, _, infos = env.step(acts)
        np.testing.assert_allclose(rewards, expected, rtol=1e-6)
        assert all(info["env_reward"] == 1.0 for info in infos)
    pair_obs, pair_acts, absorbing, raw = env.take_samples()
    assert absorbing is None
    np.testing.assert_array_equal(pair_obs, np.concatenate(seen_obs))
    np.testing.assert_array_equal(pair_acts, np.concatenate(seen_acts))
    assert raw.shape == (60,) and (raw < 0).all()
    with pytest.raises(RuntimeError, match="no steps"):
        env.take_samples()


def test_ppo_trains_on_the_discriminator_reward() -> None:
    """With D frozen (lr 0), PPO's buffer holds exactly D's rewards of the (s, a) it played."""
    venv, model, disc = cartpole_parts()
    trainer = GAIL(
        venv=venv,
        model=model,
        discriminator=disc,
        demos=cartpole_demos(),
        normalize_reward=False,
        learning_rate=0.0,
        batch_size=16,
    )
    trainer.learn(64)
    buffer = model.rollout_buffer  # after PPO's update its arrays are flattened env-major
    obs = buffer.observations.reshape(-1, 4)
    acts = buffer.actions.reshape(-1).astype(np.int64)
    expected = disc.reward(obs, acts)
    np.testing.assert_allclose(buffer.rewards.swapaxes(0, 1).reshape(-1), expected, rtol=1e-5)
    assert trainer.rounds == 1  # one rollout of 2 envs x 32 steps


def test_gail_logs_and_state_round_trip() -> None:
    venv, model, disc = cartpole_parts()
    demos = cartpole_demos()
    trainer = GAIL(
        venv=venv,
        model=model,
        discriminator=disc,
        demos=demos,
        batch_size=16,
        grad_penalty=1.0,
        svc_bound=2.0,
    )
    trainer.learn(128)
    state = trainer.state_dict()
    other_disc = Discriminator(venv.observation_space, venv.action_space, net_arch=(8,))
    other = GAIL(
        venv=make_vec_env("CartPole-v1", n_envs=2, seed=1),
        model=make_ppo(make_vec_env("CartPole-v1", n_envs=2), net_arch=[8], n_steps=32),
        discriminator=other_disc,
        demos=demos,
        svc_bound=2.0,
    )
    other.load_state_dict(state)
    for a, b in zip(disc.parameters(), other_disc.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert other.rounds == trainer.rounds == 2
    assert other.reward_env.return_rms.count == trainer.reward_env.return_rms.count
    assert other.svc is not None and other.svc.calls == trainer.svc.calls  # type: ignore[union-attr]


def test_gail_rejects_demos_of_another_env() -> None:
    venv = make_vec_env("Pendulum-v1", n_envs=1)
    model = make_ppo(venv, net_arch=[8], n_steps=16, batch_size=16)
    with pytest.raises(ValueError, match="obs has shape"):
        GAIL(
            venv=venv,
            model=model,
            discriminator=Discriminator(venv.observation_space, venv.action_space),
            demos=cartpole_demos(),
        )


def test_accuracy_on_seen_and_unseen_expert_steps() -> None:
    """D's accuracy on the training demos and on demos it never trains on, by hand."""
    venv, model, disc = cartpole_parts()
    demos = cartpole_demos()
    trainer = GAIL(
        venv=venv,
        model=model,
        discriminator=disc,
        demos=demos.head(1),
        unseen_demos=demos.episodes(1, 3),
        batch_size=16,
    )
    trainer.learn(64)  # one round of D updates
    unseen = demos.episodes(1, 3).transitions()
    rows = np.random.default_rng(0).permutation(len(unseen))[:16]
    with torch.no_grad():
        expected = float((disc(unseen.obs[rows], unseen.acts[rows]) > 0).float().mean())
    assert trainer._expert_accuracy(*trainer._probes[1]) == expected
    seen = demos.head(1).transitions()
    rows = np.random.default_rng(0).permutation(len(seen))[:16]
    with torch.no_grad():
        expected = float((disc(seen.obs[rows], seen.acts[rows]) > 0).float().mean())
    assert trainer._expert_accuracy(*trainer._probes[0]) == expected
    assert trainer.unseen is not None and len(trainer.unseen) == len(unseen)
