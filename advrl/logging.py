"""TensorBoard helpers on top of SB3's logger: level images and level statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Image

from advrl.envs.level import MazeLevel
from advrl.envs.maze import render_level
from advrl.periodic import Periodic

NOT_TEXT = ("stdout", "log", "json", "csv")
"""Logger formats that cannot show an image."""


def tile_images(images: Sequence[np.ndarray], cols: int = 4, pad: int = 4) -> np.ndarray:
    """Lay out HWC images of possibly different sizes in a grid on a white background."""
    if not images:
        raise ValueError("no images to tile")
    cols = max(1, min(cols, len(images)))
    rows = -(-len(images) // cols)
    cell_h = max(im.shape[0] for im in images) + pad
    cell_w = max(im.shape[1] for im in images) + pad
    canvas = np.full((rows * cell_h + pad, cols * cell_w + pad, 3), 255, dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * cell_h, pad + c * cell_w
        canvas[y : y + im.shape[0], x : x + im.shape[1]] = im
    return canvas


def maze_level_stats(levels: Sequence[MazeLevel]) -> dict[str, float]:
    """Mean wall count, mean shortest path (solvable levels) and share of solvable levels."""
    paths = [lvl.shortest_path_length() for lvl in levels]
    solved = [p for p in paths if p is not None]
    return {
        "num_walls": float(np.mean([lvl.num_walls for lvl in levels])),
        "shortest_path": float(np.mean(solved)) if solved else float("nan"),
        "solvable": len(solved) / len(levels),
    }


class LevelLogger(BaseCallback):
    """Logs statistics of the levels the training envs play, and images of some every ``image_every``.

    Levels are read with ``get_attr("level")`` at the end of each rollout: maze levels give
    ``levels/num_walls``, ``levels/shortest_path``, ``levels/solvable`` and ``levels/images``;
    parameter dicts (physics envs) give the mean of each parameter as ``levels/<name>``.

    Args:
        image_every: env steps between images (0: no images).
        max_images: levels drawn per image.
        max_levels: at most this many slots (the first ones) are read per rollout, so that thousands
            of batched slots do not cost thousands of BFS runs.
    """

    def __init__(
        self, image_every: int = 25_000, max_images: int = 8, max_levels: int = 64, verbose: int = 0
    ) -> None:
        super().__init__(verbose)
        self.image_every = image_every
        self.max_images = max_images
        self.max_levels = max_levels
        self.images = Periodic(image_every, start=-image_every)  # the first rollout, then every N

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        try:
            n = min(self.training_env.num_envs, self.max_levels)
            levels: list[Any] = self.training_env.get_attr("level", indices=range(n))
        except AttributeError:
            return
        levels = [lvl for lvl in levels if lvl is not None]
        if not levels:
            return
        if isinstance(levels[0], MazeLevel):
            for key, value in maze_level_stats(levels).items():
                self.logger.record(f"levels/{key}", value)
            if self.images.due(self.num_timesteps):
                images = [render_level(lvl, tile_size=16) for lvl in levels[: self.max_images]]
                self.logger.record(
                    "levels/images", Image(tile_images(images), "HWC"), exclude=NOT_TEXT
                )
        elif isinstance(levels[0], dict):
            for key in levels[0]:
                self.logger.record(f"levels/{key}", float(np.mean([lvl[key] for lvl in levels])))
