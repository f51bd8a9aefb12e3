"""The ``adversarial:`` settings of a PPO run: which adversarial-training method (an entry of
:data:`~advrl.agents.robust.methods.ROBUST_TERMS`, or ``none``) and its attack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from advrl.agents.attacks import ATTACKS, Norm, Objective
from advrl.agents.robust.methods import ROBUST_TERMS, robust_term
from advrl.agents.simaug import transform_views


@dataclass(frozen=True)
class AdversarialTraining:
    """How :class:`~advrl.agents.robust.RobustPPO` perturbs its updates.

    Args:
        method: ``none`` (plain PPO) or an entry of
            :data:`~advrl.agents.robust.methods.ROBUST_TERMS`: ``pgd_at``, ``fgsm_rs`` (fast
            AT), ``fast_bat``, ``sa`` (SA-PPO's regularizer), ``advprop`` (a policy with dual
            batch norms), ``simaug``, ``rad``.
        eps: radius of the perturbation ball, in the env's observation units (under
            ``VecNormalize``, the raw observations are perturbed and the policy takes their
            normalization at the statistics of the rollout's end).
        norm: ``"linf"`` or ``"l2"``.
        objective: what the attacker maximizes (``"kl"``, ``"ce"``, ``"value"``; see
            :mod:`advrl.agents.attacks`). ``sa`` always uses ``"kl"``.
        attack: how ``pgd_at``, ``sa``, ``advprop`` and ``simaug`` perturb: an attack that
            trains (:data:`~advrl.agents.attacks.methods.ATTACKS`): ``"pgd"`` in the ``eps``
            ball, or ``"flip"``, the maze's discrete attack that changes up to ``round(eps)``
            whole cells of the view (:func:`advrl.agents.attacks.cell_flips`).
        steps: PGD steps.
        step_size: PGD step size (default ``2.5 * eps / steps``).
        eps_warmup: fraction of training over which ``eps`` grows linearly from 0 (0: none).
        adv_weight: ``w``, the weight of the perturbed term in ``pgd_at``, ``fgsm_rs``, ``fast_bat``.
        adv_every: ``k``: the adversarial term on every k-th minibatch of an update, scaled by ``k``
            (the expected loss unchanged, the adversarial cost divided by ``k``); ``k w <= 1``.
            Not for ``simaug``, whose loss has no clean part to alternate with.
        fgsm_step: FGSM-RS's step in units of ``eps``.
        lmbda: Fast-BAT's proximal weight; None: per sample, the input gradient's norm over ``eps``.
        fast_bat_z: Fast-BAT's linearization point: ``"step"``, one plain gradient step from a
            random start (as its reference training does); ``"carry"``, the same in a rollout's
            first epoch, then the sample's ``x*`` from its previous epoch (one input-gradient pass
            fewer per minibatch after the first epoch); or ``"random"``, the random start itself.
        sa_coef: ``kappa``, the weight of SA-PPO's regularizer.
        views: SimAug's (and ``rad``'s) views (``"kind:size"``, see
            :data:`advrl.agents.simaug.VIEW_KINDS`; on the maze ``walls:p``, the same situation with
            other walls; on the pixel envs ``scene:K``, the sample's scene drawn under K views from
            the env's view space); for ``simaug`` the clean observation is always one of the
            candidates.
        mixup_alpha: SimAug's ``Beta(alpha, alpha)`` mixing weight.
        svc_bound: clip the actor's singular values at this bound (None: off).
        svc_every: gradient steps between clippings.
        adversary_lr: ``atla``, ``atla_sa``: the learned adversary's learning rate (its other PPO
            settings are the agent's).
        eps_units: under ``env.normalize.obs``: ``"env"``, the ball is in the env's raw
            observation units; ``"normalized"``, in the normalized observation's (SA-PPO's and
            ATLA's eps). Without normalization the two are one.
    """

    method: str = "none"
    eps: float = 0.05
    norm: Norm = "linf"
    objective: Objective = "kl"
    attack: str = "pgd"
    steps: int = 10
    step_size: float | None = None
    eps_warmup: float = 0.0
    adv_weight: float = 1.0
    adv_every: int = 1
    fgsm_step: float = 1.25
    lmbda: float | None = None
    fast_bat_z: Literal["step", "carry", "random"] = "step"
    sa_coef: float = 0.1
    views: tuple[str, ...] = ("gaussian:0.05", "scale:0.1", "dropout:0.1")
    mixup_alpha: float = 1.0
    svc_bound: float | None = None
    svc_every: int = 1
    eps_units: Literal["env", "normalized"] = "env"
    adversary_lr: float = 3e-3

    def __post_init__(self) -> None:
        if self.method != "none" and self.method not in ROBUST_TERMS:
            names = ", ".join(["none", *ROBUST_TERMS])
            raise ValueError(f"method must be one of {names}; got {self.method!r}")
        if self.eps < 0 or self.steps < 1 or not 0 <= self.eps_warmup <= 1:
            raise ValueError(
                f"need eps >= 0, steps >= 1 and eps_warmup in [0, 1]; got eps={self.eps}, "
                f"steps={self.steps}, eps_warmup={self.eps_warmup}"
            )
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm must be 'linf' or 'l2', got {self.norm!r}")
        if self.objective not in ("kl", "ce", "value"):
            raise ValueError(f"objective must be 'kl', 'ce' or 'value', got {self.objective!r}")
        training = [name for name, a in ATTACKS.items() if a.trains]
        if self.attack not in training:
            raise ValueError(
                f"attack must be one of {', '.join(map(repr, training))}, got {self.attack!r}"
            )
        if not 0 <= self.adv_weight <= 1:
            raise ValueError(f"adv_weight must be in [0, 1], got {self.adv_weight}")
        if self.adv_every < 1:
            raise ValueError(f"adv_every must be >= 1, got {self.adv_every}")
        if self.fast_bat_z not in ("step", "carry", "random"):
            raise ValueError(
                f"fast_bat_z must be 'step', 'carry' or 'random', got {self.fast_bat_z!r}"
            )
        if self.lmbda is not None and self.lmbda <= 0:
            raise ValueError(f"lmbda must be positive (or None), got {self.lmbda}")
        if not self.adversary_lr > 0:
            raise ValueError(f"adversary_lr must be positive, got {self.adversary_lr}")
        if self.svc_bound is not None and self.svc_bound <= 0:
            raise ValueError(f"svc_bound must be positive (or None), got {self.svc_bound}")
        if self.eps_units not in ("env", "normalized"):
            raise ValueError(f"eps_units must be 'env' or 'normalized', got {self.eps_units!r}")
        transform_views(self.views)  # raises on a bad spec
        if self.method != "none":
            robust_term(self.method).check(self)  # what this method cannot take

    @property
    def enabled(self) -> bool:
        """Whether the update differs from plain PPO's."""
        return self.method != "none" or self.svc_bound is not None
