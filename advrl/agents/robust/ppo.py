"""Adversarial training inside SB3 PPO's update: :class:`RobustPPO`.

:class:`RobustPPO` is SB3's ``PPO`` with one change: each minibatch's loss can use perturbed
observations. Rollouts, advantages, value targets, clipping, logging and saving are SB3's. The attack
only changes what the policy sees inside the update; the critic is always fitted on the clean
observations (values are not used for acting, and the returns were computed from clean states).

The method (``adversarial.method``) is an entry of
:data:`~advrl.agents.robust.methods.ROBUST_TERMS`, each on top of PPO's clipped surrogate
``L(s)``:

- ``none``: plain PPO (the same updates as SB3's ``PPO``, checked by a test);
- ``pgd_at``, ``fgsm_rs``, ``fast_bat``: ``(1 - w) L(s) + w L(s + delta)``, ``delta`` from PGD,
  from "fast AT"'s random start and one signed step (Wong et al., 2020), or Fast-BAT's closed form
  with its implicit gradient (:mod:`advrl.agents.robust.perturbed`);
- ``sa``: ``L(s) + kappa * KL(pi(s) || pi(s + delta))``, the state-adversarial regularizer of
  SA-PPO (Zhang et al., NeurIPS 2020); ``advprop``: ``L(s) + L_aux(s + delta)`` through auxiliary
  batch norms (:mod:`advrl.agents.robust.regularizers`);
- ``simaug``: ``L(mixup(s + delta, hardest view of s))``; ``rad``: ``L(v(s))``, a random view per
  sample (:mod:`advrl.agents.robust.views`).

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
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.utils import explained_variance
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from advrl.agents.attacks import ATTACKS, Objective, ObservationAttack, observation_bounds
from advrl.agents.indexed_buffers import IndexedDictRolloutBuffer, IndexedRolloutBuffer
from advrl.agents.lipschitz import SingularValueClipping
from advrl.agents.obs_normalization import ObservationNormalizer
from advrl.agents.policy_inputs import PolicyInput, supports_attacks
from advrl.agents.robust.methods import robust_term
from advrl.agents.robust.settings import AdversarialTraining
from advrl.agents.robust.terms import Minibatch, RobustTerm, Terms, detached, observations_error
from advrl.agents.robust.views import ViewSettings
from advrl.agents.scene_views import (
    SceneRecorder,
    SceneViews,
    policy_takes_channels_first,
    scene_env,
)
from advrl.agents.simaug import View, scene_view_count, transform_views


class RobustSetupError(ValueError):
    """The policy or env cannot take the configured adversarial training."""


def _is_grid_policy(policy: ActorCriticPolicy) -> bool:
    return supports_attacks(policy) and not isinstance(policy.observation_space, spaces.Box)


def actor_modules(policy: ActorCriticPolicy) -> nn.ModuleList:
    """The layers that map an observation to the action distribution (features, actor, head)."""
    return nn.ModuleList(
        [policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net]
    )


_MODE_DEPENDENT = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)


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
        self.term: RobustTerm | None = (
            robust_term(at.method)(at.term) if at.method != "none" else None
        )
        if self.term is not None and not supports_attacks(self.policy):
            raise RobustSetupError(
                f"adversarial training perturbs Box observations or the maze's one-hot view; "
                f"this policy takes {type(self.policy.observation_space).__name__} observations "
                f"through a {type(self.policy.features_extractor).__name__}"
            )
        space = self.policy.observation_space
        problem = observations_error(at, space, _is_grid_policy(self.policy))
        if problem is not None:
            raise RobustSetupError(
                f"{problem}; this policy takes {type(space).__name__} observations"
            )
        self._svc = (
            SingularValueClipping(actor_modules(self.policy), at.svc_bound, at.svc_every)
            if at.svc_bound is not None
            else None
        )
        views = at.term.views if isinstance(at.term, ViewSettings) else ()
        self._views: list[View] = transform_views(views)
        on_views = self.term is not None and self.term.on_views
        self._scene_count = scene_view_count(views) if on_views else 0
        self._scene_views: SceneViews | None = None
        self._recorder: SceneRecorder | None = None
        self._scenes: torch.Tensor | None = None
        if self._scene_count and self.env is not None:
            self._bind_scene_env(self.env)
        # Without batch norm or dropout the training-mode forward equals the evaluation-mode one
        # the attacks use, so Fast-BAT can take the clean action distribution from it.
        self._modes_agree = not any(isinstance(m, _MODE_DEPENDENT) for m in self.policy.modules())
        if self.term is not None:
            try:
                self.term.setup(self)
                self._normalizer()  # refuses a VecNormalize it cannot attack through
            except ValueError as err:  # (a term's own check: one kind of error for every one)
                raise RobustSetupError(str(err)) from None

    def _normalizer(self) -> ObservationNormalizer | None:
        """The env's ``VecNormalize`` observation normalization at its current statistics."""
        vec_normalize = self.get_vec_normalize_env()
        if vec_normalize is None:
            return None
        return ObservationNormalizer.from_vec_normalize(vec_normalize, self.device)

    def _excluded_save_params(self) -> list[str]:
        excluded = ["_svc", "_views", "term", "_scene_views", "_recorder", "_scenes"]
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
    def eval_mode(self) -> Iterator[None]:
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

    def attack(
        self, target: PolicyInput, eps: float, objective: Objective | None = None
    ) -> torch.Tensor:
        """The training attack (``adversarial.attack``, an entry of
        :data:`~advrl.agents.attacks.methods.ATTACKS` that trains: PGD or cell flips) around
        ``target.x``, with the network in eval mode (``objective``: the configured one)."""
        at = self.adversarial
        attack = ObservationAttack(
            method=at.attack,
            eps=float(round(eps)) if ATTACKS[at.attack].whole_cells else eps,
            norm=at.norm,
            objective=objective or at.objective,
            steps=at.steps,
            step_size=at.step_size,
        )
        with self.eval_mode():
            return attack.perturb(target, target.x)

    def candidate_views(self, b: Minibatch) -> list[torch.Tensor]:
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

    def _policy_terms(
        self, b: Minibatch, clean_log_prob: torch.Tensor, clean_entropy: torch.Tensor | None
    ) -> Terms:
        """The policy's part of one minibatch's loss under the configured method."""
        clean = Terms(
            b.surrogate(clean_log_prob).mean(),
            clean_entropy,
            torch.zeros((), device=clean_log_prob.device),
        )
        if self.term is None or b.eps == 0 or b.scale == 0:
            return clean
        return self.term.terms(self, b, clean)

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
        if self.term is not None:
            self.term.begin_update(self)
        normalizer = self._normalizer() if self.term is not None else None
        space = None
        if normalizer is not None and self.adversarial.eps_units == "normalized":
            space = normalizer.unbounded  # the ball around what the policy sees
            normalizer = None
        wants_clean = getattr(self.term, "wants_clean", False)
        reuse_clean = wants_clean and self._modes_agree
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
                batch = Minibatch(
                    self.policy,
                    data.observations,
                    actions,
                    data.old_log_prob,
                    advantages,
                    clip_range,
                    eps,
                    stats,
                    indices=getattr(self.rollout_buffer, "last_indices", None),
                    clean=detached(self.policy.action_dist) if reuse_clean and scale else None,
                    scale=scale,
                    normalizer=normalizer,
                    space=space,
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
        if self.term is not None:
            self.logger.record("robust/eps", eps)
