"""Views that redraw a rollout's scenes: SimAug's "same situation, another camera" on pixels.

A pixel env that can draw its scenes again (:class:`RedrawsScenes`, e.g.
:class:`~advrl.envs.batched_pixel_maze.PixelBatchedMaze`) exposes what its agents see before
drawing (``scenes()``), how it draws (``draw(scenes, views)``) and its named view spaces
(``view_spaces``). During a rollout, :class:`SceneRecorder` keeps the scene behind every observation
SB3's rollout buffer stores, in the buffer's sample order; in the update, :class:`SceneViews` draws
each sample's scene under fresh views from the env's ``train`` view space (whatever views the env
itself draws), in the layout the policy takes. The
situation (level, position, heading) is the sample's own; only how it looks changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from advrl.envs.views import ViewSpace


@runtime_checkable
class RedrawsScenes(Protocol):
    """A VecEnv whose observations are its scenes drawn under per-slot views."""

    num_envs: int
    observation_space: spaces.Space
    view_spaces: Mapping[str, ViewSpace]

    def scenes(self) -> torch.Tensor:
        """The current scene of every slot, ``[N, ...]``."""
        ...

    def draw(self, scenes: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
        """Scenes drawn under views ``[B, VIEW_DIM]``: ``uint8 [B, H, W, C]`` images."""
        ...


def scene_env(env: VecEnv | None) -> RedrawsScenes | None:
    """The env under any VecEnv wrappers, if it can redraw its scenes."""
    while isinstance(env, VecEnvWrapper):
        env = env.venv
    return env if isinstance(env, RedrawsScenes) else None


class SceneRecorder(BaseCallback):
    """Records, during a rollout, the scene behind each observation the rollout buffer stores.

    SB3 stores the observation a step was taken from, so the scene of buffer row ``t`` is the env's
    scene at the rollout's start (``t = 0``) or after step ``t - 1``.

    Args:
        env: the rollout's env.
        n_steps: steps per env in a rollout (PPO's ``n_steps``).
    """

    def __init__(self, env: RedrawsScenes, n_steps: int) -> None:
        super().__init__()
        self.env = env
        self.n_steps = n_steps
        self.rows: list[torch.Tensor] = []

    def _on_rollout_start(self) -> None:
        self.rows = [self.env.scenes().clone()]

    def _on_step(self) -> bool:
        if len(self.rows) < self.n_steps:
            self.rows.append(self.env.scenes().clone())
        return True

    def flat(self) -> torch.Tensor:
        """``[n_envs * n_steps, ...]``: the scenes in the rollout buffer's flattened order (env-major,
        as SB3's ``swap_and_flatten``)."""
        if len(self.rows) != self.n_steps:
            raise RuntimeError(f"recorded {len(self.rows)} of {self.n_steps} rollout steps")
        stacked = torch.stack(self.rows)  # [n_steps, n_envs, ...]
        return stacked.transpose(0, 1).reshape(-1, *stacked.shape[2:])


class SceneViews:
    """Draws scenes under views drawn uniformly from the env's ``train`` view space.

    Args:
        env: the env that draws.
        channels_first: return ``[B, C, H, W]`` (the layout SB3 gives an image policy after
            ``VecTransposeImage``) rather than the env's ``[B, H, W, C]``.
        device: where the drawn batch goes (the policy's device).
    """

    def __init__(
        self, env: RedrawsScenes, *, channels_first: bool, device: torch.device | str
    ) -> None:
        self.env = env
        self.channels_first = channels_first
        self.device = torch.device(device)

    def sample_views(self, n: int) -> torch.Tensor:
        """``[n, VIEW_DIM]`` views, uniform in the training view space (torch's global generator)."""
        return self.env.view_spaces["train"].draw_vectors(n)

    def __call__(self, scenes: torch.Tensor, views: torch.Tensor | None = None) -> torch.Tensor:
        """``scenes`` drawn under ``views`` (default: fresh ones), as float images in ``[0, 255]``."""
        if views is None:
            views = self.sample_views(len(scenes))
        images = self.env.draw(scenes, views).to(self.device, torch.float32)
        return images.permute(0, 3, 1, 2) if self.channels_first else images


def policy_takes_channels_first(shape: tuple[int, ...], image: tuple[int, ...]) -> bool:
    """Whether a policy's observation ``shape`` is the env's ``[H, W, C]`` image transposed."""
    h, w, c = image
    if tuple(shape) == (c, h, w):
        return True
    if tuple(shape) == (h, w, c):
        return False
    raise ValueError(f"the policy takes {tuple(shape)} observations; the env draws {image} images")


__all__ = [
    "RedrawsScenes",
    "SceneRecorder",
    "SceneViews",
    "policy_takes_channels_first",
    "scene_env",
]
