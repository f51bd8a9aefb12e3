"""The methods that mix PPO's loss at the clean and at a perturbed observation,
``(1 - w) L(s) + w L(s + delta)``: PGD-AT, FGSM-RS ("fast AT", Wong et al., 2020) and Fast-BAT
(Zhang et al., 2022; its implicit gradient included, see :mod:`advrl.agents.fast_bat`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch

from advrl.agents.attacks import fgsm, objective_fn, observation_bounds, random_start_point
from advrl.agents.fast_bat import LinearizationPoints, fast_bat_point, linearization_point
from advrl.agents.indexed_buffers import SampleIndices
from advrl.agents.robust.terms import Minibatch, RobustTerm, Terms, TermSettings, log_prob_entropy

if TYPE_CHECKING:
    from advrl.agents.robust.ppo import RobustPPO
    from advrl.agents.robust.settings import AdversarialTraining


@dataclass(frozen=True)
class MixSettings(TermSettings):
    """The settings of a method that mixes the clean and the perturbed loss (``pgd_at``).

    Args:
        weight: ``w``, the weight of the perturbed term in ``(1 - w) L(s) + w L(s + delta)``.
    """

    weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.weight <= 1:
            raise ValueError(f"weight must be in [0, 1], got {self.weight}")


@dataclass(frozen=True)
class FGSMRSSettings(MixSettings):
    """FGSM-RS's settings (``fgsm_rs``).

    Args:
        weight: as :class:`MixSettings`.
        step: the signed step after the random start, in units of ``eps``.
    """

    step: float = 1.25

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.step > 0:
            raise ValueError(f"step must be positive, got {self.step}")


@dataclass(frozen=True)
class FastBATSettings(MixSettings):
    """Fast-BAT's settings (``fast_bat``).

    Args:
        weight: as :class:`MixSettings`.
        lmbda: the proximal weight; None: per sample, the input gradient's norm over ``eps``.
        z: the linearization point: ``"step"``, one plain gradient step from a random start (as
            its reference training does); ``"carry"``, the same in a rollout's first epoch, then
            the sample's ``x*`` from its previous epoch (one input-gradient pass fewer per
            minibatch after the first epoch); or ``"random"``, the random start itself.
    """

    lmbda: float | None = None
    z: Literal["step", "carry", "random"] = "step"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lmbda is not None and self.lmbda <= 0:
            raise ValueError(f"lmbda must be positive (or None), got {self.lmbda}")
        if self.z not in ("step", "carry", "random"):
            raise ValueError(f"z must be 'step', 'carry' or 'random', got {self.z!r}")


class Perturbed(RobustTerm):
    """``(1 - w) L(s) + w L(s + delta)``, ``w = term.weight`` (times the minibatch's scale);
    ``delta`` from :meth:`perturbation`."""

    Settings = MixSettings
    settings: MixSettings

    @classmethod
    def check(cls, at: AdversarialTraining) -> None:
        super().check(at)
        if not isinstance(at.term, MixSettings):
            raise TypeError(f"{cls.name} mixes losses: its Settings must derive from MixSettings")
        weight = at.term.weight
        if at.adv_every * weight > 1:
            raise ValueError(
                f"adv_every * term.weight must be <= 1 (the scaled perturbed term's weight; the "
                f"clean one gets the rest), got {at.adv_every} * {weight}: lower one"
            )

    def perturbation(self, model: RobustPPO, b: Minibatch) -> torch.Tensor:
        """``s + delta``: the configured attack (``adversarial.attack``) around ``b``'s
        features."""
        return model.attack(b.target, b.eps)

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        adv = self.perturbation(model, b)
        log_prob, entropy = log_prob_entropy(b.target, adv, b.actions)
        adv_loss = b.surrogate(log_prob).mean()
        b.stats["robust/adv_policy_loss"].append(adv_loss.item())
        w = self.settings.weight * b.scale
        mixed_entropy = None
        if entropy is not None and clean.entropy is not None:
            mixed_entropy = (1 - w) * clean.entropy.mean() + w * entropy.mean()
        return Terms((1 - w) * clean.policy_loss + w * adv_loss, mixed_entropy, clean.extra)


class PGDAT(Perturbed):
    """PGD adversarial training: ``delta`` from PGD on the attack objective."""

    name = "pgd_at"
    help = "PGD adversarial training: (1 - w) L(s) + w L(s + delta)"


class FGSMRS(Perturbed):
    """Fast AT: a random start plus one signed step of ``term.step * eps``."""

    name = "fgsm_rs"
    help = "fast AT (FGSM with a random start)"
    own_perturbation = True
    Settings = FGSMRSSettings
    settings: FGSMRSSettings

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
                step=self.settings.step * b.eps,
            )


class FastBAT(Perturbed):
    """Fast-BAT: the closed-form perturbation ``x*(theta)``, differentiable in the policy's
    parameters. With ``term.z: carry`` it keeps each sample's point across an update's
    epochs."""

    name = "fast_bat"
    help = "Fast-BAT: bi-level AT with the implicit gradient"
    own_perturbation = True
    Settings = FastBATSettings
    settings: FastBATSettings
    wants_clean = True
    """It takes the clean action distribution from PPO's own forward where the network's modes
    agree (no batch norm or dropout)."""

    def __init__(self, settings: FastBATSettings | None = None) -> None:
        super().__init__(settings)
        self.points: LinearizationPoints | None = None

    def setup(self, model: RobustPPO) -> None:
        if self.settings.z == "carry" and not isinstance(model.rollout_buffer, SampleIndices):
            raise ValueError(
                "term.z='carry' needs a rollout buffer that records minibatch indices: leave "
                "rollout_buffer_class unset, or derive it from advrl.agents.indexed_buffers."
                "SampleIndices"
            )

    def begin_update(self, model: RobustPPO) -> None:
        self.points = None  # carried points belong to one rollout

    def perturbation(self, model: RobustPPO, b: Minibatch) -> torch.Tensor:
        at = model.adversarial
        term = self.settings
        target, eps = b.target, b.eps
        low, high = observation_bounds(target)
        obs = target.x
        with model.eval_mode():
            objective = objective_fn(target, obs, at.objective, clean=b.clean)

            def attack_loss(x: torch.Tensor) -> torch.Tensor:
                return -objective(x)

            def fresh() -> torch.Tensor:
                start = random_start_point(obs, eps, at.norm, low, high, None)
                if term.z == "random":
                    return start
                return linearization_point(
                    attack_loss, obs, start, eps, at.norm, low, high, term.lmbda
                )

            if term.z != "carry":
                return fast_bat_point(
                    attack_loss, obs, fresh(), eps, at.norm, low, high, term.lmbda
                )
            assert b.indices is not None
            if self.points is None:
                self.points = LinearizationPoints.empty(
                    model.rollout_buffer.buffer_size * model.n_envs, obs
                )
            rows = torch.as_tensor(b.indices, device=obs.device)
            z = self.points.get(rows, fresh)
            point = fast_bat_point(attack_loss, obs, z, eps, at.norm, low, high, term.lmbda)
            self.points.put(rows, point)
            return point
