"""The robust Sarsa (RS) attack of SA-PPO (Zhang et al., NeurIPS 2020): learn the victim's own
action-value function ``Q^pi(s, a)`` with Sarsa, made smooth in its input by a robustness
regularizer, then perturb each observation to make the action the victim takes there look worst
to that Q: minimize ``Q(s, mu(s + delta))`` over the ball.

Training (:func:`train_robust_sarsa`) plays the victim for ``iterations`` rollouts of ``steps``
env steps and fits, on each, for ``epochs`` passes of ``minibatch``-sized batches::

    SmoothL1(Q(s, a), r + gamma (1 - done) Q(s', a'))  +  reg_t * mean(max_{|d| <= eps_t} (Q(x + d) - Q(x))^2)

with ``x = [s, a]`` and ``(s', a')`` the true next step. The regularizer's ``eps_t`` (and weight)
is 0 for the first third of the iterations, rises linearly over the second and stays at ``eps``
for the last, as SA-PPO's code schedules it. Where their code bounds the inner maximum with
interval bound propagation (auto_LiRPA), this one estimates it with a few steps of projected
gradient ascent from a random start: a lower bound of theirs, so a weaker regularizer.

Actions enter Q as they are for continuous action spaces and one-hot for discrete ones; at attack
time the victim's action is its distribution's mean clipped to the action bounds, as the victim
plays it and Q learned it (continuous), or its action probabilities (discrete), so the attack's
objective is differentiable in the perturbation wherever the action is not saturated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from advrl.agents.attacks.core import (
    AttackTarget,
    input_gradient,
    observation_bounds,
    project,
    random_start_point,
)


class SarsaQ(nn.Module):
    """``Q(s, a)``: an MLP on the concatenated observation (the victim's input) and action.

    Args:
        obs_dim: the observation's size.
        action_space: the victim's action space (Box, or Discrete as one-hot).
        hidden: hidden layer widths (64-64 tanh, as SA-PPO's).
    """

    action_low: torch.Tensor
    action_high: torch.Tensor

    def __init__(
        self, obs_dim: int, action_space: spaces.Space, hidden: tuple[int, ...] = (64, 64)
    ):
        super().__init__()
        if isinstance(action_space, spaces.Discrete):
            self.action_dim = int(action_space.n)
        elif isinstance(action_space, spaces.Box):
            self.action_dim = int(np.prod(action_space.shape))
        else:
            raise ValueError(f"robust Sarsa takes Box or Discrete actions, not {action_space}")
        self.discrete = isinstance(action_space, spaces.Discrete)
        # a Box action as the env takes it: the victim plays its action clipped to the bounds
        # (SB3's predict), which is what Q learns from, so the attack clips its mean alike
        low, high = (
            (np.full(self.action_dim, -np.inf), np.full(self.action_dim, np.inf))
            if self.discrete
            else (action_space.low.reshape(-1), action_space.high.reshape(-1))  # type: ignore[union-attr]
        )
        self.register_buffer("action_low", torch.as_tensor(low, dtype=torch.float32), False)
        self.register_buffer("action_high", torch.as_tensor(high, dtype=torch.float32), False)
        layers: list[nn.Module] = []
        width = obs_dim + self.action_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def action_features(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions as Q's input: one-hot for discrete ones, flattened for continuous ones."""
        if self.discrete:
            return F.one_hot(actions.long().flatten(), self.action_dim).float()
        return actions.float().reshape(len(actions), -1)

    def forward(self, obs: torch.Tensor, action_features: torch.Tensor) -> torch.Tensor:
        """``Q`` per sample, ``[batch]``."""
        x = torch.cat([obs.float().reshape(len(obs), -1), action_features], dim=1)
        return self.net(x).squeeze(-1)


def _collect(
    act: Callable[[np.ndarray], np.ndarray],
    env: gym.Env,
    observe: Callable[[np.ndarray], np.ndarray],
    steps: int,
    state: dict[str, Any],
) -> dict[str, np.ndarray]:
    """``steps`` transitions of the victim, each with its true next observation and action."""
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [])
    obs, actions, rewards, dones, next_obs, next_actions = columns
    s = state.get("obs")
    if s is None:
        s = observe(env.reset(seed=state.pop("seed", None))[0])
    a = act(s)
    for _ in range(steps):
        raw, r, terminated, truncated, _ = env.step(a)
        s2 = observe(raw)
        a2 = act(s2)
        for column, value in zip(
            (obs, actions, rewards, dones, next_obs, next_actions),
            (s, a, r, terminated, s2, a2),
            strict=True,
        ):
            column.append(value)
        if terminated or truncated:
            s = observe(env.reset()[0])
            a = act(s)
        else:
            s, a = s2, a2
    state["obs"] = s
    return {
        "obs": np.asarray(obs, np.float32),
        "actions": np.asarray(actions),
        "rewards": np.asarray(rewards, np.float32),
        "dones": np.asarray(dones, np.float32),
        "next_obs": np.asarray(next_obs, np.float32),
        "next_actions": np.asarray(next_actions),
    }


def robust_gap(q: SarsaQ, x: torch.Tensor, eps: float, steps: int = 3) -> torch.Tensor:
    """``(Q(x + d) - Q(x))^2`` at the largest deviation found in the L-inf ``eps`` ball of the
    joint input ``x = [s, a]`` by ``steps`` sign-gradient ascent steps of size eps (each ends on
    a corner of the ball) from a random start;
    differentiable in Q's parameters at that point."""
    clean = q.net(x).squeeze(-1)
    inf = torch.full_like(x[0], float("inf"))
    point = random_start_point(x, eps, "linf", -inf, inf, None)
    target = clean.detach()
    for _ in range(steps):
        grad = input_gradient(lambda z: (q.net(z).squeeze(-1) - target) ** 2, point)
        point = project(point + eps * grad.sign(), x, eps, "linf", -inf, inf).detach()
    return (q.net(point).squeeze(-1) - clean) ** 2


def train_robust_sarsa(
    act: Callable[[np.ndarray], np.ndarray],
    env: gym.Env,
    obs_dim: int,
    action_space: spaces.Space,
    *,
    observe: Callable[[np.ndarray], np.ndarray] = lambda o: np.asarray(o, np.float32),
    iterations: int = 30,
    steps: int = 2048,
    epochs: int = 10,
    minibatch: int = 64,
    learning_rate: float = 2.5e-4,
    gamma: float = 0.99,
    eps: float = 0.02,
    reg: float = 0.1,
    seed: int = 0,
) -> SarsaQ:
    """``Q^pi`` of the victim that ``act`` plays (its action for one observation as the victim
    takes it, ``observe`` mapping the env's observation there), by robust Sarsa (see the module).
    """
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        q = SarsaQ(obs_dim, action_space)
        optimizer = torch.optim.Adam(q.parameters(), lr=learning_rate)
        rng = np.random.default_rng(seed)
        state: dict[str, Any] = {"seed": seed}
        third = max(iterations // 3, 1)
        for it in range(iterations):
            ramp = min(max((it - third) / third, 0.0), 1.0)
            data = {
                k: torch.as_tensor(v) for k, v in _collect(act, env, observe, steps, state).items()
            }
            n = len(data["rewards"])
            for _ in range(epochs):
                for rows in np.array_split(rng.permutation(n), max(n // minibatch, 1)):
                    index = torch.as_tensor(rows)
                    s, a = data["obs"][index], q.action_features(data["actions"][index])
                    s2 = data["next_obs"][index]
                    a2 = q.action_features(data["next_actions"][index])
                    with torch.no_grad():
                        target = data["rewards"][index] + gamma * (1 - data["dones"][index]) * q(
                            s2, a2
                        )
                    loss = F.smooth_l1_loss(q(s, a), target)
                    if ramp > 0 and reg > 0:
                        x = torch.cat([s.reshape(len(s), -1), a], dim=1)
                        loss = loss + ramp * reg * robust_gap(q, x, ramp * eps).mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        return q
    finally:
        torch.random.set_rng_state(torch_state)


def sarsa_attack(
    q: SarsaQ,
    policy: AttackTarget,
    obs: torch.Tensor,
    eps: float,
    *,
    steps: int = 10,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The RS perturbation: ``steps`` sign-gradient descent steps (size ``eps / steps``) on
    ``Q(s, mu(s + delta))`` from a random start in the L-inf ball, ``s`` the clean observation
    (the victim's input); returns the point of lowest Q seen."""
    low, high = observation_bounds(policy)
    to_input = getattr(policy, "policy_input", None)
    clean_input = to_input(obs) if callable(to_input) else obs

    def value(x: torch.Tensor) -> torch.Tensor:
        dist: Any = policy.get_distribution(x).distribution
        if q.discrete:
            action = torch.softmax(dist.logits, dim=-1)
        else:  # the mean as the env receives it (clipped to the Box), as Q learned it
            action = torch.clamp(dist.mean.reshape(len(x), -1), q.action_low, q.action_high)
        return q(clean_input.detach(), action)

    q.to(obs.device)
    best = obs.clone()
    with torch.no_grad():
        best_value = value(best)
    x = random_start_point(obs, eps, "linf", low, high, generator)
    for _ in range(steps):
        x = project(
            x - (eps / steps) * input_gradient(value, x).sign(), obs, eps, "linf", low, high
        )
        x = x.detach()
        with torch.no_grad():
            v = value(x)
        lower = v < best_value
        best[lower], best_value[lower] = x[lower], v[lower]
    return best
