"""Observation attacks: FGSM's closed form, PGD >= FGSM, balls and bounds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from advrl.agents import make_ppo
from advrl.agents.attacks import ObservationAttack, fgsm, objective_fn, pgd, random_noise


@pytest.fixture(scope="module")
def linear_cartpole():
    """A PPO policy whose action logits are a linear map of the observation (no hidden layer)."""
    model = make_ppo(gym.make("CartPole-v1"), net_arch=[], seed=0, n_steps=32, batch_size=32)
    with torch.no_grad():  # a clearly non-degenerate linear policy
        model.policy.action_net.weight.copy_(
            torch.tensor([[1.0, -2.0, 3.0, 0.5], [-1.0, 1.0, -2.0, 2.0]])
        )
        model.policy.action_net.bias.zero_()
    return model.policy


@pytest.fixture(scope="module")
def pendulum():
    model = make_ppo(gym.make("Pendulum-v1"), net_arch=[16], seed=0, n_steps=32, batch_size=32)
    with torch.no_grad():  # SB3 initializes the action head near zero; give it a real slope
        model.policy.action_net.weight.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(0))
    return model.policy


def observations(n: int = 32, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.uniform(-0.2, 0.2, size=(n, 4)), dtype=torch.float32)


def test_fgsm_is_eps_times_the_gradient_sign_on_a_linear_policy(linear_cartpole) -> None:
    obs, eps = observations(), 0.05
    adv = fgsm(linear_cartpole, obs, eps, objective="ce")
    # -log softmax(W s)[a] has gradient W^T (softmax(W s) - onehot(a)) in s, a the clean argmax.
    w = linear_cartpole.action_net.weight.detach()
    probs = torch.softmax(obs @ w.T, dim=1)
    onehot = torch.nn.functional.one_hot(probs.argmax(1), 2).float()
    expected = eps * torch.sign((probs - onehot) @ w)
    torch.testing.assert_close(adv - obs, expected, rtol=0, atol=1e-6)


def test_fgsm_raises_the_loss(linear_cartpole) -> None:
    obs = observations()
    f = objective_fn(linear_cartpole, obs, "ce")
    with torch.no_grad():
        before, after = f(obs), f(fgsm(linear_cartpole, obs, 0.05))
    assert (after > before).all()


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("objective", ["ce", "kl", "value"])
def test_pgd_beats_fgsm_and_stays_in_the_ball(linear_cartpole, norm: str, objective: str) -> None:
    obs, eps = observations(), 0.1
    gen = torch.Generator().manual_seed(0)
    trace: list[torch.Tensor] = []
    adv = pgd(
        linear_cartpole,
        obs,
        eps,
        objective=objective,
        norm=norm,
        steps=8,
        generator=gen,
        trace=trace,
    )
    f = objective_fn(linear_cartpole, obs, objective)
    gen_f = torch.Generator().manual_seed(0)
    with torch.no_grad():
        assert (
            f(adv)
            >= f(fgsm(linear_cartpole, obs, eps, objective=objective, norm=norm, generator=gen_f))
            - 1e-6
        ).all()
    low = torch.as_tensor(linear_cartpole.observation_space.low)
    high = torch.as_tensor(linear_cartpole.observation_space.high)
    for x in [*trace, adv]:
        delta = x - obs
        size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
        assert (size <= eps + 1e-5).all()
        assert ((x >= low) & (x <= high)).all()
    assert len(trace) == 8


def test_bounds_are_respected_at_the_edge(linear_cartpole) -> None:
    high = torch.as_tensor(linear_cartpole.observation_space.high)
    obs = torch.tensor([[4.8, 0.0, 0.4, 0.0]]).repeat(8, 1)  # at the cart and angle limits
    obs[:, 2] = float(high[2])
    for adv in (pgd(linear_cartpole, obs, 0.5), fgsm(linear_cartpole, obs, 0.5)):
        assert (adv[:, 0] <= 4.8).all() and (adv[:, 2] <= high[2]).all()


def test_value_attack_lowers_the_value(linear_cartpole) -> None:
    obs = observations()
    adv = pgd(linear_cartpole, obs, 0.1, objective="value")
    with torch.no_grad():
        assert (
            linear_cartpole.predict_values(adv) <= linear_cartpole.predict_values(obs) + 1e-6
        ).all()


def test_kl_attack_moves_the_distribution(linear_cartpole) -> None:
    obs = observations()
    gen = torch.Generator().manual_seed(1)
    adv = fgsm(linear_cartpole, obs, 0.1, objective="kl", generator=gen)  # FGSM-RS
    f = objective_fn(linear_cartpole, obs, "kl")
    with torch.no_grad():
        assert (f(obs).abs() < 1e-7).all() and (f(adv) > 0).all()


def test_continuous_actions(pendulum) -> None:
    rng = np.random.default_rng(0)
    obs = torch.as_tensor(rng.uniform(-0.5, 0.5, size=(16, 3)), dtype=torch.float32)
    f = objective_fn(pendulum, obs, "ce")
    adv = pgd(pendulum, obs, 0.1, objective="ce", generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (f(adv) > f(obs)).all()
    assert (adv - obs).abs().max() <= 0.1 + 1e-6


def test_random_noise_and_the_attack_object(linear_cartpole) -> None:
    obs = observations()
    noisy = random_noise(linear_cartpole, obs, 0.05, generator=torch.Generator().manual_seed(0))
    assert (noisy - obs).abs().max() <= 0.05 and not torch.equal(noisy, obs)
    attack = ObservationAttack(method="pgd", eps=0.05, steps=3)
    assert (attack.perturb(linear_cartpole, obs) - obs).abs().max() <= 0.05 + 1e-6
    assert torch.equal(ObservationAttack(eps=0.0).perturb(linear_cartpole, obs), obs)
    with pytest.raises(ValueError, match="method must be"):
        ObservationAttack(method="cw")
    with pytest.raises(ValueError, match=r"eps must be in \[0, 10000\]"):
        ObservationAttack(eps=-1)


def test_dict_observations_are_a_clear_error() -> None:
    policy = make_ppo(gym.make("advrl/Maze-Small-v0"), n_steps=16, batch_size=16, seed=0).policy
    with pytest.raises(ValueError, match="need a Box observation space"):
        random_noise(policy, torch.zeros(1, 5, 5, 3), 0.1)


def test_attacked_vec_env_perturbs_what_the_policy_sees_only(linear_cartpole) -> None:
    from stable_baselines3.common.env_util import make_vec_env

    from advrl.agents.attacks import AttackedVecEnv

    plain = make_vec_env("CartPole-v1", n_envs=3, seed=5)
    attacked = AttackedVecEnv(
        make_vec_env("CartPole-v1", n_envs=3, seed=5), linear_cartpole, ObservationAttack(eps=0.02)
    )
    obs_p, obs_a = plain.reset(), attacked.reset()
    assert 0 < np.abs(obs_a - obs_p).max() <= 0.02 + 1e-6
    for t in range(40):
        actions = np.array([t % 2, (t // 2) % 2, 1])
        obs_p, rew_p, done_p, _ = plain.step(actions)
        obs_a, rew_a, done_a, _ = attacked.step(actions)
        # the environments evolve identically: the attack never touches their state
        np.testing.assert_array_equal(rew_p, rew_a)
        np.testing.assert_array_equal(done_p, done_a)
        assert np.abs(obs_a - obs_p).max() <= 0.02 + 1e-6


def test_pgd_breaks_a_good_controller_where_noise_does_not() -> None:
    from stable_baselines3 import PPO

    from advrl.agents.attacks import attacked_policy
    from advrl.episodes import evaluate, sb3_policy

    model = PPO("MlpPolicy", gym.make("CartPole-v1"), policy_kwargs={"net_arch": []}, seed=0)
    with torch.no_grad():  # push towards the side the pole leans and falls to: balances forever
        w = torch.tensor([[0.0, -0.5, -5.0, -1.0], [0.0, 0.5, 5.0, 1.0]])
        model.policy.action_net.weight.copy_(w)
        model.policy.action_net.bias.zero_()
    env = gym.make("CartPole-v1")

    def returns(attack: ObservationAttack | None) -> np.ndarray:
        policy = sb3_policy(model, True) if attack is None else attacked_policy(model, attack, True)
        return evaluate(env, policy, episodes=3, seed=0).returns

    assert (returns(None) == 500).all()
    assert (returns(ObservationAttack(method="pgd", eps=0.0)) == 500).all()
    assert (returns(ObservationAttack(method="random", eps=0.1)) == 500).all()
    assert (returns(ObservationAttack(method="pgd", eps=0.1)) < 200).all()


class PixelEnv(gym.Env):
    """Random uint8 frames, channel first (an image observation SB3's CnnPolicy takes)."""

    observation_space = gym.spaces.Box(0, 255, (1, 36, 36), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def _frame(self) -> np.ndarray:
        return self.np_random.integers(0, 256, (1, 36, 36), dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._frame(), {}

    def step(self, action):
        return self._frame(), 0.0, False, False, {}


@pytest.fixture(scope="module")
def cnn_policy():
    from stable_baselines3 import PPO

    return PPO("CnnPolicy", PixelEnv(), n_steps=16, batch_size=16, seed=0).policy


def test_pgd_on_pixels_stays_in_the_ball_and_the_pixel_range(cnn_policy) -> None:
    gen = torch.Generator().manual_seed(0)
    obs = torch.randint(0, 256, (4, 1, 36, 36), generator=gen).float()
    obs[:, :, :4] = 255.0  # some pixels at the upper bound
    eps = 8.0  # in pixel units: SB3 scales images by 1/255 inside the policy
    adv = pgd(cnn_policy, obs, eps, objective="kl", steps=5, generator=gen)
    assert (adv - obs).abs().max() <= eps + 1e-4
    assert adv.min() >= 0 and adv.max() <= 255
    f = objective_fn(cnn_policy, obs, "kl")
    with torch.no_grad():
        assert (f(adv) > f(obs) + 1e-6).all()


def test_attacked_vec_env_keeps_pixels_integral(cnn_policy) -> None:
    from stable_baselines3.common.env_util import make_vec_env

    from advrl.agents.attacks import AttackedVecEnv

    attack = ObservationAttack(method="pgd", eps=3.5, objective="kl", steps=3)
    plain = make_vec_env(PixelEnv, n_envs=2, seed=1)
    attacked = AttackedVecEnv(make_vec_env(PixelEnv, n_envs=2, seed=1), cnn_policy, attack)
    clean, adv = plain.reset(), attacked.reset()
    assert adv.dtype == np.uint8
    delta = adv.astype(np.int16) - clean.astype(np.int16)
    assert np.abs(delta).max() == 3  # rounded toward the clean value: inside the 3.5 ball


def test_the_attack_table_is_what_the_attack_object_applies(linear_cartpole) -> None:
    """Each entry of ATTACKS perturbs as its function does, with the same random stream; the
    training attacks are the entries that train."""
    from advrl.agents.attacks import ATTACKS, fgsm, pgd

    obs = observations()
    for method, direct in [
        ("random", lambda g: random_noise(linear_cartpole, obs, 0.05, generator=g)),
        ("fgsm", lambda g: fgsm(linear_cartpole, obs, 0.05, objective="kl", generator=g)),
        ("pgd", lambda g: pgd(linear_cartpole, obs, 0.05, objective="kl", steps=3, generator=g)),
        ("mad", lambda g: pgd(linear_cartpole, obs, 0.05, objective="kl", steps=3, generator=g)),
        (  # the critic attack takes the value objective whatever it is given
            "critic",
            lambda g: pgd(linear_cartpole, obs, 0.05, objective="value", steps=3, generator=g),
        ),
    ]:
        attack = ObservationAttack(method=method, eps=0.05, objective="kl", steps=3)
        got = attack.perturb(linear_cartpole, obs, torch.Generator().manual_seed(1))
        torch.testing.assert_close(got, direct(torch.Generator().manual_seed(1)), msg=method)
    assert [n for n, a in ATTACKS.items() if a.trains] == ["pgd", "flip"]
    assert ATTACKS["flip"].whole_cells and ATTACKS["flip"].objective == "ce"
    from advrl.agents.robust import AdversarialTraining

    with pytest.raises(ValueError, match="attack must be one of 'pgd', 'flip', got 'fgsm'"):
        AdversarialTraining(method="pgd_at", attack="fgsm")
