"""The methods that train on views of the observation (``adversarial.views``): SimAug
(``L(mixup(s + delta, hardest view of s))``, see :mod:`advrl.agents.simaug`) and RAD-style
augmentation, its baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from advrl.agents.robust.terms import Minibatch, RobustTerm, Terms, log_prob_entropy
from advrl.agents.simaug import hardest_view, mixup

if TYPE_CHECKING:
    from advrl.agents.robust.ppo import RobustPPO
    from advrl.agents.robust.settings import AdversarialTraining


class SimAug(RobustTerm):
    """SimAug: several views of each state, the one with the largest loss kept, mixed with the
    adversarial view."""

    name = "simaug"
    help = "SimAug: L(mixup(s + delta, the hardest view of s))"
    on_views = True

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        x = b.target.x
        with torch.no_grad():
            views = torch.stack([x, *model.candidate_views(b)])
            losses = torch.stack(
                [b.surrogate(log_prob_entropy(b.target, v, b.actions)[0]) for v in views]
            )
        hard = hardest_view(views, losses)
        b.stats["robust/simaug_clean_hardest"].append(float((losses.argmax(0) == 0).float().mean()))
        mixed = mixup(model.attack(b.target, b.eps), hard, model.adversarial.mixup_alpha)
        log_prob, entropy = log_prob_entropy(b.target, mixed, b.actions)
        return Terms(b.surrogate(log_prob).mean(), entropy, clean.extra)


class RAD(RobustTerm):
    """RAD-style augmentation: ``L(v(s))``, one configured view per sample, at random (the
    observation itself not among them)."""

    name = "rad"
    help = "RAD-style augmentation: L(v(s)), a random view per sample"
    on_views = True

    @classmethod
    def check(cls, at: AdversarialTraining) -> None:
        super().check(at)
        if not at.views:
            raise ValueError("rad trains on random views: list some in views (e.g. 'scene:1')")

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        with torch.no_grad():
            views = torch.stack(model.candidate_views(b))  # [V, N, ...]
            pick = torch.randint(len(views), (views.shape[1],), device=views.device)
            x = views[pick, torch.arange(views.shape[1], device=views.device)]
        log_prob, entropy = log_prob_entropy(b.target, x, b.actions)
        return Terms(b.surrogate(log_prob).mean(), entropy, clean.extra)
