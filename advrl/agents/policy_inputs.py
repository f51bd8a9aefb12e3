"""What an attack perturbs: a policy's float inputs, and the policy as a function of them.

For ``Box`` observations the float inputs are the observations themselves. The maze's observation is
integer cell codes, where an epsilon ball means nothing; its policy one-hot encodes the view's object
types (:class:`~advrl.agents.networks.GridFeaturesExtractor`), and that one-hot tensor
``[N, types, W, H]`` in ``[0, 1]`` is what is attacked (the other keys, e.g. the direction, stay as
observed). :meth:`PolicyInput.to_observation` turns perturbed features back into a real observation
(each cell takes its largest type): the discrete attack that flips cells.

A :class:`PolicyInput` has what the attacks in :mod:`advrl.agents.attacks` use of a policy
(``observation_space`` for the bounds, ``device``, ``get_distribution``, ``predict_values``), so
attacks run on it unchanged. For a policy over one ``Discrete`` action it also gives the actions'
log-probabilities as a plain tensor (:meth:`PolicyInput.action_log_probs`): the same layers as
``get_distribution`` without building a distribution object, which attacks and adversarial
training evaluate several times per minibatch.

Under SB3's ``VecNormalize``, give a :class:`~advrl.agents.obs_normalization.ObservationNormalizer`:
``x`` is then the env's raw observation (``eps`` in the env's units, the env's bounds) and the
policy's outputs are taken at its normalization.
"""

from __future__ import annotations

import functools
import weakref
from contextlib import ExitStack
from typing import Any

import torch
import torch.nn.functional as F
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.distributions import CategoricalDistribution, Distribution
from stable_baselines3.common.policies import ActorCriticPolicy, BaseModel

from advrl.agents.networks import GridFeaturesExtractor
from advrl.agents.obs_normalization import ObservationNormalizer

Observation = torch.Tensor | dict[str, torch.Tensor]


_EXTRACTORS: weakref.WeakKeyDictionary[ActorCriticPolicy, list[GridFeaturesExtractor]] = (
    weakref.WeakKeyDictionary()
)


def _grid_extractors(policy: ActorCriticPolicy) -> list[GridFeaturesExtractor]:
    """The policy's grid features extractors (looked up once per policy: a PolicyInput is made for
    every minibatch)."""
    found = _EXTRACTORS.get(policy)
    if found is None:
        found = [m for m in policy.modules() if isinstance(m, GridFeaturesExtractor)]
        _EXTRACTORS[policy] = found
    return found


class PolicyInput:
    """A batch's attackable features ``x`` and the policy's outputs as functions of them.

    Args:
        policy: the victim.
        obs: a batch of the policy's observations (tensors, as SB3's rollout buffer holds them);
            with ``normalizer``, the env's raw observations.
        normalizer: the normalization between the env's observations and the policy's inputs
            (``VecNormalize``'s; Box observations only). None: the policy takes ``obs`` as is.
        bounds: the features' space, where it is not the policy's observation space (Box
            observations): normalized observations attacked in their own units are unbounded.
    """

    def __init__(
        self,
        policy: ActorCriticPolicy,
        obs: Observation,
        normalizer: ObservationNormalizer | None = None,
        bounds: spaces.Box | None = None,
    ) -> None:
        self.policy = policy
        self.obs = obs
        space = policy.observation_space
        self.extractors = _grid_extractors(policy)
        self.normalizer = None if normalizer is None else normalizer.to(policy.device)
        if normalizer is not None and not isinstance(space, spaces.Box):
            raise ValueError(
                "an observation normalizer applies to Box observations; this policy takes "
                f"{type(space).__name__} observations"
            )
        if isinstance(space, spaces.Box):
            assert isinstance(obs, torch.Tensor)
            self.x = obs.to(policy.device, torch.float32)
            self.observation_space: spaces.Box = bounds if bounds is not None else space
        elif isinstance(obs, dict) and self.extractors:
            self.x = self.extractors[0].one_hot_image(obs["image"].to(policy.device))
            self.observation_space = spaces.Box(0.0, 1.0, self.x.shape[1:])
        else:
            raise ValueError(
                f"observation attacks need Box observations or the maze's grid view, got "
                f"{type(space).__name__} observations with a "
                f"{type(policy.features_extractor).__name__}"
            )

    @functools.cached_property
    def device(self) -> torch.device:
        """The policy's device."""
        return self.policy.device

    @property
    def is_grid(self) -> bool:
        """Whether ``x`` is a relaxed one-hot view rather than the observation itself."""
        return not isinstance(self.policy.observation_space, spaces.Box)

    def policy_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the policy takes for Box features ``x``: their normalization, or ``x`` itself."""
        return x if self.normalizer is None else self.normalizer(x)

    def _call(self, fn: Any, x: torch.Tensor) -> Any:
        if not self.is_grid:
            return fn(self.policy_input(x))
        with ExitStack() as stack:
            for extractor in self.extractors:
                stack.enter_context(extractor.relaxed_image(x))
            return fn(self.obs)

    def get_distribution(self, x: torch.Tensor) -> Distribution:
        """The action distribution at features ``x``."""
        return self._call(self.policy.get_distribution, x)

    @functools.cached_property
    def categorical(self) -> bool:
        """Whether :meth:`action_log_probs` applies: one ``Discrete`` action, drawn through SB3's
        own actor path (features, actor network, action head; not overridden)."""
        policy = type(self.policy)
        return (
            isinstance(self.policy.action_dist, CategoricalDistribution)
            and policy.get_distribution is ActorCriticPolicy.get_distribution
            and policy._get_action_dist_from_latent
            is ActorCriticPolicy._get_action_dist_from_latent
        )

    def action_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, actions]``: the log-probability of every action at features ``x``.

        The same layers as :meth:`get_distribution` (whose categorical normalizes the same logits);
        only for a :attr:`categorical` policy.
        """
        if not self.categorical:
            raise ValueError(
                "action_log_probs needs a policy over one Discrete action with SB3's actor path, "
                f"got a {type(self.policy).__name__} with {type(self.policy.action_dist).__name__}"
            )
        return self._call(self._log_probs, x)

    def _log_probs(self, obs: Observation) -> torch.Tensor:
        policy = self.policy
        features = BaseModel.extract_features(policy, obs, policy.pi_features_extractor)
        logits = policy.action_net(policy.mlp_extractor.forward_actor(features))
        return F.log_softmax(logits, dim=-1)

    def predict_values(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's values at features ``x``."""
        return self._call(self.policy.predict_values, x)

    def to_observation(self, x: torch.Tensor) -> Observation:
        """A real observation from features: the input itself (Box), or each cell's largest type."""
        if not self.is_grid:
            return x
        assert isinstance(self.obs, dict)
        image = self.obs["image"].clone()
        image[..., 0] = x.argmax(1).to(image.dtype)
        return {**self.obs, "image": image}


def supports_attacks(policy: ActorCriticPolicy) -> bool:
    """Whether :class:`PolicyInput` can attack this policy's observations."""
    if isinstance(policy, RecurrentActorCriticPolicy):
        return False  # its actions depend on a hidden state as well
    if isinstance(policy.observation_space, spaces.Box):
        return True
    return any(isinstance(m, GridFeaturesExtractor) for m in policy.modules())
