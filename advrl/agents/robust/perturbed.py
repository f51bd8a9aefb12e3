"""The methods that mix PPO's loss at the clean and at a perturbed observation,
``(1 - w) L(s) + w L(s + delta)``: PGD-AT, FGSM-RS ("fast AT", Wong et al., 2020) and Fast-BAT
(Zhang et al., 2022; its implicit gradient included, see :mod:`advrl.agents.fast_bat`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from advrl.agents.attacks import fgsm, objective_fn, observation_bounds, random_start_point
from advrl.agents.fast_bat import LinearizationPoints, fast_bat_point, linearization_point
from advrl.agents.indexed_buffers import SampleIndices
from advrl.agents.robust.terms import Minibatch, RobustTerm, Terms, log_prob_entropy

if TYPE_CHECKING:
    from advrl.agents.robust.ppo import RobustPPO


class Perturbed(RobustTerm):
    """``(1 - w) L(s) + w L(s + delta)``, ``w = adv_weight`` (times the minibatch's scale);
    ``delta`` from :meth:`perturbation`."""

    mixes = True

    def perturbation(self, model: RobustPPO, b: Minibatch) -> torch.Tensor:
        """``s + delta``: the configured attack (``adversarial.attack``) around ``b``'s
        features."""
        return model.attack(b.target, b.eps)

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        adv = self.perturbation(model, b)
        log_prob, entropy = log_prob_entropy(b.target, adv, b.actions)
        adv_loss = b.surrogate(log_prob).mean()
        b.stats["robust/adv_policy_loss"].append(adv_loss.item())
        w = model.adversarial.adv_weight * b.scale
        mixed_entropy = None
        if entropy is not None and clean.entropy is not None:
            mixed_entropy = (1 - w) * clean.entropy.mean() + w * entropy.mean()
        return Terms((1 - w) * clean.policy_loss + w * adv_loss, mixed_entropy, clean.extra)


class PGDAT(Perturbed):
    """PGD adversarial training: ``delta`` from PGD on the attack objective."""

    name = "pgd_at"
    help = "PGD adversarial training: (1 - w) L(s) + w L(s + delta)"


class FGSMRS(Perturbed):
    """Fast AT: a random start plus one signed step of ``fgsm_step * eps``."""

    name = "fgsm_rs"
    help = "fast AT (FGSM with a random start)"
    own_perturbation = True

    def perturbation(self, model: RobustPPO, b: Minibatch) -> torch.Tensor:
        at = model.adversarial
        with model.eval_mode():
            return fgsm(
                b.target,
                b.target.x,
                b.eps,
                objective=at.objective,
                norm=at.norm,
                random_start=True,
                step=at.fgsm_step * b.eps,
            )


class FastBAT(Perturbed):
    """Fast-BAT: the closed-form perturbation ``x*(theta)``, differentiable in the policy's
    parameters. With ``fast_bat_z: carry`` it keeps each sample's point across an update's
    epochs."""

    name = "fast_bat"
    help = "Fast-BAT: bi-level AT with the implicit gradient"
    own_perturbation = True
    wants_clean = True
    """It takes the clean action distribution from PPO's own forward where the network's modes
    agree (no batch norm or dropout)."""

    def __init__(self) -> None:
        self.points: LinearizationPoints | None = None

    def setup(self, model: RobustPPO) -> None:
        if model.adversarial.fast_bat_z == "carry" and not isinstance(
            model.rollout_buffer, SampleIndices
        ):
            raise ValueError(
                "fast_bat_z='carry' needs a rollout buffer that records minibatch indices: leave "
                "rollout_buffer_class unset, or derive it from advrl.agents.indexed_buffers."
                "SampleIndices"
            )

    def begin_update(self, model: RobustPPO) -> None:
        self.points = None  # carried points belong to one rollout

    def perturbation(self, model: RobustPPO, b: Minibatch) -> torch.Tensor:
        at = model.adversarial
        target, eps = b.target, b.eps
        low, high = observation_bounds(target)
        obs = target.x
        with model.eval_mode():
            objective = objective_fn(target, obs, at.objective, clean=b.clean)

            def attack_loss(x: torch.Tensor) -> torch.Tensor:
                return -objective(x)

            def fresh() -> torch.Tensor:
                start = random_start_point(obs, eps, at.norm, low, high, None)
                if at.fast_bat_z == "random":
                    return start
                return linearization_point(
                    attack_loss, obs, start, eps, at.norm, low, high, at.lmbda
                )

            if at.fast_bat_z != "carry":
                return fast_bat_point(attack_loss, obs, fresh(), eps, at.norm, low, high, at.lmbda)
            assert b.indices is not None
            if self.points is None:
                self.points = LinearizationPoints.empty(
                    model.rollout_buffer.buffer_size * model.n_envs, obs
                )
            rows = torch.as_tensor(b.indices, device=obs.device)
            z = self.points.get(rows, fresh)
            point = fast_bat_point(attack_loss, obs, z, eps, at.norm, low, high, at.lmbda)
            self.points.put(rows, point)
            return point
