"""Observation attacks on SB3 actor-critic policies: random noise, FGSM and PGD.

An attack maps (policy, observations) to perturbed observations inside an epsilon ball around them
(L-inf by default, or L2), clipped to the observation space's finite bounds. It never touches an
environment: it changes what the policy sees. Under SB3's ``VecNormalize`` the attacks perturb the
env's raw observation, in the env's units and bounds, and the policy takes its normalization
(:class:`~advrl.agents.obs_normalization.ObservationNormalizer`, through
:class:`~advrl.agents.policy_inputs.PolicyInput`): :class:`AttackedVecEnv` directly above the
``VecNormalize``, or ``normalizer`` in :func:`attacked_actions`.

Objectives, each maximized by the attacker:

- ``"kl"``: ``KL(pi(.|s) || pi(.|s + delta))``, push the action distribution away from the clean one;
- ``"ce"``: ``-log pi(a|s + delta)`` of the clean greedy action ``a``: make the chosen action unlikely;
- ``"value"``: ``-V(s + delta)``: make the critic pessimistic.

The KL objective has a zero gradient at ``delta = 0``, so FGSM on it starts from a uniformly random
point in the ball (FGSM-RS); PGD starts at random by default for every objective.

Supported: ``Box`` observations (vector or image tensors the policy takes directly), discrete and
continuous actions. The maze's integer view is attacked through its one-hot features: pass a
:class:`~advrl.agents.policy_inputs.PolicyInput` where a policy is expected (as
:func:`attacked_actions` and :func:`attacked_policy` do). :class:`AttackedVecEnv` produces
observations, so it takes ``Box`` observations only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from minigrid.core.constants import OBJECT_TO_IDX
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import (
    VecEnv,
    VecEnvWrapper,
    VecNormalize,
    unwrap_vec_normalize,
)
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn
from torch.distributions import Categorical

from advrl.agents.obs_normalization import ObservationNormalizer
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
Method = Literal["random", "fgsm", "pgd", "flip"]


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


FLIP_TYPES = (OBJECT_TO_IDX["empty"], OBJECT_TO_IDX["wall"], OBJECT_TO_IDX["goal"])
"""Object types a cell flip may turn a cell into or out of (the maze's floor, walls and goal)."""


def cell_flips(
    policy: AttackTarget,
    one_hot: torch.Tensor,
    cells: int,
    *,
    objective: Objective = "ce",
) -> torch.Tensor:
    """A discrete attack on the maze's view: change the object type of up to ``cells`` cells.

    Greedy in ``cells`` rounds: each round takes, per sample, the (cell, type) switch with the largest
    first-order gain in the objective (its gradient on the one-hot view), among cells not yet flipped
    whose type and new type are floor, wall or goal; the agent's own cell (bottom centre) is never
    flipped. Returns, per sample, the best view seen (the clean one included), still one-hot, so
    :meth:`~advrl.agents.policy_inputs.PolicyInput.to_observation` makes it a real observation.

    Args:
        policy: the maze policy's :class:`~advrl.agents.policy_inputs.PolicyInput`.
        one_hot: ``[N, types, W, H]`` one-hot views.
        cells: the budget, in cells.
    """
    if one_hot.dim() != 4 or not ((one_hot == 0) | (one_hot == 1)).all():
        raise ValueError("cell flips attack the maze's one-hot view [N, types, W, H]")
    if cells < 0:
        raise ValueError(f"the flip budget must be >= 0 cells, got {cells}")
    n, types, width, height = one_hot.shape
    f = objective_fn(policy, one_hot, objective)
    allowed = torch.zeros(types, dtype=torch.bool, device=one_hot.device)
    allowed[list(FLIP_TYPES)] = True
    free = one_hot[:, allowed].sum(1) > 0  # [N, W, H]: cells whose type may change
    free[:, width // 2, height - 1] = False  # the agent's own cell
    x = one_hot.clone()
    best = x.clone()
    with torch.no_grad():
        best_value = f(x)
    rows = torch.arange(n, device=x.device)
    for _ in range(cells):
        grad = input_gradient(f, x)
        gain = grad - (grad * x).sum(1, keepdim=True)  # switching each cell to each type
        blocked = (~allowed.view(1, -1, 1, 1)) | (x > 0.5) | (~free[:, None])
        flat = gain.masked_fill(blocked, -torch.inf).flatten(1)
        top, index = flat.max(1)
        ok = torch.isfinite(top)
        new_type = index // (width * height)
        i, j = (index // height) % width, index % height
        r, t, i, j = rows[ok], new_type[ok], i[ok], j[ok]
        x[r, :, i, j] = 0.0
        x[r, t, i, j] = 1.0
        free[r, i, j] = False
        with torch.no_grad():
            value = f(x)
        better = value > best_value
        best[better] = x[better]
        best_value = torch.where(better, value, best_value)
    return best


@dataclass(frozen=True)
class ObservationAttack:
    """An attack's settings, applied with :meth:`perturb`.

    Args:
        method: ``"random"``, ``"fgsm"``, ``"pgd"``, or ``"flip"`` (the maze: :func:`cell_flips`).
        eps: radius of the ball (0: no attack); for ``"flip"``, the number of cells.
        norm: ``"linf"`` or ``"l2"``.
        objective: ``"kl"``, ``"ce"`` or ``"value"`` (not used by ``"random"``; flips should use
            ``"ce"`` or ``"value"``: the KL's gradient vanishes at the clean view).
        steps: PGD steps.
        step_size: PGD step size (default ``2.5 * eps / steps``).
    """

    method: Method = "pgd"
    eps: float = 0.1
    norm: Norm = "linf"
    objective: Objective = "ce"
    steps: int = 10
    step_size: float | None = None

    def __post_init__(self) -> None:
        if self.method not in ("random", "fgsm", "pgd", "flip"):
            raise ValueError(
                f"method must be 'random', 'fgsm', 'pgd' or 'flip', got {self.method!r}"
            )
        if self.eps < 0:
            raise ValueError(f"eps must be >= 0, got {self.eps}")
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm must be 'linf' or 'l2', got {self.norm!r}")
        if self.objective not in ("kl", "ce", "value"):
            raise ValueError(f"objective must be 'kl', 'ce' or 'value', got {self.objective!r}")

    def perturb(
        self,
        policy: AttackTarget,
        obs: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Perturbed copies of ``obs`` (a batch of the policy's observations)."""
        obs = obs.to(policy.device, torch.float32)
        if self.eps == 0:
            return obs.clone()
        if self.method == "random":
            return random_noise(policy, obs, self.eps, norm=self.norm, generator=generator)
        if self.method == "flip":
            if self.eps != int(self.eps):
                raise ValueError(f"a flip attack's eps is a number of cells, got {self.eps}")
            return cell_flips(policy, obs, int(self.eps), objective=self.objective)
        if self.method == "fgsm":
            return fgsm(
                policy, obs, self.eps, objective=self.objective, norm=self.norm, generator=generator
            )
        return pgd(
            policy,
            obs,
            self.eps,
            objective=self.objective,
            norm=self.norm,
            steps=self.steps,
            step_size=self.step_size,
            generator=generator,
        )


def integral_toward(adv: torch.Tensor, clean: torch.Tensor, dtype: Any) -> torch.Tensor:
    """For observations of an integer ``dtype`` (e.g. ``uint8`` pixels), ``adv`` with each
    perturbation rounded toward the clean value, so the result is a real observation still inside
    the ball and the bounds; other dtypes: ``adv`` unchanged."""
    if not np.issubdtype(np.dtype(dtype), np.integer):
        return adv
    return clean + torch.trunc(adv - clean)


def seen_observations(target: PolicyInput, adv: torch.Tensor, dtype: Any) -> np.ndarray:
    """What the policy takes for perturbed Box features ``adv`` of ``target``, as a numpy batch:
    integral where the env's observations (of ``dtype``) are, then normalized if ``target`` has a
    normalizer (float32) or kept in ``dtype``."""
    seen = target.policy_input(integral_toward(adv, target.x, dtype))
    out = dtype if target.normalizer is None else np.float32
    return seen.cpu().numpy().astype(out, copy=False)


class AttackedVecEnv(VecEnvWrapper):
    """A VecEnv wrapper whose observations are perturbed by an attack on ``policy``.

    The environments' states are never touched: only what the policy sees changes. Integer
    observations (``uint8`` pixels) stay integers: each perturbation is rounded toward the clean
    value (:func:`integral_toward`). Put it outermost. Directly above a ``VecNormalize`` it
    perturbs the raw observations (``eps`` in the env's units, the env's bounds) and returns their
    normalization, the gradient taken through it at the ``VecNormalize``'s current statistics.
    The terminal observations in ``infos`` stay clean (they feed value bootstrapping, not acting).

    Args:
        venv: the env to wrap (Box observations).
        policy: the victim policy whose gradients drive the attack.
        attack: the attack settings.
        seed: seed of the attack's own random draws (random start, noise).
    """

    def __init__(
        self,
        venv: VecEnv,
        policy: ActorCriticPolicy,
        attack: ObservationAttack,
        seed: int = 0,
    ) -> None:
        inner = unwrap_vec_normalize(venv)
        if inner is not None and inner is not venv:
            raise ValueError(
                f"AttackedVecEnv wraps a {type(venv).__name__} with a VecNormalize further down: "
                "put it directly above the VecNormalize, whose raw observations it perturbs"
            )
        super().__init__(venv)
        self.policy = policy
        self.attack = attack
        self.generator = torch.Generator(device=policy.device).manual_seed(seed)

    def _perturb(self, obs: np.ndarray) -> np.ndarray:
        self.policy.set_training_mode(False)  # batch norms on their running statistics
        venv, device = self.venv, self.policy.device
        normalizer, clean_obs = None, obs
        if isinstance(venv, VecNormalize):
            normalizer = ObservationNormalizer.from_vec_normalize(venv, device)
            if normalizer is not None:
                clean_obs = np.asarray(venv.get_original_obs())
        clean = torch.as_tensor(clean_obs, dtype=torch.float32, device=device)
        target = PolicyInput(self.policy, clean, normalizer)
        adv = self.attack.perturb(target, target.x, generator=self.generator)
        return seen_observations(target, adv, clean_obs.dtype)

    def reset(self) -> np.ndarray:
        """Reset, then perturb."""
        return self._perturb(np.asarray(self.venv.reset()))

    def step_wait(self) -> VecEnvStepReturn:
        """Step, then perturb the observations."""
        obs, rewards, dones, infos = self.venv.step_wait()
        return self._perturb(np.asarray(obs)), rewards, dones, infos


def attacked_actions(
    model: BaseAlgorithm,
    attack: ObservationAttack,
    deterministic: bool,
    generator: torch.Generator,
    discrete: bool = False,
    normalizer: ObservationNormalizer | None = None,
) -> Callable[[Any], np.ndarray]:
    """A batch policy that acts on ``attack``'s perturbation of the observations it is given.

    ``Box`` observations are perturbed directly (integer ones, e.g. ``uint8`` pixels, rounded
    toward the clean value: :func:`integral_toward`). The maze's view is perturbed in its one-hot
    features (:class:`~advrl.agents.policy_inputs.PolicyInput`); the policy then acts on the relaxed
    features, or, with ``discrete``, on the real observation where each cell takes its largest
    type. A ``"flip"`` attack changes whole cells, so its observations are always real ones.

    Args:
        normalizer: for a policy trained under ``VecNormalize``
            (:meth:`~advrl.agents.obs_normalization.ObservationNormalizer.from_vec_normalize`): the
            observations given are the env's raw ones; they are perturbed in the env's units and
            the policy acts on their normalization.
    """
    policy = model.policy
    if not isinstance(policy, ActorCriticPolicy):
        raise ValueError(f"attacks need an actor-critic policy, got {type(policy).__name__}")

    def act(obs: Any) -> np.ndarray:
        policy.set_training_mode(False)  # batch norms on their running statistics, as in predict
        tensors, _ = policy.obs_to_tensor(obs)
        target = PolicyInput(policy, tensors, normalizer)
        adv = attack.perturb(target, target.x, generator=generator)
        if not target.is_grid:
            adv_obs = seen_observations(target, adv, obs.dtype)
            actions, _ = model.predict(adv_obs, deterministic=deterministic)
            return np.asarray(actions)
        if discrete or attack.method == "flip":
            flipped = target.to_observation(adv)
            assert isinstance(flipped, dict)
            actions, _ = model.predict(
                {k: v.cpu().numpy() for k, v in flipped.items()}, deterministic=deterministic
            )
            return np.asarray(actions)
        with torch.no_grad():
            chosen = target.get_distribution(adv).get_actions(deterministic=deterministic)
        return chosen.cpu().numpy()

    return act


def attacked_policy(
    model: BaseAlgorithm,
    attack: ObservationAttack,
    deterministic: bool = False,
    seed: int = 0,
    normalizer: ObservationNormalizer | None = None,
) -> Callable[[Any], Any]:
    """A one-observation policy (for :func:`advrl.eval.evaluate`) that acts on perturbed inputs:
    :func:`attacked_actions` on a batch of one (``normalizer``: as there)."""
    generator = torch.Generator(device=model.policy.device).manual_seed(seed)
    act_batch = attacked_actions(model, attack, deterministic, generator, normalizer=normalizer)

    def act(obs: Any) -> Any:
        if isinstance(obs, dict):
            return act_batch({k: np.asarray(v)[None] for k, v in obs.items()})[0]
        return act_batch(np.asarray(obs)[None])[0]

    return act
