"""The PAIRED maze seen as pixels: the agent's egocentric view drawn as an RGB image under a view."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from advrl.envs.maze import MazeEnv
from advrl.envs.pixels import maze_materials, paint
from advrl.envs.views import View, ViewDraws, ViewSpace, near, view_space, views_of

MAZE_VIEWS: dict[str, ViewSpace] = views_of(
    default=View(((0.0, 0.0, 0.0), (0.4, 0.4, 0.4), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0))),
    train=ViewSpace(
        colors=(
            near((0.1, 0.1, 0.1), 0.1),
            near((0.5, 0.5, 0.5), 0.12),
            ((0.0, 0.3), (0.6, 1.0), (0.0, 0.3)),
            ((0.6, 1.0), (0.0, 0.3), (0.0, 0.3)),
        ),
        texture=(0.0, 0.25),
        light=(0.8, 1.2),
        light_slope=(-0.2, 0.2),
        shift=((-0.04, 0.04), (-0.04, 0.04)),
        zoom=(0.95, 1.05),
    ),
    heldout=ViewSpace(
        colors=(
            near((0.3, 0.3, 0.3), 0.05),
            ((0.2, 0.35), (0.3, 0.45), (0.65, 0.8)),
            ((0.3, 0.45), (0.8, 1.0), (0.3, 0.45)),
            ((0.8, 1.0), (0.35, 0.5), (0.0, 0.2)),
        ),
        texture=(0.3, 0.45),
        light=(0.65, 0.78),
        light_slope=(-0.3, 0.3),
        shift=((-0.06, 0.06), (-0.06, 0.06)),
        zoom=(0.9, 1.1),
    ),
)
"""The maze's view spaces. Materials: floor, wall, goal, agent. ``default`` is MiniGrid's palette
(black floor, grey walls, green goal, red agent); ``train`` varies every colour around it, the
texture, light and camera; ``heldout`` has a lighter floor, blue walls, a textured and darker
scene: its floor colour, texture and light are outside the training ranges for every draw."""


class PixelMazeEnv(MazeEnv):
    """:class:`~advrl.envs.maze.MazeEnv` observed through pixels: what the agent sees, drawn.

    **Description.** The maze's rules, levels and episodes, unchanged (a level given or drawn as in
    MazeEnv, from the same seeded generator, so a seed gives the same levels). The observation is
    the agent's egocentric ``agent_view_size`` square drawn as an RGB image, ``tile`` pixels per
    cell, the agent at the bottom middle facing up, under a :class:`~advrl.envs.views.View` drawn at
    every reset from ``views`` (see :data:`MAZE_VIEWS`) or given with
    ``env.reset(options={"view": ...})`` (a View, a dict of its fields or a view-space name).

    **Observation.** ``Box(0, 255, (v * tile, v * tile, 3), uint8)``.

    **Actions, reward, episode end.** MazeEnv's. ``reset`` puts the view in ``info["view"]``;
    ``reset`` and ``step`` put MazeEnv's own observation of the same moment in ``info["state"]``
    (in :attr:`state_space`): for analysis and for experts trained on the symbolic maze, never
    seen by a pixel policy.

    **Registered ids.** ``advrl/PixelMaze-v0`` (15x15, PAIRED's DR levels), ``advrl/PixelMaze-Small-v0``
    (9x9, 0-12 walls, 100 steps); both draw the ``default`` view (``views="train"`` or
    ``views="heldout"`` for the other spaces).

    Args:
        views: the view space drawn at each reset: ``default``, ``train``, ``heldout`` or a
            :class:`~advrl.envs.views.ViewSpace`.
        tile: pixels per cell.
        **maze_kwargs: :class:`~advrl.envs.maze.MazeEnv`'s arguments.
    """

    def __init__(
        self, *, views: str | ViewSpace = "default", tile: int = 8, **maze_kwargs: Any
    ) -> None:
        if int(tile) < 2:
            raise ValueError(f"tile must be at least 2 pixels, got {tile}")
        self.view_space = view_space(views, MAZE_VIEWS)
        self.tile = int(tile)
        self.view: View = MAZE_VIEWS["default"].sample(np.random.default_rng(0))
        self._views = ViewDraws(self.view_space, MAZE_VIEWS)
        self.state: dict[str, Any] = {}
        super().__init__(**maze_kwargs)
        self.state_space = self.observation_space
        """MazeEnv's observation space: what ``info["state"]`` holds."""
        side = self.agent_view_size * self.tile
        self.observation_space = spaces.Box(0, 255, (side, side, 3), dtype=np.uint8)

    def reset(  # type: ignore[override]
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """MazeEnv's reset (``options["level"]``), plus ``options["view"]``: how to draw it."""
        options = dict(options or {})
        self.view = self._views.choose(options.pop("view", None), seed)
        obs, info = super().reset(seed=seed, options=options or None)
        info.update(view=self.view, state=self.state)
        return obs, info  # type: ignore[return-value]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:  # type: ignore[override]
        """MazeEnv's step, observed as pixels."""
        obs, reward, terminated, truncated, info = super().step(action)
        info["state"] = self.state
        return obs, reward, terminated, truncated, info  # type: ignore[return-value]

    def gen_obs(self) -> np.ndarray:  # type: ignore[override]
        """The egocentric view drawn under the current view."""
        self.state = super().gen_obs()
        image = torch.from_numpy(self.state["image"]).unsqueeze(0)
        views = torch.from_numpy(self.view.vector()).unsqueeze(0)
        return paint(maze_materials(image, self.tile), views)[0].numpy()
