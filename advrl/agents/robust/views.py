"""The methods that train on views of the observation (``adversarial.term.views``): SimAug
(``L(mixup(s + delta, hardest view of s))``, see :mod:`advrl.agents.simaug`) and RAD-style
augmentation, its baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from advrl.agents.robust.terms import Minibatch, RobustTerm, Terms, TermSettings, log_prob_entropy
from advrl.agents.simaug import hardest_view, mixup, transform_views

if TYPE_CHECKING:
    from advrl.agents.robust.ppo import RobustPPO


@dataclass(frozen=True)
class ViewSettings(TermSettings):
    """The settings of a method that trains on views of the observation.

    Args:
        views: the views (``"kind:size"``, see :data:`advrl.agents.simaug.VIEW_KINDS`; on the
            maze ``walls:p``, the same situation with other walls; on the pixel envs ``scene:K``,
            the sample's scene drawn under K views from the env's view space).
    """

    views: tuple[str, ...] = ("gaussian:0.05", "scale:0.1", "dropout:0.1")

    def __post_init__(self) -> None:
        super().__post_init__()
        transform_views(self.views)  # raises on a bad spec


@dataclass(frozen=True)
class RADSettings(ViewSettings):
    """RAD's settings (``rad``): at least one view."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.views:
            raise ValueError("rad trains on random views: list some in views (e.g. 'scene:1')")


@dataclass(frozen=True)
class SimAugSettings(ViewSettings):
    """SimAug's settings (``simaug``).

    Args:
        views: as :class:`ViewSettings`; the clean observation is always one of the candidates.
        mixup_alpha: the ``Beta(alpha, alpha)`` mixing weight.
    """

    mixup_alpha: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.mixup_alpha > 0:
            raise ValueError(f"mixup_alpha must be positive, got {self.mixup_alpha}")


class SimAug(RobustTerm):
    """SimAug: several views of each state, the one with the largest loss kept, mixed with the
    adversarial view."""

    name = "simaug"
    help = "SimAug: L(mixup(s + delta, the hardest view of s))"
    on_views = True
    Settings = SimAugSettings
    settings: SimAugSettings

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        x = b.target.x
        with torch.no_grad():
            views = torch.stack([x, *model.candidate_views(b)])
            losses = torch.stack(
                [b.surrogate(log_prob_entropy(b.target, v, b.actions)[0]) for v in views]
            )
        hard = hardest_view(views, losses)
        b.stats["robust/simaug_clean_hardest"].append(float((losses.argmax(0) == 0).float().mean()))
        mixed = mixup(model.attack(b.target, b.eps), hard, self.settings.mixup_alpha)
        log_prob, entropy = log_prob_entropy(b.target, mixed, b.actions)
        return Terms(b.surrogate(log_prob).mean(), entropy, clean.extra)


class RAD(RobustTerm):
    """RAD-style augmentation: ``L(v(s))``, one configured view per sample, at random (the
    observation itself not among them)."""

    name = "rad"
    help = "RAD-style augmentation: L(v(s)), a random view per sample"
    on_views = True
    Settings = RADSettings
    settings: RADSettings

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        with torch.no_grad():
            views = torch.stack(model.candidate_views(b))  # [V, N, ...]
            pick = torch.randint(len(views), (views.shape[1],), device=views.device)
            x = views[pick, torch.arange(views.shape[1], device=views.device)]
        log_prob, entropy = log_prob_entropy(b.target, x, b.actions)
        return Terms(b.surrogate(log_prob).mean(), entropy, clean.extra)
