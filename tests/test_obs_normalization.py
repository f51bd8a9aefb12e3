"""Attacks under SB3's VecNormalize: eps in the env's units, the policy at the normalization."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecFrameStack, VecNormalize

from advrl.agents import AdversarialTraining, RobustPPO, make_ppo
from advrl.agents.attacks import AttackedVecEnv, ObservationAttack, attacked_actions
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.policy_inputs import PolicyInput
from advrl.agents.robust.regularizers import SASettings
from advrl.eval.robustness import robustness_curve

MEAN = np.array([0.1, -0.1, 0.05, 0.2], dtype=np.float32)
VAR = np.array([4.0, 0.01, 0.25, 9.0], dtype=np.float32)
"""Statistics far from (0, 1): an attack in the wrong units is off by up to 10x."""


def normalized_cartpole(n_envs: int = 3, seed: int = 5, clip_obs: float = 100.0) -> VecNormalize:
    venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed), clip_obs=clip_obs)
    venv.obs_rms.mean, venv.obs_rms.var = MEAN.astype(np.float64), VAR.astype(np.float64)
    venv.training = False  # the statistics stay as set
    return venv


@pytest.fixture(scope="module")
def policy():
    model = make_ppo(gym.make("CartPole-v1"), net_arch=[16], seed=0, n_steps=32, batch_size=32)
    return model.policy


def test_the_normalizer_is_vec_normalize_and_inverts_it() -> None:
    venv = normalized_cartpole(clip_obs=5.0)
    normalizer = ObservationNormalizer.from_vec_normalize(venv)
    assert normalizer is not None
    raw = np.random.default_rng(0).normal(0.0, 4.0, size=(64, 4)).astype(np.float32)
    ours = normalizer(torch.as_tensor(raw))
    np.testing.assert_allclose(ours.numpy(), venv.normalize_obs(raw), rtol=1e-5, atol=1e-6)
    assert (ours.abs() == 5.0).any()  # some values clipped
    back = normalizer(normalizer.unnormalize(ours))
    torch.testing.assert_close(back, ours)
    with pytest.raises(ValueError, match=r"do not match the normalization statistics' shape"):
        normalizer(torch.zeros(2, 3))


def test_no_normalizer_where_observations_are_not_normalized() -> None:
    venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=1), norm_obs=False)
    assert ObservationNormalizer.from_vec_normalize(venv) is None
    assert ObservationNormalizer.of_env(make_vec_env("CartPole-v1", n_envs=1)) is None
    assert ObservationNormalizer.of_env(VecFrameStack(normalized_cartpole(), 2)) is not None


def test_dict_observations_under_vec_normalize_are_refused() -> None:
    venv = VecNormalize(make_vec_env("advrl/Maze-Small-v0", n_envs=1), norm_obs_keys=["image"])
    with pytest.raises(ValueError, match="need Box observations"):
        ObservationNormalizer.from_vec_normalize(venv)


def test_attacked_vec_env_perturbs_raw_observations_in_env_units(policy) -> None:
    eps = 0.05
    plain = normalized_cartpole()
    attacked = AttackedVecEnv(normalized_cartpole(), policy, ObservationAttack(eps=eps))
    normalizer = ObservationNormalizer.from_vec_normalize(plain)
    assert normalizer is not None
    plain.reset()
    obs_a = attacked.reset()
    for t in range(30):
        raw = plain.get_original_obs()
        raw_adv = normalizer.unnormalize(torch.as_tensor(obs_a)).numpy()
        delta = np.abs(raw_adv - raw)
        assert delta.max() <= eps + 1e-5  # the ball is in the env's units...
        assert delta.max() >= 0.5 * eps  # ...and the attack uses it
        np.testing.assert_allclose(  # the policy sees the normalization of the perturbed raw obs
            obs_a, plain.normalize_obs(raw_adv), rtol=1e-5, atol=1e-5
        )
        actions = np.array([t % 2, 1, 0])
        _, rew_p, done_p, _ = plain.step(actions)
        obs_a, rew_a, done_a, _ = attacked.step(actions)
        np.testing.assert_array_equal(rew_p, rew_a)
        np.testing.assert_array_equal(done_p, done_a)


def test_attacked_vec_env_must_sit_directly_above_vec_normalize(policy) -> None:
    stacked = VecFrameStack(normalized_cartpole(), 1)
    with pytest.raises(ValueError, match="directly above the VecNormalize"):
        AttackedVecEnv(stacked, policy, ObservationAttack(eps=0.05))


def test_the_gradient_is_taken_through_the_normalization(policy) -> None:
    """FGSM (CE) on raw observations: each coordinate moves by eps along the sign of the
    objective's gradient in raw units, i.e. through the normalization's chain rule."""
    normalizer = ObservationNormalizer.from_vec_normalize(normalized_cartpole())
    assert normalizer is not None
    raw = torch.as_tensor(
        np.random.default_rng(1).normal(MEAN, 0.05, size=(16, 4)), dtype=torch.float32
    )
    target = PolicyInput(policy, raw, normalizer)
    adv = ObservationAttack(method="fgsm", eps=0.01, objective="ce").perturb(target, target.x)
    normalized = normalizer(raw).detach().requires_grad_(True)
    dist = policy.get_distribution(normalized)
    chosen = dist.mode().detach()
    (-dist.log_prob(chosen)).sum().backward()
    assert normalized.grad is not None
    # d/d raw = d/d normalized / scale (inside the clip range), whose sign is the same.
    inside = (normalizer(raw).abs() < normalizer.clip_obs).all(1)
    expected = 0.01 * torch.sign(normalized.grad / normalizer.scale)
    torch.testing.assert_close((adv - raw)[inside], expected[inside], rtol=0, atol=1e-6)


def test_attacked_actions_and_curves_take_raw_observations() -> None:
    venv = normalized_cartpole()
    normalizer = ObservationNormalizer.from_vec_normalize(venv)
    model = make_ppo(gym.make("CartPole-v1"), net_arch=[16], seed=0, n_steps=32, batch_size=32)
    raw = np.random.default_rng(2).normal(MEAN, 0.3, size=(8, 4)).astype(np.float32)
    act = attacked_actions(
        model, ObservationAttack(eps=0.0), True, torch.Generator(), normalizer=normalizer
    )
    expected, _ = model.predict(venv.normalize_obs(raw), deterministic=True)
    np.testing.assert_array_equal(act(raw), expected)
    points = robustness_curve(
        model,
        lambda: gym.make("CartPole-v1"),
        ObservationAttack(eps=0.0),
        [0.0, 0.05],
        episodes=3,
        seed=0,
        normalizer=normalizer,
    )
    assert [p.eps for p in points] == [0.0, 0.05]


def test_robust_ppo_attacks_raw_observations_under_vec_normalize() -> None:
    seen = []

    class Spy(RobustPPO):
        def attack(self, target, eps, objective=None):
            adv = super().attack(target, eps, objective)
            buffer = torch.as_tensor(self.rollout_buffer.observations.reshape(-1, 4))
            seen.append((target, adv, eps, buffer))
            return adv

    venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0))
    at = AdversarialTraining(method="pgd_at", eps=0.05, steps=3)
    model = Spy("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0, adversarial=at)
    model.learn(64)
    assert seen
    for target, adv, eps, buffer in seen:
        assert target.normalizer is not None
        clean_input = target.policy_input(target.x)
        assert not torch.allclose(clean_input, target.x)  # raw and normalized units differ
        # the policy's clean input is the normalized observation the rollout buffer holds
        distance = torch.cdist(clean_input, buffer, compute_mode="donot_use_mm_for_euclid_dist")
        assert distance.min(1).values.max() < 1e-4
        assert (adv - target.x).abs().max() <= eps + 1e-5  # the ball in the env's units


@pytest.mark.parametrize("method", ["fast_bat", "sa", "simaug"])
def test_each_method_trains_under_vec_normalize(method: str) -> None:
    """The same rollouts with a ball of radius 0.05 in the env's units and of radius 0: the
    updates differ (the attack reaches the loss through the normalization), and stay finite."""
    params = []
    for eps in (0.0, 0.05):
        venv = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0))
        sa = {"term": SASettings(coef=10.0)} if method == "sa" else {}
        at = AdversarialTraining(method=method, eps=eps, steps=2, **sa)
        model = RobustPPO(
            "MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0, adversarial=at
        )
        model.learn(32)  # one rollout, one update
        params.append(torch.cat([p.detach().flatten() for p in model.policy.parameters()]))
    assert (params[1] - params[0]).abs().max() > 1e-6
    assert torch.isfinite(params[1]).all()
