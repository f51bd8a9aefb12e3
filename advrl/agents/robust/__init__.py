"""Adversarial training in PPO's update: :class:`RobustPPO`, its settings
(:class:`AdversarialTraining`), and the methods, one term class each (with its own
:class:`TermSettings`) in one table (:data:`~advrl.agents.robust.methods.ROBUST_TERMS`)."""

from advrl.agents.robust.methods import ROBUST_TERMS, register_term, robust_term
from advrl.agents.robust.ppo import RobustPPO, RobustSetupError, actor_modules
from advrl.agents.robust.settings import AdversarialTraining, term_settings
from advrl.agents.robust.terms import Minibatch, RobustTerm, Terms, TermSettings

__all__ = [
    "ROBUST_TERMS",
    "AdversarialTraining",
    "Minibatch",
    "RobustPPO",
    "RobustSetupError",
    "RobustTerm",
    "TermSettings",
    "Terms",
    "actor_modules",
    "register_term",
    "robust_term",
    "term_settings",
]
