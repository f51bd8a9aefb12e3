"""What an adversarial-training method is to :class:`~advrl.agents.robust.RobustPPO`: a
:class:`RobustTerm` that turns one minibatch of PPO's update (:class:`Minibatch`) and its clean
loss (:class:`Terms`) into the loss it trains on."""

from __future__ import annotations

import copy as copy_module
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy

from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.policy_inputs import Observation, PolicyInput

if TYPE_CHECKING:
    from advrl.agents.robust.ppo import RobustPPO
    from advrl.agents.robust.settings import AdversarialTraining


class Terms(NamedTuple):
    """The policy's part of a minibatch loss: surrogate loss, the entropy that the entropy bonus
    uses (None: estimated from log-probabilities, as SB3 does), and any extra loss term."""

    policy_loss: torch.Tensor
    entropy: torch.Tensor | None
    extra: torch.Tensor


def surrogate(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip: float
) -> torch.Tensor:
    """PPO's clipped surrogate loss per sample: ``-min(r A, clip(r, 1 +- clip) A)``."""
    ratio = torch.exp(log_prob - old_log_prob)
    return -torch.min(advantages * ratio, advantages * torch.clamp(ratio, 1 - clip, 1 + clip))


@dataclass
class Minibatch:
    """One minibatch of PPO's update, as the adversarial terms see it."""

    policy: ActorCriticPolicy
    obs: Observation
    actions: torch.Tensor
    old_log_prob: torch.Tensor
    advantages: torch.Tensor
    clip: float
    eps: float
    stats: dict[str, list[float]]
    indices: np.ndarray | None = None
    """The samples' indices in the rollout buffer (None: unknown)."""
    clean: Distribution | None = None
    """The action distribution at the clean observations, detached (None: not computed)."""
    scale: float = 1.0
    """The adversarial term's scale on this minibatch (0: none; ``adv_every`` where computed)."""
    normalizer: ObservationNormalizer | None = None
    """The env's ``VecNormalize`` observation normalization (``obs`` are normalized; None: none,
    or eps in normalized units)."""
    space: spaces.Box | None = None
    """The features' bounds where they are not the observation space's (normalized observations
    attacked in their own units: unbounded)."""

    @functools.cached_property
    def target(self) -> PolicyInput:
        """The minibatch's attackable features (under ``VecNormalize`` in env units: the raw
        observations)."""
        if self.normalizer is None:
            return PolicyInput(self.policy, self.obs, bounds=self.space)
        assert isinstance(self.obs, torch.Tensor)
        return PolicyInput(self.policy, self.normalizer.unnormalize(self.obs), self.normalizer)

    def surrogate(self, log_prob: torch.Tensor) -> torch.Tensor:
        """PPO's clipped surrogate loss per sample at these log-probabilities."""
        return surrogate(log_prob, self.old_log_prob, self.advantages, self.clip)


