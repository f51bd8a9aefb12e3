"""The ``adversarial:`` settings of a PPO run: which adversarial-training method (an entry of
:data:`~advrl.agents.robust.methods.ROBUST_TERMS`, or ``none``), the attack it trains against, and
the method's own settings (``term:``, a tagged union as a UED run's ``teacher:`` is)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from advrl.agents.attacks import ATTACKS, Norm, Objective
from advrl.agents.robust.methods import robust_term
from advrl.agents.robust.terms import TermSettings


def term_settings(method: str) -> type[TermSettings]:
    """The class of ``adversarial.term`` for ``adversarial.method: method`` (``none``: the
    empty one).

    Raises:
        ValueError: no such method.
    """
    return TermSettings if method == "none" else robust_term(method).Settings


TermT = TypeVar("TermT", bound=TermSettings)
"""The class of ``term`` (the method's own settings)."""


@dataclass(frozen=True)
class AdversarialTraining(Generic[TermT]):
    """How :class:`~advrl.agents.robust.RobustPPO` perturbs its updates.

    Args:
        method: ``none`` (plain PPO) or an entry of
            :data:`~advrl.agents.robust.methods.ROBUST_TERMS`: ``pgd_at``, ``fgsm_rs`` (fast
            AT), ``fast_bat``, ``sa`` (SA-PPO's regularizer), ``advprop`` (a policy with dual
            batch norms), ``simaug``, ``rad``, ``atla``, ``atla_sa``.
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
        adv_every: ``k``: the adversarial term on every k-th minibatch of an update, scaled by ``k``
            (the expected loss unchanged, the adversarial cost divided by ``k``); for the methods
            that mix the clean and the perturbed loss, ``k * term.weight <= 1``. Not for the
            methods that train on views, whose loss has no clean part to alternate with.
        svc_bound: clip the actor's singular values at this bound (None: off; with any method).
        svc_every: gradient steps between clippings.
        eps_units: under ``env.normalize.obs``: ``"env"``, the ball is in the env's raw
            observation units; ``"normalized"``, in the normalized observation's (SA-PPO's and
            ATLA's eps). Without normalization the two are one.
        term: the settings of the method named by ``method`` (its term's ``Settings`` class),
            e.g. ``{weight: 0.5}`` for ``pgd_at``, ``{coef: 2.0}`` for ``sa``; missing keys take
            the method's defaults. ``--help`` lists the keys of the method the run names.
    """

    method: str = "none"
    eps: float = 0.05
    norm: Norm = "linf"
    objective: Objective = "kl"
    attack: str = "pgd"
    steps: int = 10
    step_size: float | None = None
    eps_warmup: float = 0.0
    adv_every: int = 1
    svc_bound: float | None = None
    svc_every: int = 1
    eps_units: Literal["env", "normalized"] = "env"
    term: TermT = field(
        default=None,  # type: ignore[assignment]
        metadata={"tagged_by": ("method", term_settings)},
    )

    renamed_keys: ClassVar[dict[str, str]] = {
        "adv_weight": "term.weight",
        "fgsm_step": "term.step",
        "lmbda": "term.lmbda",
        "fast_bat_z": "term.z",
        "sa_coef": "term.coef",
        "views": "term.views",
        "mixup_alpha": "term.mixup_alpha",
        "adversary_lr": "term.adversary_lr",
    }
    """The method settings that moved into ``term:`` (a config with them gets the new key)."""

    def __post_init__(self) -> None:
        kind = term_settings(self.method)  # raises on an unknown method
        if self.term is None:
            object.__setattr__(self, "term", kind())
        elif type(self.term) is not kind:
            raise ValueError(
                f"term must be {kind.__name__} (the settings of method {self.method!r}), got "
                f"{type(self.term).__name__}"
            )
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
        if self.adv_every < 1:
            raise ValueError(f"adv_every must be >= 1, got {self.adv_every}")
        if self.svc_bound is not None and self.svc_bound <= 0:
            raise ValueError(f"svc_bound must be positive (or None), got {self.svc_bound}")
        if self.svc_every < 1:
            raise ValueError(f"svc_every must be >= 1, got {self.svc_every}")
        if self.eps_units not in ("env", "normalized"):
            raise ValueError(f"eps_units must be 'env' or 'normalized', got {self.eps_units!r}")
        if self.method != "none":
            robust_term(self.method).check(self)  # what this method cannot take

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle (a ``RobustPPO`` saved by SB3), one of earlier versions included: their flat
        method settings become ``term`` as :func:`upgrade_flat` says."""
        if "term" not in state:
            state = upgrade_flat(state)
            state["term"] = term_settings(state["method"])(**state["term"])
        for name, value in state.items():
            object.__setattr__(self, name, value)

    @property
    def enabled(self) -> bool:
        """Whether the update differs from plain PPO's."""
        return self.method != "none" or self.svc_bound is not None


def upgrade_flat(section: Mapping[str, Any]) -> dict[str, Any]:
    """An ``adversarial`` mapping of earlier versions, which held every method's settings flat, in
    today's layout: the chosen method's own under ``term`` by their names there
    (:attr:`AdversarialTraining.renamed_keys`), the other methods' dropped (written with their
    defaults, never read). A mapping of today's layout, or one naming no known method, is
    returned as it is."""
    renamed = AdversarialTraining.renamed_keys
    if "term" in section or not any(key in section for key in renamed):
        return dict(section)
    try:
        kind = term_settings(str(section.get("method", "none")))
    except ValueError:
        return dict(section)  # the loader names the bad method
    names = {f.name for f in dataclasses.fields(kind)}
    kept = {k: v for k, v in section.items() if k not in renamed}
    term = {renamed[k].removeprefix("term."): v for k, v in section.items() if k in renamed}
    kept["term"] = {k: v for k, v in term.items() if k in names}
    return kept
