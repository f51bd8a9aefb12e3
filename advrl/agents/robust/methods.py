"""The adversarial-training methods: one table from a method's name to its term class.

``adversarial.method: <name>`` exists for every entry of :data:`ROBUST_TERMS`. Adding a method is
one :class:`~advrl.agents.robust.terms.RobustTerm` subclass (its loss on a minibatch, its own
settings, ``adversarial.term``, and the shared settings it cannot take), one
:func:`register_term` call and one test::

    @dataclass(frozen=True)
    class SmoothSettings(TermSettings):
        coef: float = 1.0

    class Smooth(RobustTerm):
        name = "smooth"
        help = "L(s) + coef |log pi(s + noise) - log pi(s)|"
        Settings = SmoothSettings

        def terms(self, model, b, clean):
            noisy = b.target.x + b.eps * torch.randn_like(b.target.x)
            gap = b.target.action_log_probs(noisy) - b.target.action_log_probs(b.target.x)
            return Terms(clean.policy_loss, clean.entropy, self.settings.coef * gap.abs().mean())

    register_term(Smooth)

From a module of your own: ``advrl --import my_terms train ppo --set adversarial.method=smooth
--set adversarial.term.coef=0.5``.
"""

from __future__ import annotations

from advrl.agents.robust.atla import ATLASATerm, ATLATerm
from advrl.agents.robust.perturbed import FGSMRS, PGDAT, FastBAT
from advrl.agents.robust.regularizers import SA, AdvProp
from advrl.agents.robust.terms import RobustTerm
from advrl.agents.robust.views import RAD, SimAug

ROBUST_TERMS: dict[str, type[RobustTerm]] = {}
"""Every adversarial-training method by name (``none``, plain PPO, is not an entry)."""


def register_term(term: type[RobustTerm]) -> type[RobustTerm]:
    """Add a method to :data:`ROBUST_TERMS`; returns it.

    Raises:
        ValueError: no name, or the name is taken.
    """
    if not term.name or term.name == "none":
        raise ValueError(f"a robust term needs a name other than 'none', got {term.name!r}")
    if term.name in ROBUST_TERMS:
        raise ValueError(f"adversarial method {term.name!r} is already registered")
    ROBUST_TERMS[term.name] = term
    return term


def robust_term(name: str) -> type[RobustTerm]:
    """The term class of ``adversarial.method: name``.

    Raises:
        ValueError: no such method.
    """
    if name not in ROBUST_TERMS:
        names = ", ".join(["none", *ROBUST_TERMS])
        raise ValueError(f"method must be one of {names}; got {name!r}")
    return ROBUST_TERMS[name]


for _term in (PGDAT, FGSMRS, FastBAT, SA, AdvProp, SimAug, RAD, ATLATerm, ATLASATerm):
    register_term(_term)
