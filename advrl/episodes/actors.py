"""Who acts in an evaluation: a policy acting for many episodes at once, each with its own noise.

An evaluation plays many seeded episodes side by side; an :class:`Actor` gives the actions of the
episodes still running, one batched call per step. A sampled action is drawn from the episode's
own counter-based random stream: the uniforms of episode ``e`` at its step ``t`` are a hash of
``(key_e, t)`` (:func:`uniforms`), so an episode plays the same whether it runs alone or beside
thousands of others, in any order, and an evaluation neither reads nor moves torch's or numpy's
global random state. This is what lets the batched loops promise the sequential loop's episodes
for a stochastic policy too, not only for a greedy one.

- :class:`PolicyActor`: an SB3 model (feed-forward or recurrent) played from its action
  distribution; a recurrent policy keeps one hidden state per episode.
- :class:`RandomActor`: uniformly random actions from an action space.
- :class:`PredictActor`: any object with SB3's ``predict`` signature (a hand-written policy); it
  sees every episode's observation on every step and draws from torch's generator, which the
  loops fork and seed.
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection of 64-bit integers whose outputs look independent."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= _MUL1
        x ^= x >> np.uint64(27)
        x *= _MUL2
        x ^= x >> np.uint64(31)
    return x


def episode_keys(seed: int, episodes: int, stream: int | str = 0) -> np.ndarray:
    """``[episodes]`` uint64 keys of episodes ``0 .. episodes-1`` of an evaluation seeded ``seed``.

    ``stream`` separates evaluations that share a seed (e.g. a held-out maze's name), so that their
    episodes draw independent actions.
    """
    if isinstance(stream, str):
        stream = zlib.crc32(stream.encode())
    base = _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    base = _mix(base ^ _mix(np.array([stream & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)))
    with np.errstate(over="ignore"):
        return _mix(base + np.arange(episodes, dtype=np.uint64) * _GOLDEN)


def uniforms(keys: np.ndarray, steps: np.ndarray, width: int) -> np.ndarray:
    """``[len(keys), width]`` float64 uniforms in (0, 1): those of each episode (its key) at its
    step (``steps``), a pure function of the two."""
    with np.errstate(over="ignore"):
        row = _mix(keys.astype(np.uint64) ^ _mix(steps.astype(np.uint64) + _GOLDEN))
        x = _mix(row[:, None] + np.arange(1, width + 1, dtype=np.uint64) * _GOLDEN)
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(2**53)


def noise_width(space: gym.Space) -> int:
    """How many uniforms one action of ``space`` takes."""
    if isinstance(space, spaces.Discrete):
        return 1
    if isinstance(space, spaces.MultiDiscrete):
        return int(np.prod(space.nvec.shape))
    if isinstance(space, (spaces.Box, spaces.MultiBinary)):
        return int(np.prod(space.shape))
    raise ValueError(f"no keyed sampling for {type(space).__name__} action spaces")


def _categorical(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draws: ``[n]`` indices from ``[n, k]`` probabilities and ``[n]`` uniforms."""
    cdf = probs.double().cumsum(-1)
    index = (u[:, None] * cdf[:, -1:] >= cdf).sum(-1)
    return index.clamp_(max=probs.shape[-1] - 1)


def keyed_sample(distribution: Any, u: np.ndarray) -> torch.Tensor:
    """Sample an SB3 distribution (one row per episode) with the given ``[n, width]`` uniforms:
    categorical and Bernoulli by their CDF, Gaussian by the inverse normal CDF (squashed through
    tanh where the distribution squashes)."""
    from stable_baselines3.common import distributions as d

    noise = torch.as_tensor(u)
    if isinstance(distribution, d.CategoricalDistribution):
        return _categorical(distribution.distribution.probs, noise[:, 0])
    if isinstance(distribution, d.MultiCategoricalDistribution):
        columns = [
            _categorical(part.probs, noise[:, i])
            for i, part in enumerate(distribution.distribution)
        ]
        return torch.stack(columns, dim=1)
    if isinstance(distribution, d.BernoulliDistribution):
        return (noise < distribution.distribution.probs.double()).float()
    if isinstance(distribution, (d.DiagGaussianDistribution, d.StateDependentNoiseDistribution)):
        # The squashed Gaussian included. gSDE's noise latent @ (std * eps), eps ~ N(0, 1), is for
        # each row Normal with the variance latent^2 @ std^2 that SB3 keeps in
        # ``distribution.distribution``: a draw of it is gSDE's action with the exploration matrix
        # drawn anew at every step (SB3's ``sde_sample_freq: 1``), from each episode's own noise.
        normal = distribution.distribution
        z = torch.special.ndtri(noise).to(normal.mean.dtype)
        action = normal.mean + normal.stddev * z
        bijector = getattr(distribution, "bijector", None)  # gSDE with squash_output
        if isinstance(distribution, d.SquashedDiagGaussianDistribution):
            action = torch.tanh(action)
        elif bijector is not None:
            action = bijector.forward(action)
        return action
    raise ValueError(f"no keyed sampling for {type(distribution).__name__}")


class Actor(Protocol):
    """Acts for a batch of episodes played side by side."""

    def begin(self, keys: np.ndarray) -> None:
        """New episodes, one per key (their noise); every episode is at its first step."""

    def act(self, obs: Any, rows: np.ndarray) -> np.ndarray:
        """The actions of episodes ``rows`` (ascending indices into the keys), whose observations
        are ``obs`` (one row each): each of them takes one step."""


class _Keyed:
    """The per-episode keys and step counters of an actor that draws keyed noise."""

    keys: np.ndarray
    steps: np.ndarray

    def begin(self, keys: np.ndarray) -> None:
        self.keys = np.asarray(keys, dtype=np.uint64)
        self.steps = np.zeros(len(self.keys), dtype=np.int64)

    def _noise(self, rows: np.ndarray, width: int) -> np.ndarray:
        u = uniforms(self.keys[rows], self.steps[rows], width)
        self.steps[rows] += 1
        return u


class PolicyActor(_Keyed):
    """An SB3 model's policy: greedy (its distribution's mode) or sampled with each episode's
    keyed noise; a recurrent policy carries one hidden state per episode.

    The actions are those of ``model.predict`` (Box actions clipped to the space, or unscaled where
    the policy squashes); only where the random numbers come from differs. A model trained under
    ``VecNormalize`` sees its observations normalized with the statistics it has when the actor
    is made (frozen for the evaluation).
    """

    def __init__(self, model: Any, deterministic: bool = False) -> None:
        from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

        from advrl.agents.obs_normalization import ObservationNormalizer

        self.policy = model.policy if hasattr(model, "policy") else model
        venv = model.get_env() if hasattr(model, "get_env") else None
        self.normalizer = (
            ObservationNormalizer.of_env(venv, self.policy.device) if venv is not None else None
        )
        self.deterministic = deterministic
        self.recurrent = isinstance(self.policy, RecurrentActorCriticPolicy)
        self.width = noise_width(self.policy.action_space)
        self._state: tuple[torch.Tensor, torch.Tensor] | None = None

    def begin(self, keys: np.ndarray, greedy: np.ndarray | None = None) -> None:
        """New episodes, one per key; a recurrent policy's states start at zero.

        Args:
            greedy: per episode, whether it takes greedy actions (default: ``deterministic``).
        """
        super().begin(keys)
        self.greedy = (
            np.full(len(self.keys), self.deterministic)
            if greedy is None
            else np.asarray(greedy, dtype=bool)
        )
        self.policy.set_training_mode(False)
        if self.recurrent:
            layers, _, hidden = self.policy.lstm_hidden_state_shape
            zeros = torch.zeros(layers, len(self.keys), hidden, device=self.policy.device)
            self._state = (zeros, zeros.clone())

    def act(self, obs: Any, rows: np.ndarray) -> np.ndarray:
        """The actions of episodes ``rows`` given their observations."""
        policy = self.policy
        obs_tensor, _ = policy.obs_to_tensor(obs)
        if self.normalizer is not None:
            assert isinstance(obs_tensor, torch.Tensor)
            obs_tensor = self.normalizer(obs_tensor.float())
        with torch.inference_mode():
            if self.recurrent:
                assert self._state is not None
                index = torch.as_tensor(rows, device=policy.device)
                state = (self._state[0][:, index], self._state[1][:, index])
                starts = torch.as_tensor(self.steps[rows] == 0, dtype=torch.float32)
                distribution, (h, c) = policy.get_distribution(
                    obs_tensor, state, starts.to(policy.device)
                )
                self._state[0][:, index] = h
                self._state[1][:, index] = c
            else:
                distribution = policy.get_distribution(obs_tensor)
            greedy = self.greedy[rows]
            if greedy.all():
                actions = distribution.mode()
                self.steps[rows] += 1
            else:
                actions = keyed_sample(distribution, self._noise(rows, self.width))
                if greedy.any():
                    mask = torch.as_tensor(greedy, device=actions.device)
                    mode = distribution.mode()
                    mask = mask.view(-1, *([1] * (actions.dim() - 1)))
                    actions = torch.where(mask, mode.to(actions.dtype), actions)
        out = actions.cpu().numpy().reshape((-1, *policy.action_space.shape))
        space = policy.action_space
        if isinstance(space, spaces.Box):
            out = (
                policy.unscale_action(out)
                if policy.squash_output
                else np.clip(out, space.low, space.high)
            )
        return out


class RandomActor(_Keyed):
    """Uniformly random actions of an action space, from each episode's keyed noise (Box spaces
    need finite bounds)."""

    def __init__(self, space: gym.Space) -> None:
        self.space = space
        self.width = noise_width(space)
        if isinstance(space, spaces.Box) and not (
            np.isfinite(space.low).all() and np.isfinite(space.high).all()
        ):
            raise ValueError("a random policy needs a Box action space with finite bounds")

    def act(self, obs: Any, rows: np.ndarray) -> np.ndarray:
        """Random actions for episodes ``rows``."""
        u = self._noise(rows, self.width)
        space = self.space
        if isinstance(space, spaces.Discrete):
            return (space.start + np.floor(u[:, 0] * space.n)).astype(space.dtype)
        if isinstance(space, spaces.MultiDiscrete):
            nvec = space.nvec.reshape(-1)
            picks = space.start.reshape(-1) + np.floor(u * nvec)
            return picks.astype(space.dtype).reshape((-1, *space.shape))
        if isinstance(space, spaces.MultiBinary):
            return (u < 0.5).astype(space.dtype).reshape((-1, *space.shape))
        assert isinstance(space, spaces.Box)
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        values = low + u * (high - low)
        return values.astype(space.dtype).reshape((-1, *space.shape))


class PredictActor:
    """Any object with SB3's ``predict(obs, state, episode_start, deterministic)``: called on every
    episode's observation each step (finished episodes repeat their last one), its state handed
    back as it returned it. Its sampled actions draw from torch's generator."""

    def __init__(self, model: Any, deterministic: bool = False) -> None:
        self.model = model
        self.deterministic = deterministic

    def begin(self, keys: np.ndarray) -> None:
        """New episodes, one per key."""
        self.n = len(keys)
        self._obs: Any = None
        self._state: Any = None
        self._start = np.ones(self.n, dtype=bool)

    def act(self, obs: Any, rows: np.ndarray) -> np.ndarray:
        """The actions of episodes ``rows``."""
        if self._obs is None or len(rows) == self.n:
            full = obs if len(rows) == self.n else None
            if full is None:
                raise ValueError("PredictActor needs every episode's observation on its first step")
            self._obs = _copy(full)
        else:
            _scatter(self._obs, rows, obs)
        actions, self._state = self.model.predict(
            self._obs,
            state=self._state,
            episode_start=self._start,
            deterministic=self.deterministic,
        )
        self._start = np.zeros(self.n, dtype=bool)
        return np.asarray(actions)[rows]


def _copy(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {k: np.array(v, copy=True) for k, v in obs.items()}
    return np.array(obs, copy=True)


def _scatter(full: Any, rows: np.ndarray, part: Any) -> None:
    if isinstance(full, dict):
        for k in full:
            full[k][rows] = part[k]
    else:
        full[rows] = part


class BatchActor:
    """A memoryless batch policy (observations of the running episodes to their actions), such as
    a policy under an observation attack."""

    def __init__(self, act: Any) -> None:
        self._act = act

    def begin(self, keys: np.ndarray) -> None:
        """New episodes (the policy keeps no state)."""

    def act(self, obs: Any, rows: np.ndarray) -> np.ndarray:
        """The policy's actions for the running episodes."""
        return np.asarray(self._act(obs))


def as_actor(policy: Any, deterministic: bool = False) -> Actor:
    """``policy`` as an :class:`Actor`: itself if it is one, a :class:`PolicyActor` for an SB3
    model (or policy), else a :class:`PredictActor` of its ``predict``."""
    if hasattr(policy, "begin") and hasattr(policy, "act"):
        return policy
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.policies import BasePolicy

    if isinstance(policy, (BaseAlgorithm, BasePolicy)):
        return PolicyActor(policy, deterministic)
    if hasattr(policy, "predict"):
        return PredictActor(policy, deterministic)
    raise TypeError(f"{type(policy).__name__} is neither an SB3 model nor has predict()")


__all__ = [
    "Actor",
    "BatchActor",
    "PolicyActor",
    "PredictActor",
    "RandomActor",
    "as_actor",
    "episode_keys",
    "keyed_sample",
    "noise_width",
    "uniforms",
]
