"""SB3 rollout buffers that tell which samples the last minibatch held.

SB3's ``RolloutBuffer.get`` yields minibatches in a random order without their indices. A method that
keeps per-sample state across PPO's epochs (Fast-BAT's carried linearization points) needs them:
these buffers record the indices of every minibatch they hand out, and are otherwise SB3's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer


class SampleIndices:
    """Mixin for an SB3 rollout buffer: ``last_indices`` holds the last minibatch's buffer indices
    (into the flattened ``buffer_size * n_envs`` samples)."""

    last_indices: np.ndarray | None = None

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> Any:
        self.last_indices = batch_inds
        return super()._get_samples(batch_inds, env)  # type: ignore[misc]


class IndexedRolloutBuffer(SampleIndices, RolloutBuffer):
    """SB3's ``RolloutBuffer`` recording each minibatch's indices."""


class IndexedDictRolloutBuffer(SampleIndices, DictRolloutBuffer):
    """SB3's ``DictRolloutBuffer`` recording each minibatch's indices."""
