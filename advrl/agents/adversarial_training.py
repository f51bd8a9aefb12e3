"""Adversarial training inside SB3 PPO's update: PGD-AT, FGSM-RS, Fast-BAT, SA-PPO, AdvProp, SimAug.

:class:`RobustPPO` is SB3's ``PPO`` with one change: each minibatch's loss can use perturbed
observations. Rollouts, advantages, value targets, clipping, logging and saving are SB3's. The attack
only changes what the policy sees inside the update; the critic is always fitted on the clean
observations (values are not used for acting, and the returns were computed from clean states).

Methods (``AdversarialTraining.method``), each on top of PPO's clipped surrogate ``L(s)``:

- ``none``: plain PPO (the same updates as SB3's ``PPO``, checked by a test);
- ``pgd_at``: ``(1 - w) L(s) + w L(s + delta)``, ``delta`` from PGD on the attack objective;
- ``fgsm_rs``: the same with "fast AT"'s perturbation, a random start plus one signed step of
  ``fgsm_step * eps`` (Wong et al., 2020);
- ``fast_bat``: the same with Fast-BAT's closed-form perturbation, the implicit gradient included
  (see :mod:`advrl.agents.fast_bat`);
- ``sa``: ``L(s) + kappa * KL(pi(s) || pi(s + delta))``, ``delta`` from PGD maximizing that KL: the
  state-adversarial regularizer of SA-PPO (Zhang et al., NeurIPS 2020);
- ``advprop``: ``L(s) + L_aux(s + delta)``, the adversarial term through the auxiliary batch norms
  (the policy must be built with ``dual_bn``); acting and evaluation use the main ones;
- ``simaug``: ``L(mixup(s + delta, hardest view of s))``: several views of each state, the one with the
  largest loss kept, mixed with the adversarial view (see :mod:`advrl.agents.simaug`);
- ``rad``: ``L(v(s))``, each sample under one of the views drawn at random (the observation itself
  not among them): plain data augmentation with SimAug's views, the RAD-style baseline.

``adv_every = k`` computes the adversarial term on every k-th minibatch only, scaled by ``k`` there
(``pgd_at``, ``fgsm_rs``, ``fast_bat``: weight ``k w`` on the perturbed loss, ``1 - k w`` on the clean
one; ``sa``: ``k kappa``; ``advprop``: ``k L_aux``), so each minibatch costs plain PPO's update but one
in ``k``, and the expected loss over ``k`` minibatches is the method's own.

Perturbations are computed with the network in evaluation mode (batch-norm statistics untouched) from
torch's global generator (saved in run checkpoints). ``svc_bound`` adds singular value clipping of the
actor's weight matrices to any method. ``eps_warmup`` ramps ``eps`` up from 0, as SA-PPO does.
"""

from __future__ import annotations

import contextlib
import copy as copy_module
import functools
import typing
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.utils import explained_variance
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from advrl.agents.advprop import auxiliary_bn, dual_batch_norms
from advrl.agents.attacks import (
    ATTACKS,
    Norm,
    Objective,
    ObservationAttack,
    distribution_kl,
    fgsm,
    objective_fn,
    observation_bounds,
    random_start_point,
)
from advrl.agents.fast_bat import LinearizationPoints, fast_bat_point, linearization_point
from advrl.agents.indexed_buffers import (
    IndexedDictRolloutBuffer,
    IndexedRolloutBuffer,
    SampleIndices,
)
from advrl.agents.lipschitz import SingularValueClipping
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.policy_inputs import Observation, PolicyInput, supports_attacks
from advrl.agents.scene_views import (
    SceneRecorder,
    SceneViews,
    policy_takes_channels_first,
    scene_env,
)
from advrl.agents.simaug import (
    View,
    hardest_view,
    maze_only_views,
    mixup,
    scene_view_count,
    transform_views,
)

ATMethod = Literal["none", "pgd_at", "fgsm_rs", "fast_bat", "sa", "advprop", "simaug", "rad"]
AT_METHODS: tuple[str, ...] = typing.get_args(ATMethod)
"""Adversarial training methods of :class:`RobustPPO`."""
VIEW_METHODS = ("simaug", "rad")
"""The methods whose loss is taken on views of the observation (``views``), not next to its own."""
PERTURBED_METHODS = ("pgd_at", "fgsm_rs", "fast_bat")
"""The methods whose loss mixes the clean and the perturbed surrogate,
``(1 - w) L(s) + w L(s + delta)``."""


