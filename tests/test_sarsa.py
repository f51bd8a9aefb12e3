"""Robust Sarsa (SA-PPO's RS attack): the victim's Q by Sarsa on true successive steps, its
robustness term, and the attack that lowers that Q of the action the victim takes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from advrl.agents import make_ppo
from advrl.agents.attacks.sarsa import SarsaQ, robust_gap, sarsa_attack, train_robust_sarsa
from advrl.agents.policy_inputs import PolicyInput


class TwoSteps(gym.Env[np.ndarray, int]):
    """Two steps then the end: observation [0] pays 1, observation [1] pays 2 and terminates."""

    observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: int):
        self.t += 1
        reward = 1.0 if self.t == 1 else 2.0
        return np.full(1, self.t, np.float32), reward, self.t == 2, False, {}


def test_sarsa_learns_the_discounted_return_of_true_successive_steps() -> None:
    """Hand-computed: Q(s0, a) = 1 + 0.9 * 2 = 2.8 and Q(s1, a) = 2 (the end). A Q fitted on
    steps paired with anything but their own successor would not find 2.8."""
    q = train_robust_sarsa(
        lambda obs: np.asarray(0),
        TwoSteps(),
        1,
        spaces.Discrete(2),
        iterations=6,
        steps=64,
        epochs=20,
        minibatch=16,
        learning_rate=1e-2,
        gamma=0.9,
        reg=0.0,
    )
    action = q.action_features(torch.zeros(2))
    values = q(torch.tensor([[0.0], [1.0]]), action).detach()
    assert values[0] == pytest.approx(2.8, abs=0.15) and values[1] == pytest.approx(2.0, abs=0.15)


def test_the_robustness_term_finds_a_linear_qs_largest_change() -> None:
    """For Q linear in x = [s, a] with weights w, the largest |Q(x + d) - Q(x)| in the L-inf ball
    of eps is eps * |w|_1; the gap's ascent reaches it."""
    q = SarsaQ(2, spaces.Box(-1, 1, (1,)), hidden=())
    assert isinstance(q.net[0], nn.Linear)
    with torch.no_grad():
        q.net[0].weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
    x = torch.randn(5, 3)
    gap = robust_gap(q, x, 0.1, steps=3)
    torch.testing.assert_close(gap, torch.full((5,), (0.1 * 3.5) ** 2), rtol=1e-4, atol=1e-6)


def test_the_rs_attack_stays_in_the_ball_and_lowers_q() -> None:
    env = gym.make("Pendulum-v1")
    model = make_ppo(env, n_steps=64, batch_size=64, seed=0)
    q = SarsaQ(3, env.action_space)
    obs = torch.as_tensor(np.stack([env.observation_space.sample() for _ in range(16)]) * 0.5)
    target = PolicyInput(model.policy, obs)
    adv = sarsa_attack(
        q, target, target.x, 0.1, steps=5, generator=torch.Generator().manual_seed(0)
    )
    assert (adv - target.x).abs().max() <= 0.1 + 1e-6

    def value(x: torch.Tensor) -> torch.Tensor:
        mean = model.policy.get_distribution(x).distribution.mean
        return q(target.x, mean).detach()

    assert (value(adv) <= value(target.x) + 1e-6).all()  # never above the clean point's
    assert (value(adv) < value(target.x)).any()


def test_the_rs_attack_sees_the_action_clipped_as_the_victim_plays_it() -> None:
    """Q learns from actions clipped to the Box (the victim's ``predict``); a mean beyond the
    bounds is clipped before Q too. Here Q falls as the action rises and the victim's mean is
    always above the upper bound: the action the env gets cannot move, so the attack leaves the
    observation as it is (unclipped, raising the mean further would have looked worse to Q)."""
    env = gym.make("Pendulum-v1")  # actions in [-2, 2]
    model = make_ppo(env, n_steps=64, batch_size=64, seed=0)
    with torch.no_grad():  # mean 100 + sum of the 64 tanh features: always far above 2
        net = model.policy.action_net
        net.weight.fill_(1.0)
        net.bias.fill_(100.0)
    q = SarsaQ(3, env.action_space, hidden=())
    with torch.no_grad():
        q.net[0].weight.copy_(torch.tensor([[0.0, 0.0, 0.0, -1.0]]))  # Q = -a
        q.net[0].bias.zero_()
    obs = torch.as_tensor(np.stack([env.observation_space.sample() for _ in range(8)]) * 0.1)
    target = PolicyInput(model.policy, obs)
    adv = sarsa_attack(
        q, target, target.x, 0.05, steps=5, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(adv, target.x)
    with torch.no_grad():
        net.weight.fill_(0.01)  # the victim's mean inside the bounds: the attack acts
        net.bias.zero_()
    adv = sarsa_attack(
        q, target, target.x, 0.05, steps=5, generator=torch.Generator().manual_seed(0)
    )
    assert not torch.equal(adv, target.x)
