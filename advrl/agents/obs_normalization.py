"""SB3's observation normalization as a differentiable function, so attacks can act in env units.

A policy trained under ``VecNormalize`` takes ``clip((obs - mean) / sqrt(var + epsilon), +-clip_obs)``
of the env's observation ``obs``. Attacks in advrl perturb the env's own (raw) observation and pass
its normalization to the policy, so ``eps`` is in the env's units and the env's bounds apply, in
evaluation and in adversarial training alike; the gradient flows through the normalization (zero
where it clips). :class:`ObservationNormalizer` holds a snapshot of one ``VecNormalize``'s statistics.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecEnv, VecNormalize, unwrap_vec_normalize

from advrl.files import atomic_write_bytes


@dataclass(frozen=True)
class ObservationNormalizer:
    """``VecNormalize``'s observation normalization, frozen at its statistics when made.

    Args:
        mean: running mean of the raw observations.
        var: running variance of the raw observations.
        epsilon: ``VecNormalize.epsilon`` (added to the variance).
        clip_obs: ``VecNormalize.clip_obs`` (normalized values are clipped to ``+-clip_obs``).
    """

    mean: torch.Tensor
    var: torch.Tensor
    epsilon: float
    clip_obs: float

    @classmethod
    def from_vec_normalize(
        cls, venv: VecNormalize, device: torch.device | str = "cpu"
    ) -> ObservationNormalizer | None:
        """A snapshot of ``venv``'s observation statistics (None when it does not normalize
        observations)."""
        if not venv.norm_obs:
            return None
        if not isinstance(venv.obs_rms, RunningMeanStd) or not isinstance(
            venv.observation_space, spaces.Box
        ):
            raise ValueError(
                "attacks under VecNormalize need Box observations; this VecNormalize normalizes "
                f"{type(venv.observation_space).__name__} observations"
            )
        rms = venv.obs_rms

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)

        return cls(tensor(rms.mean), tensor(rms.var), float(venv.epsilon), float(venv.clip_obs))

    @classmethod
    def of_env(
        cls, venv: VecEnv, device: torch.device | str = "cpu"
    ) -> ObservationNormalizer | None:
        """The normalizer of the ``VecNormalize`` in ``venv``'s wrapper chain (None: none there,
        or it leaves observations as they are)."""
        found = unwrap_vec_normalize(venv)
        return None if found is None else cls.from_vec_normalize(found, device)

    @functools.cached_property
    def unbounded(self) -> spaces.Box:
        """The space of normalized observations attacked in their own units: unbounded (as
        SA-PPO perturbs them, after the clip and without clipping again)."""
        return spaces.Box(-np.inf, np.inf, tuple(self.mean.shape), np.float32)

    @functools.cached_property
    def scale(self) -> torch.Tensor:
        """``sqrt(var + epsilon)``: raw units per normalized unit."""
        return torch.sqrt(self.var + self.epsilon)

    def to(self, device: torch.device | str) -> ObservationNormalizer:
        """The same normalizer with its statistics on ``device``."""
        target = torch.device(device)
        here = self.mean.device
        if here.type == target.type and target.index in (None, here.index):
            return self  # "cuda" is the current cuda device: no copy on every minibatch
        return ObservationNormalizer(
            self.mean.to(device), self.var.to(device), self.epsilon, self.clip_obs
        )

    def save(self, path: Path) -> None:
        """Write the statistics as an ``.npz`` of plain arrays (``mean``, ``var``, ``epsilon``,
        ``clip_obs``; no pickle), atomically: a ``model.zip`` user normalizes with them."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            mean=self.mean.cpu().numpy(),
            var=self.var.cpu().numpy(),
            epsilon=np.array(self.epsilon),
            clip_obs=np.array(self.clip_obs),
        )
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path, device: torch.device | str = "cpu") -> ObservationNormalizer:
        """Read :meth:`save`'s file (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                torch.as_tensor(data["mean"], dtype=torch.float32, device=device),
                torch.as_tensor(data["var"], dtype=torch.float32, device=device),
                float(data["epsilon"]),
                float(data["clip_obs"]),
            )

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        """The policy's input for raw observations ``raw`` (``[batch, *shape]``)."""
        self._check(raw)
        return ((raw - self.mean) / self.scale).clamp(-self.clip_obs, self.clip_obs)

    def one(self, raw: np.ndarray) -> np.ndarray:
        """The policy's input for one raw observation, as a float32 array."""
        tensor = torch.as_tensor(np.asarray(raw), dtype=torch.float32, device=self.mean.device)
        return self(tensor[None])[0].cpu().numpy()

    def unnormalize(self, normalized: torch.Tensor) -> torch.Tensor:
        """Raw observations whose normalization is ``normalized`` (exact up to rounding; a clipped
        value maps to the raw value at the clip, which normalizes back to it)."""
        self._check(normalized)
        return normalized * self.scale + self.mean

    def _check(self, obs: torch.Tensor) -> None:
        if tuple(obs.shape[1:]) != tuple(self.mean.shape):
            raise ValueError(
                f"observations of shape {tuple(obs.shape[1:])} do not match the normalization "
                f"statistics' shape {tuple(self.mean.shape)}: use the VecNormalize of the env "
                "the policy was trained on"
            )