@dataclass(frozen=True)
class AdversarialTraining:
    """How :class:`RobustPPO` perturbs its updates.

    Args:
        method: ``none`` (plain PPO), ``pgd_at``, ``fgsm_rs`` (fast AT), ``fast_bat``, ``sa``
            (SA-PPO's regularizer), ``advprop`` (a policy with dual batch norms), ``simaug``.
        eps: radius of the perturbation ball, in the env's observation units (under
            ``VecNormalize``, the raw observations are perturbed and the policy takes their
            normalization at the statistics of the rollout's end).
        norm: ``"linf"`` or ``"l2"``.
        objective: what the attacker maximizes (``"kl"``, ``"ce"``, ``"value"``; see
            :mod:`advrl.agents.attacks`). ``sa`` always uses ``"kl"``.
        attack: how ``pgd_at``, ``sa``, ``advprop`` and ``simaug`` perturb: ``"pgd"`` in the
            ``eps`` ball, or ``"flip"``, the maze's discrete attack that changes up to
            ``round(eps)`` whole cells of the view (:func:`advrl.agents.attacks.cell_flips`).
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
    """

    method: ATMethod = "none"
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

    def __post_init__(self) -> None:
        if self.method not in AT_METHODS:
            raise ValueError(f"method must be one of {', '.join(AT_METHODS)}; got {self.method!r}")
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
        if self.attack == "flip" and self.method in ("fgsm_rs", "fast_bat"):
            raise ValueError(
                f"{self.method} builds its own perturbation in the eps ball; attack='flip' works "
                "with pgd_at, sa, advprop and simaug"
            )
        if not 0 <= self.adv_weight <= 1:
            raise ValueError(f"adv_weight must be in [0, 1], got {self.adv_weight}")
        if self.adv_every < 1:
            raise ValueError(f"adv_every must be >= 1, got {self.adv_every}")
        if self.adv_every > 1 and self.method in VIEW_METHODS:
            raise ValueError(
                f"adv_every > 1 alternates the adversarial term with the clean loss; "
                f"{self.method}'s loss has no clean part: use adv_every: 1"
            )
        if self.adv_every * self.adv_weight > 1 and self.method in PERTURBED_METHODS:
            raise ValueError(
                f"adv_every * adv_weight must be <= 1 (the scaled perturbed term's weight; the "
                f"clean one gets the rest), got {self.adv_every} * {self.adv_weight}: lower one"
            )
        if self.fast_bat_z not in ("step", "carry", "random"):
            raise ValueError(
                f"fast_bat_z must be 'step', 'carry' or 'random', got {self.fast_bat_z!r}"
            )
        if self.lmbda is not None and self.lmbda <= 0:
            raise ValueError(f"lmbda must be positive (or None), got {self.lmbda}")
        if self.svc_bound is not None and self.svc_bound <= 0:
            raise ValueError(f"svc_bound must be positive (or None), got {self.svc_bound}")
        transform_views(self.views)  # raises on a bad spec
        if self.method == "rad" and not self.views:
            raise ValueError("rad trains on random views: list some in views (e.g. 'scene:1')")

    @property
    def enabled(self) -> bool:
        """Whether the update differs from plain PPO's."""
        return self.method != "none" or self.svc_bound is not None


def _is_grid_policy(policy: ActorCriticPolicy) -> bool:
    return supports_attacks(policy) and not isinstance(policy.observation_space, spaces.Box)


def actor_modules(policy: ActorCriticPolicy) -> nn.ModuleList:
    """The layers that map an observation to the action distribution (features, actor, head)."""
    return nn.ModuleList(
        [policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net]
    )


def _surrogate(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, clip: float
) -> torch.Tensor:
    """PPO's clipped surrogate loss per sample: ``-min(r A, clip(r, 1 +- clip) A)``."""
    ratio = torch.exp(log_prob - old_log_prob)
    return -torch.min(advantages * ratio, advantages * torch.clamp(ratio, 1 - clip, 1 + clip))


class Terms(NamedTuple):
    """The policy's part of a minibatch loss: surrogate loss, the entropy that the entropy bonus
    uses (None: estimated from log-probabilities, as SB3 does), and any extra loss term."""

    policy_loss: torch.Tensor
    entropy: torch.Tensor | None
    extra: torch.Tensor


