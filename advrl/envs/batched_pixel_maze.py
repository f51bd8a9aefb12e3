"""The pixel maze for N levels at once: :class:`~advrl.envs.batched.BatchedMaze` drawn under views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices

from advrl.envs.batched import BatchedMaze
from advrl.envs.pixel_maze import MAZE_VIEWS
from advrl.envs.pixels import maze_materials, paint
from advrl.envs.views import VIEW_DIM, VIEW_SEED_STREAM, View, ViewSpace, view_space

CPU_BLOCK = 256
"""Scenes drawn per pass on the CPU."""


class PixelBatchedMaze(BatchedMaze):
    """N pixel mazes stepped together: BatchedMaze's rules, PixelMazeEnv's pictures.

    Every slot draws a new view from ``views`` when its episode starts (from a seeded generator of
    its own, so the levels are the ones BatchedMaze would draw with the same seed), unless
    :meth:`set_views` fixed one. Observations are ``uint8 [N, v * tile, v * tile, 3]``, the same
    pixels :class:`~advrl.envs.pixel_maze.PixelMazeEnv` draws for the same level, position and
    view (a test holds them equal).

    Args:
        num_envs: number of slots N.
        views: view space of new episodes: ``default``, ``train``, ``heldout`` or a ViewSpace.
        tile: pixels per cell.
        **maze_kwargs: :class:`~advrl.envs.batched.BatchedMaze`'s other arguments.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        views: str | ViewSpace = "default",
        tile: int = 8,
        **maze_kwargs: Any,
    ) -> None:
        if int(tile) < 2:
            raise ValueError(f"tile must be at least 2 pixels, got {tile}")
        self.tile = int(tile)
        self.view_space = view_space(views, MAZE_VIEWS)
        self.view_spaces = MAZE_VIEWS
        super().__init__(num_envs, **maze_kwargs)
        side = self.view * self.tile
        self.observation_space = spaces.Box(0, 255, (side, side, 3), dtype=np.uint8)
        dev = self.device
        self.view_generator = torch.Generator(device=dev)
        seed = maze_kwargs.get("seed")
        self.view_generator.manual_seed(VIEW_SEED_STREAM + (0 if seed is None else int(seed)))
        low = torch.as_tensor(self.view_space.bounds()[0], device=dev)
        self.views = low.expand(num_envs, VIEW_DIM).clone()  # [N, VIEW_DIM]
        self.fixed_view = torch.zeros(num_envs, dtype=torch.bool, device=dev)
        self.fixed_views = self.views.clone()

    def set_views(self, views: Sequence[View | None], indices: VecEnvIndices = None) -> None:
        """Give slots fixed views (None: back to drawing them). They apply from the next reset."""
        idx = self._indices(indices)
        if len(views) != len(idx):
            raise ValueError(f"got {len(views)} views for {len(idx)} slots")
        for i, view in zip(idx, views, strict=True):
            self.fixed_view[i] = view is not None
            if view is not None:
                self.fixed_views[i] = torch.as_tensor(view.vector(), device=self.device)

    def _reset_slots(self, mask: torch.Tensor, *, replay: bool = False) -> None:
        replayed = self._replayed(mask, replay)  # (before the reset: a replay keeps its view)
        super()._reset_slots(mask, replay=replay)
        if replayed is not None:
            mask = mask & ~replayed
        rows = torch.nonzero(mask).squeeze(1)
        if rows.numel() == 0:
            return
        drawn = self.view_space.draw_vectors(
            len(rows), generator=self.view_generator, device=self.device
        )
        self.views[rows] = torch.where(
            self.fixed_view[rows].view(-1, 1), self.fixed_views[rows], drawn
        )

    def observe(self) -> torch.Tensor:  # type: ignore[override]
        """Current observations on the device: ``uint8 [N, v * tile, v * tile, 3]``."""
        return self.draw(self.scenes(), self.views)

    def scenes(self) -> torch.Tensor:
        """What each slot's agent sees, before drawing: MazeEnv's ``uint8 [N, v, v, 3]`` view."""
        return super().observe()["image"]

    def draw(self, scenes: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
        """Scenes (from :meth:`scenes`) drawn under views (``[B, VIEW_DIM]``), ``uint8 [B, H, W, 3]``.

        On the CPU in blocks of :data:`CPU_BLOCK` scenes: larger batches spill the caches (1.75x
        slower for 1,024 scenes at once than in blocks of 256 on one thread)."""
        scenes = scenes.to(self.device)
        step = len(scenes) if self.device.type != "cpu" else CPU_BLOCK
        blocks = [
            paint(maze_materials(scenes[i : i + step], self.tile), views[i : i + step])
            for i in range(0, len(scenes), max(step, 1))
        ]
        return blocks[0] if len(blocks) == 1 else torch.cat(blocks)

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Reseed the level and view generators (they take effect at the next reset)."""
        if seed is not None:
            self.view_generator.manual_seed(VIEW_SEED_STREAM + int(seed))
        return super().seed(seed)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Per-slot attributes: ``level`` and ``view`` are each slot's own; others are shared."""
        if attr_name == "view":
            return [View.from_vector(self.views[i].cpu().numpy()) for i in self._indices(indices)]
        return super().get_attr(attr_name, indices)
