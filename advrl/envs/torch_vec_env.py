"""Shared plumbing of advrl's torch VecEnvs: one object holds every slot, on one device."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from advrl.checks import check_device_available


class TorchVecEnv(VecEnv):
    """An SB3 ``VecEnv`` whose slots live together in tensors on ``device``, drawn from ``generator``.

    Subclasses implement ``reset``, ``step_async`` and ``step_wait``; attributes are shared by all
    slots, so ``get_attr`` repeats them and ``env_method`` calls once.
    """

    def __init__(
        self,
        num_envs: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        device: str | torch.device,
        seed: int | None,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.render_mode = None
        super().__init__(num_envs, observation_space, action_space)
        check_device_available(str(device))
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(0 if seed is None else int(seed))

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        return list(self._get_indices(indices))

    def close(self) -> None:
        """Nothing to release."""

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Reseed the generator (takes effect at the next draw)."""
        if seed is not None:
            self.generator.manual_seed(int(seed))
        return [seed] * self.num_envs

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """A shared attribute, repeated per slot."""
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set a shared attribute."""
        setattr(self, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method once (the slots share one object) and repeat its result per slot."""
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        return [result] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """No slot is wrapped (episode statistics are reported in ``infos`` directly)."""
        return [False] * len(self._indices(indices))


@overload
def to_numpy(obs: torch.Tensor) -> np.ndarray: ...
@overload
def to_numpy(obs: dict[str, torch.Tensor]) -> dict[str, np.ndarray]: ...
def to_numpy(obs: torch.Tensor | dict[str, torch.Tensor]) -> np.ndarray | dict[str, np.ndarray]:
    """Device observations (a tensor or a dict of them) as the numpy arrays SB3 expects."""
    if isinstance(obs, dict):
        return {k: v.cpu().numpy() for k, v in obs.items()}
    return obs.cpu().numpy()


def select(obs: Any, index: Any) -> Any:
    """``obs[index]`` of a batch of observations: an array, a tensor or a dict of them."""
    if isinstance(obs, dict):
        return {k: v[index] for k, v in obs.items()}
    return obs[index]