@dataclass
class _Minibatch:
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
    """The env's ``VecNormalize`` observation normalization (``obs`` are normalized; None: none)."""

    @functools.cached_property
    def target(self) -> PolicyInput:
        """The minibatch's attackable features (under ``VecNormalize``: the raw observations)."""
        if self.normalizer is None:
            return PolicyInput(self.policy, self.obs)
        assert isinstance(self.obs, torch.Tensor)
        return PolicyInput(self.policy, self.normalizer.unnormalize(self.obs), self.normalizer)

    def surrogate(self, log_prob: torch.Tensor) -> torch.Tensor:
        """PPO's clipped surrogate loss per sample at these log-probabilities."""
        return _surrogate(log_prob, self.old_log_prob, self.advantages, self.clip)


_MODE_DEPENDENT = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)


def _detached(dist: Distribution) -> Distribution | None:
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


class RobustPPO(PPO):
    """SB3 ``PPO`` whose update can train on adversarially perturbed observations.

    Takes every ``PPO`` argument, plus ``adversarial`` (default: plain PPO). Any method but ``none``
    needs ``Box`` observations or the maze's grid view (attacked in its one-hot features, see
    :mod:`advrl.agents.policy_inputs`).
    """

    def __init__(self, *args: Any, adversarial: AdversarialTraining | None = None, **kwargs: Any):
        self.adversarial = adversarial if adversarial is not None else AdversarialTraining()
        super().__init__(*args, **kwargs)

    def _setup_model(self) -> None:
        if self.rollout_buffer_class is None:
            dict_obs = isinstance(self.observation_space, spaces.Dict)
            self.rollout_buffer_class = (
                IndexedDictRolloutBuffer if dict_obs else IndexedRolloutBuffer
            )
        super()._setup_model()
        at = self.adversarial
        if at.fast_bat_z == "carry" and not isinstance(self.rollout_buffer, SampleIndices):
            raise ValueError(
                "fast_bat_z='carry' needs a rollout buffer that records minibatch indices: leave "
                "rollout_buffer_class unset, or derive it from advrl.agents.indexed_buffers."
                "SampleIndices"
            )
        if at.method != "none" and not supports_attacks(self.policy):
            raise ValueError(
                f"adversarial training perturbs Box observations or the maze's one-hot view; "
                f"this policy takes {type(self.policy.observation_space).__name__} observations "
                f"through a {type(self.policy.features_extractor).__name__}"
            )
        if at.attack == "flip" and at.method != "none" and not _is_grid_policy(self.policy):
            raise ValueError(
                "attack='flip' changes cells of the maze's view; this policy takes "
                f"{type(self.policy.observation_space).__name__} observations"
            )
        if at.method == "advprop" and not dual_batch_norms(self.policy):
            raise ValueError(
                "advprop needs a policy with auxiliary batch norms: build it with dual_bn "
                "(config: policy.dual_bn: true)"
            )
        self._svc = (
            SingularValueClipping(actor_modules(self.policy), at.svc_bound, at.svc_every)
            if at.svc_bound is not None
            else None
        )
        self._views: list[View] = transform_views(at.views)
        self._scene_count = scene_view_count(at.views) if at.method in VIEW_METHODS else 0
        self._scene_views: SceneViews | None = None
        self._recorder: SceneRecorder | None = None
        self._scenes: torch.Tensor | None = None
        if self._scene_count and self.env is not None:
            self._bind_scene_env(self.env)
        if at.method in VIEW_METHODS and not _is_grid_policy(self.policy):
            maze_only = maze_only_views(at.views)
            if maze_only:
                raise ValueError(
                    f"SimAug views {maze_only} redraw the maze's walls; this policy takes "
                    f"{type(self.policy.observation_space).__name__} observations"
                )
        # Without batch norm or dropout the training-mode forward equals the evaluation-mode one
        # the attacks use, so Fast-BAT can take the clean action distribution from it.
        self._modes_agree = not any(isinstance(m, _MODE_DEPENDENT) for m in self.policy.modules())
        self._points: LinearizationPoints | None = None
        if at.method != "none":
            self._normalizer()  # refuses a VecNormalize it cannot attack through

    def _normalizer(self) -> ObservationNormalizer | None:
        """The env's ``VecNormalize`` observation normalization at its current statistics."""
        vec_normalize = self.get_vec_normalize_env()
        if vec_normalize is None:
            return None
        return ObservationNormalizer.from_vec_normalize(vec_normalize, self.device)

    def _excluded_save_params(self) -> list[str]:
        excluded = ["_svc", "_views", "_points", "_scene_views", "_recorder", "_scenes"]
        return [*super()._excluded_save_params(), *excluded]

    def _bind_scene_env(self, env: VecEnv) -> None:
        """Draw scene views from ``env`` and record its scenes (set up once per env)."""
        drawer = scene_env(env)
        if self._recorder is not None and self._recorder.env is drawer:
            return
        if drawer is None:
            raise ValueError(
                "scene views redraw the env's scenes under other views: they need a pixel env "
                "that draws its scenes (advrl/PixelMaze-* or advrl/PixelCartPole-v1 on "
                "env.backend: batched); this env is "
                f"{type(env).__name__}"
            )
        shape = self.observation_space.shape
        assert shape is not None and drawer.observation_space.shape is not None
        self._scene_views = SceneViews(
            drawer,
            channels_first=policy_takes_channels_first(shape, drawer.observation_space.shape),
            device=self.device,
        )
        self._recorder = SceneRecorder(drawer, self.n_steps)
        self._recorder.init_callback(self)

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """SB3's rollout; with scene views, the scene of every stored observation is kept too."""
        if not self._scene_count:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        self._bind_scene_env(env)
        assert self._recorder is not None
        both = CallbackList([self._recorder, callback])
        both.model = self  # each callback is set up already
        done = super().collect_rollouts(env, both, rollout_buffer, n_rollout_steps)
        self._scenes = self._recorder.flat() if done else None
        return done

    # ------------------------------------------------------------------------- perturbations
    def current_eps(self) -> float:
        """``eps`` at the current training progress (after ``eps_warmup``)."""
        at = self.adversarial
        if at.eps_warmup == 0:
            return at.eps
        done = 1.0 - self._current_progress_remaining
        return at.eps * min(1.0, done / at.eps_warmup)

    @contextlib.contextmanager
    def _eval_mode(self) -> Iterator[None]:
        """The network in evaluation mode (batch norms on running statistics, no dropout), as the
        attacks see it; nothing to switch when the two modes compute the same."""
        if self._modes_agree:
            yield
            return
        self.policy.set_training_mode(False)
        try:
            yield
        finally:
            self.policy.set_training_mode(True)

    def _attack(
        self, target: PolicyInput, eps: float, objective: Objective | None = None
    ) -> torch.Tensor:
        """The training attack (``adversarial.attack``, an entry of
        :data:`~advrl.agents.attacks.methods.ATTACKS` that trains: PGD or cell flips) or, for
        ``fgsm_rs``, FGSM-RS around ``target.x``, with the network in eval mode."""
        at = self.adversarial
        objective = objective or at.objective
        with self._eval_mode():
            if at.method == "fgsm_rs":  # fast AT builds its own perturbation
                return fgsm(
                    target,
                    target.x,
                    eps,
                    objective=objective,
                    norm=at.norm,
                    random_start=True,
                    step=at.fgsm_step * eps,
                )
            attack = ObservationAttack(
                method=at.attack,
                eps=float(round(eps)) if ATTACKS[at.attack].whole_cells else eps,
                norm=at.norm,
                objective=objective,
                steps=at.steps,
                step_size=at.step_size,
            )
            return attack.perturb(target, target.x)

    def _fast_bat(self, b: _Minibatch) -> torch.Tensor:
        """Fast-BAT's ``x*(theta)``, differentiable in the policy's parameters."""
        at = self.adversarial
        target, eps = b.target, b.eps
        low, high = observation_bounds(target)
        obs = target.x
        with self._eval_mode():
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
            if self._points is None:
                self._points = LinearizationPoints.empty(
                    self.rollout_buffer.buffer_size * self.n_envs, obs
                )
            rows = torch.as_tensor(b.indices, device=obs.device)
            z = self._points.get(rows, fresh)
            point = fast_bat_point(attack_loss, obs, z, eps, at.norm, low, high, at.lmbda)
            self._points.put(rows, point)
            return point

    @staticmethod
    def _log_prob_entropy(
        target: PolicyInput, x: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if target.categorical:
            log_probs = target.action_log_probs(x)
            chosen = log_probs.gather(-1, actions.long().view(-1, 1)).squeeze(-1)
            return chosen, -(log_probs.exp() * log_probs).sum(-1)
        dist = target.get_distribution(x)
        return dist.log_prob(actions), dist.entropy()

    def _policy_terms(
        self, b: _Minibatch, clean_log_prob: torch.Tensor, clean_entropy: torch.Tensor | None
    ) -> Terms:
        """The policy's part of one minibatch's loss under the configured method."""
        clean = Terms(
            b.surrogate(clean_log_prob).mean(),
            clean_entropy,
            torch.zeros((), device=clean_log_prob.device),
        )
        method = self.adversarial.method
        if method == "none" or b.eps == 0 or b.scale == 0:
            return clean
        return METHOD_TERMS[method](self, b, clean)

    def _terms_perturbed(self, b: _Minibatch, clean: Terms) -> Terms:
        """pgd_at, fgsm_rs, fast_bat: ``(1 - w) L(s) + w L(s + delta)``."""
        at = self.adversarial
        if at.method == "fast_bat":
            adv = self._fast_bat(b)
        else:
            adv = self._attack(b.target, b.eps)
        log_prob, entropy = self._log_prob_entropy(b.target, adv, b.actions)
        adv_loss = b.surrogate(log_prob).mean()
        b.stats["robust/adv_policy_loss"].append(adv_loss.item())
        w = at.adv_weight * b.scale
        mixed_entropy = None
        if entropy is not None and clean.entropy is not None:
            mixed_entropy = (1 - w) * clean.entropy.mean() + w * entropy.mean()
        return Terms((1 - w) * clean.policy_loss + w * adv_loss, mixed_entropy, clean.extra)

    def _terms_sa(self, b: _Minibatch, clean: Terms) -> Terms:
        """SA-PPO: ``L(s) + kappa KL(pi(s) || pi(s + delta))``, delta maximizing the KL."""
        adv = self._attack(b.target, b.eps, objective="kl")
        clean_dist = b.target.get_distribution(b.target.x).distribution
        adv_dist = b.target.get_distribution(adv).distribution
        kl = distribution_kl(clean_dist, adv_dist).mean()
        b.stats["robust/sa_kl"].append(kl.item())
        return Terms(clean.policy_loss, clean.entropy, b.scale * self.adversarial.sa_coef * kl)

    def _terms_advprop(self, b: _Minibatch, clean: Terms) -> Terms:
        """AdvProp: ``L(s) + L_aux(s + delta)``, the second through the auxiliary batch norms."""
        with auxiliary_bn(self.policy):
            adv = self._attack(b.target, b.eps)
            log_prob, _ = self._log_prob_entropy(b.target, adv, b.actions)
        adv_loss = b.surrogate(log_prob).mean()
        b.stats["robust/adv_policy_loss"].append(adv_loss.item())
        return Terms(clean.policy_loss, clean.entropy, b.scale * adv_loss)

    def _candidate_views(self, b: _Minibatch) -> list[torch.Tensor]:
        """The minibatch under each configured view (transforms within the bounds, then redrawn
        scenes), without the observation itself."""
        low, high = observation_bounds(b.target)
        x = b.target.x
        views = [torch.max(torch.min(v(x), high), low) for v in self._views]
        if self._scene_count:
            if self._scenes is None or b.indices is None or self._scene_views is None:
                raise RuntimeError("scene views need the rollout's scenes and minibatch indices")
            scenes = self._scenes[torch.as_tensor(b.indices)]
            views += [self._scene_views(scenes) for _ in range(self._scene_count)]
        return views

    def _terms_rad(self, b: _Minibatch, clean: Terms) -> Terms:
        """RAD-style augmentation: ``L(v(s))``, one configured view per sample, at random."""
        with torch.no_grad():
            views = torch.stack(self._candidate_views(b))  # [V, N, ...]
            pick = torch.randint(len(views), (views.shape[1],), device=views.device)
            x = views[pick, torch.arange(views.shape[1], device=views.device)]
        log_prob, entropy = self._log_prob_entropy(b.target, x, b.actions)
        return Terms(b.surrogate(log_prob).mean(), entropy, clean.extra)

    def _terms_simaug(self, b: _Minibatch, clean: Terms) -> Terms:
        """SimAug: ``L(mixup(s + delta, hardest view of s))``."""
        x = b.target.x
        with torch.no_grad():
            views = torch.stack([x, *self._candidate_views(b)])
            losses = torch.stack(
                [b.surrogate(self._log_prob_entropy(b.target, v, b.actions)[0]) for v in views]
            )
        hard = hardest_view(views, losses)
        b.stats["robust/simaug_clean_hardest"].append(float((losses.argmax(0) == 0).float().mean()))
        mixed = mixup(self._attack(b.target, b.eps), hard, self.adversarial.mixup_alpha)
        log_prob, entropy = self._log_prob_entropy(b.target, mixed, b.actions)
        return Terms(b.surrogate(log_prob).mean(), entropy, clean.extra)

    # -------------------------------------------------------------------------------- update
    def train(self) -> None:
        """PPO's update (as SB3's ``PPO.train``), with the configured adversarial terms."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        clip_range_vf = None
        if self.clip_range_vf is not None:
            clip_range_vf = self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]
        eps = self.current_eps()
        self._points = None  # Fast-BAT's carried points belong to one rollout
        normalizer = self._normalizer() if self.adversarial.method != "none" else None
        reuse_clean = self.adversarial.method == "fast_bat" and self._modes_agree
        every = self.adversarial.adv_every
        minibatch = 0
        stats: dict[str, list[float]] = defaultdict(list)
        continue_training = True
        approx_kl_divs: list[float] = []
        loss = torch.zeros(())
        for _ in range(self.n_epochs):
            approx_kl_divs = []
            for data in self.rollout_buffer.get(self.batch_size):
                actions = data.actions
                if isinstance(self.action_space, spaces.Discrete):
                    actions = data.actions.long().flatten()
                values, log_prob, entropy = self.policy.evaluate_actions(data.observations, actions)
                values = values.flatten()
                advantages = data.advantages
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

                scale = float(every) if minibatch % every == 0 else 0.0
                minibatch += 1
                batch = _Minibatch(
                    self.policy,
                    data.observations,
                    actions,
                    data.old_log_prob,
                    advantages,
                    clip_range,
                    eps,
                    stats,
                    indices=getattr(self.rollout_buffer, "last_indices", None),
                    clean=_detached(self.policy.action_dist) if reuse_clean and scale else None,
                    scale=scale,
                    normalizer=normalizer,
                )
                policy_loss, bonus_entropy, extra = self._policy_terms(batch, log_prob, entropy)
                ratio = torch.exp(log_prob - data.old_log_prob)
                stats["train/policy_gradient_loss"].append(policy_loss.item())
                stats["train/clip_fraction"].append(
                    torch.mean((torch.abs(ratio - 1) > clip_range).float()).item()
                )
                values_pred = values
                if clip_range_vf is not None:
                    values_pred = data.old_values + torch.clamp(
                        values - data.old_values, -clip_range_vf, clip_range_vf
                    )
                value_loss = F.mse_loss(data.returns, values_pred)
                stats["train/value_loss"].append(value_loss.item())
                if bonus_entropy is None:
                    entropy_loss = -torch.mean(-log_prob)
                else:
                    entropy_loss = -torch.mean(bonus_entropy)
                stats["train/entropy_loss"].append(entropy_loss.item())
                loss = (
                    policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss + extra
                )

                with torch.no_grad():
                    log_ratio = log_prob - data.old_log_prob
                    approx_kl_div = torch.mean((torch.exp(log_ratio) - 1) - log_ratio).cpu().numpy()
                    approx_kl_divs.append(float(approx_kl_div))
                if self.target_kl is not None and approx_kl_div > 1.5 * self.target_kl:
                    continue_training = False
                    break

                self.policy.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
                if self._svc is not None:
                    largest = self._svc()
                    if largest is not None:
                        stats["robust/svc_max_singular_value"].append(largest)
            self._n_updates += 1
            if not continue_training:
                break

        explained_var = explained_variance(
            self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten()
        )
        for key, values_list in stats.items():
            self.logger.record(key, np.mean(values_list))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", torch.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)
        if self.adversarial.method != "none":
            self.logger.record("robust/eps", eps)


METHOD_TERMS: dict[str, Callable[[RobustPPO, _Minibatch, Terms], Terms]] = {
    "pgd_at": RobustPPO._terms_perturbed,
    "fgsm_rs": RobustPPO._terms_perturbed,
    "fast_bat": RobustPPO._terms_perturbed,
    "sa": RobustPPO._terms_sa,
    "advprop": RobustPPO._terms_advprop,
    "simaug": RobustPPO._terms_simaug,
    "rad": RobustPPO._terms_rad,
}
"""Each adversarial method's minibatch terms."""
