"""Observation attacks on a policy's inputs: objectives, the epsilon ball, random noise, FGSM, PGD.

See :mod:`advrl.agents.attacks` for the objectives and what is supported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

import gymnasium as gym
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import Distribution
from torch.distributions import Categorical

from advrl.agents.policy_inputs import PolicyInput


class AttackTarget(Protocol):
    """What an attack uses of a policy: an SB3 ``ActorCriticPolicy`` (Box observations), or a
    :class:`~advrl.agents.policy_inputs.PolicyInput` (the maze's one-hot view)."""

    @property
    def observation_space(self) -> gym.Space: ...

    @property
    def device(self) -> torch.device: ...

    def get_distribution(self, obs: Any) -> Distribution: ...

    def predict_values(self, obs: Any) -> torch.Tensor: ...


Objective = Literal["kl", "ce", "value"]
Norm = Literal["linf", "l2"]


def observation_bounds(policy: AttackTarget) -> tuple[torch.Tensor, torch.Tensor]:
    """The policy's ``Box`` observation bounds as tensors on its device (infinite where unbounded)."""
    space = policy.observation_space
    if not isinstance(space, spaces.Box):
        raise ValueError(
            f"observation attacks need a Box observation space, got {type(space).__name__}; "
            "attack the features of Dict observations instead"
        )
    low = torch.as_tensor(space.low, dtype=torch.float32, device=policy.device)
    high = torch.as_tensor(space.high, dtype=torch.float32, device=policy.device)
    return low, high


def objective_fn(
    policy: AttackTarget,
    clean_obs: torch.Tensor,
    objective: Objective,
    clean: Distribution | None = None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The per-sample objective ``f(obs) -> [batch]`` the attacker maximizes around ``clean_obs``.

    ``clean``: the policy's action distribution at ``clean_obs``, detached, if the caller already
    has it (saves a forward pass); None: computed here.
    """
    if isinstance(policy, PolicyInput) and policy.categorical and objective in ("kl", "ce"):
        return _categorical_objective(policy, clean_obs, objective, clean)
    if clean is None:
        with torch.no_grad():
            clean = policy.get_distribution(clean_obs)
    with torch.no_grad():
        chosen = clean.mode()
    # SB3 reuses one Distribution object per policy and replaces its torch distribution on every
    # call: keep the clean torch distribution itself, which is never mutated.
    clean_dist = clean.distribution
    if objective == "kl":
        return lambda obs: distribution_kl(clean_dist, policy.get_distribution(obs).distribution)
    if objective == "ce":
        return lambda obs: -policy.get_distribution(obs).log_prob(chosen)
    if objective == "value":
        return lambda obs: -policy.predict_values(obs).flatten()
    raise ValueError(f"objective must be 'kl', 'ce' or 'value', got {objective!r}")


def _categorical_objective(
    target: PolicyInput,
    clean_obs: torch.Tensor,
    objective: Objective,
    clean: Distribution | None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """:func:`objective_fn`'s KL and CE on log-probability tensors (a categorical policy): the
    same values, with fewer operations to differentiate, twice over in Fast-BAT."""
    if clean is not None and isinstance(clean.distribution, Categorical):
        clean_log_probs = clean.distribution.logits.detach()  # torch keeps them normalized
    else:
        with torch.no_grad():
            clean_log_probs = target.action_log_probs(clean_obs)
    if objective == "kl":
        clean_probs = clean_log_probs.exp()
        return lambda obs: (clean_probs * (clean_log_probs - target.action_log_probs(obs))).sum(-1)
    chosen = clean_log_probs.argmax(-1, keepdim=True)
    return lambda obs: -target.action_log_probs(obs).gather(-1, chosen).squeeze(-1)


def distribution_kl(
    p: torch.distributions.Distribution | list[torch.distributions.Distribution],
    q: torch.distributions.Distribution | list[torch.distributions.Distribution],
) -> torch.Tensor:
    """Per-sample KL(p || q) of torch distributions, summed over action dimensions and over the
    parts of MultiDiscrete."""
    if isinstance(p, list) and isinstance(q, list):
        return torch.stack([distribution_kl(a, b) for a, b in zip(p, q, strict=True)]).sum(0)
    assert not isinstance(p, list) and not isinstance(q, list)
    if isinstance(p, Categorical) and isinstance(q, Categorical):
        # torch's categorical KL masks zero probabilities with in-place writes, which make its
        # backward (and an attack's double backward) slower; SB3's logits are finite.
        return (p.probs * (p.logits - q.logits)).sum(-1)
    kl = torch.distributions.kl_divergence(p, q)
    return kl.flatten(1).sum(1) if kl.dim() > 1 else kl


def _flat_norm(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (x.dim() - 1)))


def project(
    adv: torch.Tensor,
    clean: torch.Tensor,
    eps: float,
    norm: Norm,
    low: torch.Tensor,
    high: torch.Tensor,
) -> torch.Tensor:
    """Project ``adv`` onto the ``eps`` ball around ``clean``, then into ``[low, high]``."""
    delta = adv - clean
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    elif norm == "l2":
        delta = delta * (eps / _flat_norm(delta)).clamp(max=1.0)
    else:
        raise ValueError(f"norm must be 'linf' or 'l2', got {norm!r}")
    return torch.max(torch.min(clean + delta, high), low)


def _ascent_step(grad: torch.Tensor, size: float, norm: Norm) -> torch.Tensor:
    return size * (grad.sign() if norm == "linf" else grad / _flat_norm(grad))


def _random_point(
    clean: torch.Tensor, eps: float, norm: Norm, generator: torch.Generator | None
) -> torch.Tensor:
    """A uniformly random point of the ball (L-inf: per coordinate; L2: direction and radius)."""
    if norm == "linf":
        u = torch.rand(clean.shape, generator=generator, device=clean.device)
        return clean + (2 * u - 1) * eps
    direction = torch.randn(clean.shape, generator=generator, device=clean.device)
    direction = direction / _flat_norm(direction)
    dims = clean[0].numel()
    radius = torch.rand(clean.shape[0], generator=generator, device=clean.device) ** (1 / dims)
    return clean + direction * (eps * radius).view(-1, *([1] * (clean.dim() - 1)))


def random_start_point(
    clean: torch.Tensor,
    eps: float,
    norm: Norm,
    low: torch.Tensor,
    high: torch.Tensor,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """A uniformly random point of the ``eps`` ball around ``clean``, inside ``[low, high]``."""
    return project(_random_point(clean, eps, norm, generator), clean, eps, norm, low, high)


def _fgsm_point(
    f: Callable[[torch.Tensor], torch.Tensor],
    obs: torch.Tensor,
    eps: float,
    norm: Norm,
    low: torch.Tensor,
    high: torch.Tensor,
    random_start: bool,
    generator: torch.Generator | None,
    step: float | None = None,
) -> torch.Tensor:
    """One ascent step (of size ``step``, default ``eps``) on ``f`` from ``obs`` (or a random point
    of the ball), projected back into the ball."""
    start = random_start_point(obs, eps, norm, low, high, generator) if random_start else obs
    adv = start + _ascent_step(input_gradient(f, start), eps if step is None else step, norm)
    return project(adv, obs, eps, norm, low, high).detach()


def input_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Gradient of ``sum(f(x))`` in ``x``; works inside callers' ``torch.no_grad()`` too."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad


def random_noise(
    policy: AttackTarget,
    obs: torch.Tensor,
    eps: float,
    *,
    norm: Norm = "linf",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Uniform noise in the ``eps`` ball (the baseline every attack should beat)."""
    low, high = observation_bounds(policy)
    return random_start_point(obs, eps, norm, low, high, generator)


def fgsm(
    policy: AttackTarget,
    obs: torch.Tensor,
    eps: float,
    *,
    objective: Objective = "ce",
    norm: Norm = "linf",
    random_start: bool | None = None,
    step: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One gradient-sign step of size ``eps`` (L2: one normalized-gradient step).

    Args:
        random_start: start from a random point of the ball (FGSM-RS); None: only for ``"kl"``,
            whose gradient vanishes at the clean point.
        step: size of the step (default ``eps``; fast adversarial training uses ``1.25 * eps``
            from a random start). The result is projected back into the ball.
    """
    low, high = observation_bounds(policy)
    f = objective_fn(policy, obs, objective)
    rs = random_start if random_start is not None else objective == "kl"
    return _fgsm_point(f, obs, eps, norm, low, high, rs, generator, step)


def pgd(
    policy: AttackTarget,
    obs: torch.Tensor,
    eps: float,
    *,
    objective: Objective = "ce",
    norm: Norm = "linf",
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    generator: torch.Generator | None = None,
    trace: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Projected gradient ascent; returns, per sample, the best point seen.

    FGSM's point is the first candidate, so PGD is never weaker than FGSM on the same inputs.

    Args:
        steps: ascent steps.
        step_size: size of each step; default ``2.5 * eps / steps`` (Madry et al.).
        random_start: begin the ascent at a uniformly random point of the ball.
        trace: if given, every iterate is appended to it (for inspection and tests).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    low, high = observation_bounds(policy)
    f = objective_fn(policy, obs, objective)
    alpha = 2.5 * eps / steps if step_size is None else step_size
    # FGSM's point (with its default start) from the same objective: no second clean pass.
    best = _fgsm_point(f, obs, eps, norm, low, high, objective == "kl", generator)
    with torch.no_grad():
        best_value = f(best)
    if random_start:
        x = random_start_point(obs, eps, norm, low, high, generator)
    else:
        x = project(obs, obs, eps, norm, low, high)
    for _ in range(steps):
        x = project(x + _ascent_step(input_gradient(f, x), alpha, norm), obs, eps, norm, low, high)
        x = x.detach()
        if trace is not None:
            trace.append(x)
        with torch.no_grad():
            value = f(x)
            better = value > best_value
            best = torch.where(better.view(-1, *([1] * (x.dim() - 1))), x, best)
            best_value = torch.where(better, value, best_value)
    return best
