"""Attacks applied to SB3: an attack's settings, perturbed VecEnv observations, attacked actions and
policies (the env's state is never touched).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import (
    VecEnv,
    VecEnvWrapper,
    VecNormalize,
    unwrap_vec_normalize,
)
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from advrl.agents.attacks.core import (
    AttackTarget,
    Norm,
    Objective,
)
from advrl.agents.attacks.methods import ATTACKS, attack_method
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.policy_inputs import PolicyInput

MAX_EPS = 1e4
"""The largest ball an attack takes (in observation units; for cell flips, cells): larger ones
overflow float32 arithmetic and are no longer attacks but other inputs."""


@dataclass(frozen=True)
class ObservationAttack:
    """An attack's settings, applied with :meth:`perturb`.

    Args:
        method: an entry of :data:`~advrl.agents.attacks.methods.ATTACKS`: ``"random"``,
            ``"fgsm"``, ``"pgd"``, ``"flip"`` (the maze: :func:`cell_flips`), or one registered.
        eps: radius of the ball (0: no attack); for ``"flip"``, the number of cells.
        norm: ``"linf"`` or ``"l2"``.
        objective: ``"kl"``, ``"ce"`` or ``"value"`` (not used by ``"random"``; flips should use
            ``"ce"`` or ``"value"``: the KL's gradient vanishes at the clean view).
        steps: PGD steps.
        step_size: PGD step size (default ``2.5 * eps / steps``).
        eps_units: for a policy trained under ``VecNormalize``: ``"env"``, the ball is in the
            env's raw observation units; ``"normalized"``, in the normalized observation's (as
            SA-PPO and ATLA state their eps). Without normalization the two are one.
        adversary: the ``"learned"`` attack's policy (an SB3 model trained on
            ``advrl/ObservationAdversary-v0``): its greedy action on the features, times eps.
        q: the ``"rs"`` attack's Q-function of the victim
            (:func:`~advrl.agents.attacks.sarsa.train_robust_sarsa`; ``advrl eval`` trains it).
        rs_iterations, rs_steps: the rollouts of ``rs``'s Q training (iterations of env steps).
    """

    method: str = "pgd"
    eps: float = 0.1
    norm: Norm = "linf"
    objective: Objective = "ce"
    steps: int = 10
    step_size: float | None = None
    eps_units: Literal["env", "normalized"] = "env"
    adversary: Any = field(default=None, compare=False, repr=False)
    q: Any = field(default=None, compare=False, repr=False)
    rs_iterations: int = 30
    rs_steps: int = 2048

    def __post_init__(self) -> None:
        method = attack_method(self.method)  # one of ATTACKS
        if method.needs_adversary and self.adversary is None:
            raise ValueError(
                f"the {self.method} attack needs its trained adversary: --adversary RUN (a run "
                "of configs/attacker.yaml on this victim)"
            )
        if not 0 <= self.eps <= MAX_EPS:  # False for NaN
            raise ValueError(f"eps must be in [0, {MAX_EPS:g}], got {self.eps}")
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm must be 'linf' or 'l2', got {self.norm!r}")
        if self.objective not in ("kl", "ce", "value"):
            raise ValueError(f"objective must be 'kl', 'ce' or 'value', got {self.objective!r}")
        if self.eps_units not in ("env", "normalized"):
            raise ValueError(f"eps_units must be 'env' or 'normalized', got {self.eps_units!r}")
        if not (1 <= self.rs_iterations <= 10_000 and 1 <= self.rs_steps <= 1_000_000):
            raise ValueError(
                "rs_iterations must be in [1, 10000] and rs_steps in [1, 1000000], got "
                f"{self.rs_iterations} and {self.rs_steps}"
            )

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
        return ATTACKS[self.method].perturb(self, policy, obs, generator)


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
            observations given are the env's raw ones; they are perturbed in the env's units
            (``attack.eps_units``: ``env``) or normalized first and perturbed in the normalized
            units (``normalized``), and the policy acts on the normalization.
    """
    policy = model.policy
    if not isinstance(policy, ActorCriticPolicy):
        raise ValueError(f"attacks need an actor-critic policy, got {type(policy).__name__}")

    def act(obs: Any) -> np.ndarray:
        policy.set_training_mode(False)  # batch norms on their running statistics, as in predict
        tensors, _ = policy.obs_to_tensor(obs)
        if normalizer is not None and attack.eps_units == "normalized":
            assert isinstance(tensors, torch.Tensor)
            tensors = normalizer.to(tensors.device)(tensors.float())  # the ball around these
            obs = tensors.cpu().numpy()  # (what the policy sees is then these, perturbed)
            target = PolicyInput(policy, tensors, None, bounds=normalizer.unbounded)
        else:
            target = PolicyInput(policy, tensors, normalizer)
        adv = attack.perturb(target, target.x, generator=generator)
        if not target.is_grid:
            adv_obs = seen_observations(target, adv, obs.dtype)
            actions, _ = model.predict(adv_obs, deterministic=deterministic)
            return np.asarray(actions)
        if discrete or ATTACKS[attack.method].whole_cells:
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
    """A one-observation policy (for :func:`advrl.episodes.evaluate`) that acts on perturbed inputs:
    :func:`attacked_actions` on a batch of one (``normalizer``: as there)."""
    generator = torch.Generator(device=model.policy.device).manual_seed(seed)
    act_batch = attacked_actions(model, attack, deterministic, generator, normalizer=normalizer)

    def act(obs: Any) -> Any:
        if isinstance(obs, dict):
            return act_batch({k: np.asarray(v)[None] for k, v in obs.items()})[0]
        return act_batch(np.asarray(obs)[None])[0]

    return act
