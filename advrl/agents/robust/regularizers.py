"""The methods that add a term to PPO's clean loss: SA-PPO's state-adversarial regularizer
(Zhang et al., NeurIPS 2020) and AdvProp's loss through auxiliary batch norms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from advrl.agents.advprop import auxiliary_bn, dual_batch_norms
from advrl.agents.attacks import distribution_kl
from advrl.agents.robust.terms import Minibatch, RobustTerm, Terms, TermSettings, log_prob_entropy

if TYPE_CHECKING:
    from advrl.agents.robust.ppo import RobustPPO


@dataclass(frozen=True)
class SASettings(TermSettings):
    """SA-PPO's settings (``sa``).

    Args:
        coef: ``kappa``, the weight of the regularizer ``kappa KL(pi(s) || pi(s + delta))``. The
            SA-PPO code's regularizer for a Gaussian policy of state-independent std is
            ``sum((mu(s') - mu(s))^2 / sigma^2)``, twice this KL: its kappa is half of ``coef``.
    """

    coef: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.coef >= 0:
            raise ValueError(f"coef must be >= 0, got {self.coef}")


class SA(RobustTerm):
    """SA-PPO: ``L(s) + kappa KL(pi(s) || pi(s + delta))``, ``delta`` maximizing the KL."""

    name = "sa"
    help = "SA-PPO's regularizer: L(s) + kappa KL(pi(s) || pi(s + delta))"
    Settings = SASettings
    settings: SASettings

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        adv = model.attack(b.target, b.eps, objective="kl")
        clean_dist = b.target.get_distribution(b.target.x).distribution
        adv_dist = b.target.get_distribution(adv).distribution
        kl = distribution_kl(clean_dist, adv_dist).mean()
        b.stats["robust/sa_kl"].append(kl.item())
        return Terms(clean.policy_loss, clean.entropy, b.scale * self.settings.coef * kl)


class AdvProp(RobustTerm):
    """AdvProp: ``L(s) + L_aux(s + delta)``, the second through the auxiliary batch norms (the
    policy is built with ``dual_bn``); acting and evaluation use the main ones."""

    name = "advprop"
    help = "AdvProp: L(s) + L_aux(s + delta) through auxiliary batch norms"

    def setup(self, model: RobustPPO) -> None:
        if not dual_batch_norms(model.policy):
            raise ValueError(
                "advprop needs a policy with auxiliary batch norms: build it with dual_bn "
                "(config: policy.dual_bn: true)"
            )

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        with auxiliary_bn(model.policy):
            adv = model.attack(b.target, b.eps)
            log_prob, _ = log_prob_entropy(b.target, adv, b.actions)
        adv_loss = b.surrogate(log_prob).mean()
        b.stats["robust/adv_policy_loss"].append(adv_loss.item())
        return Terms(clean.policy_loss, clean.entropy, b.scale * adv_loss)