def log_prob_entropy(
    target: PolicyInput, x: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The log-probabilities of ``actions`` and the entropies at features ``x``."""
    if target.categorical:
        log_probs = target.action_log_probs(x)
        chosen = log_probs.gather(-1, actions.long().view(-1, 1)).squeeze(-1)
        return chosen, -(log_probs.exp() * log_probs).sum(-1)
    dist = target.get_distribution(x)
    return dist.log_prob(actions), dist.entropy()


def detached(dist: Distribution) -> Distribution | None:
    """A copy of an SB3 distribution whose torch distribution is detached from the graph (None for
    torch distributions other than Categorical, Bernoulli and Normal)."""

    def detach(d: Any) -> Any:
        if isinstance(d, list):
            parts = [detach(part) for part in d]
            return None if any(part is None for part in parts) else parts
        if isinstance(d, torch.distributions.Categorical):
            return torch.distributions.Categorical(logits=d.logits.detach(), validate_args=False)
        if isinstance(d, torch.distributions.Bernoulli):
            return torch.distributions.Bernoulli(logits=d.logits.detach(), validate_args=False)
        if isinstance(d, torch.distributions.Normal):
            return torch.distributions.Normal(d.loc.detach(), d.scale.detach(), validate_args=False)
        return None

    torch_dist = detach(getattr(dist, "distribution", None))
    if torch_dist is None:
        return None
    copy = copy_module.copy(dist)
    copy.distribution = torch_dist
    return copy


@dataclass(frozen=True)
class TermSettings:
    """The settings of one adversarial-training method (``adversarial.term``): a method with
    settings of its own subclasses this as a frozen dataclass, checks its values in
    ``__post_init__`` (calling ``super().__post_init__()`` first) and names the class as its
    term's :attr:`RobustTerm.Settings`."""

    def __post_init__(self) -> None:
        """Check the values (``ValueError``); subclasses extend it."""


class RobustTerm:
    """One adversarial-training method: its part of PPO's minibatch loss.

    A :class:`~advrl.agents.robust.RobustPPO` makes one instance from the method's settings
    (``adversarial.term``, an instance of :attr:`Settings`, kept as :attr:`settings`; one
    instance, so a method may keep state across an update's minibatches, as Fast-BAT's carried
    points do) and calls, in order:
    :meth:`setup` once the model is built, :meth:`begin_update` before each update, and
    :meth:`terms` on each minibatch the adversarial term falls on. The model lends its tools:
    ``model.attack(target, eps)`` (the configured attack, network in eval mode),
    ``model.eval_mode()``, ``model.candidate_views(b)``, and ``model.adversarial``, the settings
    (the method's own are :attr:`settings`).

    Attributes:
        name: ``adversarial.method``.
        help: one line for the docs.
        on_views: the loss is taken on views of the observation (``adversarial.term.views``), with
            no clean part to alternate with (``adv_every`` must be 1).
        own_perturbation: it builds its own perturbation in the ``eps`` ball (not
            ``adversarial.attack``'s cell flips).
    """

    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    Settings: ClassVar[type[TermSettings]] = TermSettings
    """Its settings (``adversarial.term``); the base class: none."""
    on_views: ClassVar[bool] = False
    own_perturbation: ClassVar[bool] = False
    learned_adversary: ClassVar[bool] = False
    """It trains against a learned adversary that perturbs its rollouts (ATLA): the run
    alternates the adversary's PPO iterations with the agent's."""

    def __init__(self, settings: TermSettings | None = None) -> None:
        self.settings = settings if settings is not None else self.Settings()
        if not isinstance(self.settings, self.Settings):
            raise TypeError(f"{self.name} takes {self.Settings.__name__}, got {settings!r}")

    @classmethod
    def check(cls, at: AdversarialTraining) -> None:
        """Refuse settings this method cannot take (``ValueError``): the combinations the
        attributes above rule out, and anything a subclass adds."""
        if cls.own_perturbation and at.attack != "pgd":
            raise ValueError(
                f"{cls.name} builds its own perturbation in the eps ball; attack={at.attack!r} "
                "works with methods that take the configured attack (pgd_at, sa, advprop, simaug)"
            )
        if cls.on_views and at.adv_every > 1:
            raise ValueError(
                f"adv_every > 1 alternates the adversarial term with the clean loss; "
                f"{cls.name}'s loss has no clean part: use adv_every: 1"
            )

    def setup(self, model: RobustPPO) -> None:
        """Once the model and its policy are built: refuse what it cannot train
        (``ValueError``)."""

    def begin_update(self, model: RobustPPO) -> None:
        """Before each update (one rollout's epochs)."""

    def terms(self, model: RobustPPO, b: Minibatch, clean: Terms) -> Terms:
        """The loss terms on minibatch ``b`` (``clean``: PPO's own)."""
        raise NotImplementedError


def observations_error(at: AdversarialTraining, space: spaces.Space, grid: bool) -> str | None:
    """What ``at`` cannot perturb in observations of ``space`` (``grid``: the maze's view), as
    the part of a message after its subject; None when it can."""
    from advrl.agents.simaug import maze_only_views

    if at.method == "none":
        return None
    if not (isinstance(space, spaces.Box) or grid):
        return f"adversarial.method={at.method} perturbs Box observations or the maze's view"
    if at.attack == "flip" and not grid:
        return "adversarial.attack=flip changes cells of the maze's view (use attack: pgd)"
    from advrl.agents.robust.methods import robust_term

    if robust_term(at.method).learned_adversary and not isinstance(space, spaces.Box):
        return f"adversarial.method={at.method}'s learned adversary perturbs Box observations"
    from advrl.agents.robust.views import ViewSettings

    maze_only = maze_only_views(at.term.views if isinstance(at.term, ViewSettings) else ())
    if robust_term(at.method).on_views and maze_only and not grid:
        return (
            f"adversarial.term.views {maze_only} redraw the maze's walls (use gaussian, scale or "
            "dropout views)"
        )
    return None
