"""Level families: what a UED teacher needs to know about the levels of one env.

A teacher draws random levels (domain randomization, PLR's new levels), blank ones (ACCEL's
start), edits them (ACCEL), keys them (the PLR buffer's duplicates), stores them in checkpoints and
summarizes them for TensorBoard. :class:`MazeFamily` does this for :class:`~advrl.envs.MazeLevel`,
:class:`ParamFamily` for the parameter dicts of physics envs; :func:`family_for` picks one from an
env. Any env that follows advrl's level contract can bring its own family.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from advrl.envs.generators import RandomWalls
from advrl.envs.level import MazeLevel
from advrl.envs.maze import MazeEnv, render_level
from advrl.logging import maze_level_stats


class LevelFamily(Protocol):
    """The operations UED needs on one kind of level."""

    def sample(self, rng: np.random.Generator) -> Any:
        """A domain-randomized level."""
        ...

    def blank(self, rng: np.random.Generator) -> Any:
        """The simplest level (ACCEL's starting point)."""
        ...

    def edit(self, level: Any, rng: np.random.Generator, num_edits: int) -> Any:
        """A small random change of ``level`` that is again a valid level."""
        ...

    def key(self, level: Any) -> Hashable:
        """Equal keys for equal levels."""
        ...

    def encode(self, level: Any) -> str | dict[str, float]:
        """A checkpoint-safe form (text or floats)."""
        ...

    def decode(self, data: Any) -> Any:
        """The inverse of :meth:`encode`."""
        ...

    def stats(self, levels: Sequence[Any]) -> dict[str, float]:
        """Scalars that describe a batch of levels."""
        ...

    def images(self, levels: Sequence[Any]) -> list[np.ndarray]:
        """RGB pictures of levels (empty when the family has none)."""
        ...


@dataclass(frozen=True)
class MazeFamily:
    """Maze levels on an inner grid of ``shape``.

    Args:
        shape: ``(height, width)`` of the inner grid.
        num_walls: walls of a random level (see :class:`~advrl.envs.RandomWalls`).
    """

    shape: tuple[int, int] = (13, 13)
    num_walls: int | tuple[int, int] | None = None

    @property
    def generator(self) -> RandomWalls:
        """The domain-randomization generator."""
        return RandomWalls(shape=self.shape, num_walls=self.num_walls)

    def sample(self, rng: np.random.Generator) -> MazeLevel:
        """Goal, start, direction and walls uniformly at random (PAIRED's DR)."""
        return self.generator.sample(rng)

    def blank(self, rng: np.random.Generator) -> MazeLevel:
        """No walls; goal, start and direction at random."""
        return RandomWalls(shape=self.shape, num_walls=0).sample(rng)

    def edit(self, level: MazeLevel, rng: np.random.Generator, num_edits: int) -> MazeLevel:
        """ACCEL's maze edit: flip ``num_edits`` distinct random cells between wall and floor.

        The goal and the start are never edited, so the result is always a valid level.
        """
        if level.shape != self.shape:
            raise ValueError(f"level is {level.shape}, the family's grid is {self.shape}")
        walls = level.walls.copy()
        cells = np.arange(walls.size)
        fixed = [level.goal[0] * self.shape[1] + level.goal[1]]
        fixed.append(level.start[0] * self.shape[1] + level.start[1])
        editable = np.setdiff1d(cells, fixed)
        for cell in rng.choice(editable, size=min(num_edits, len(editable)), replace=False):
            row, col = divmod(int(cell), self.shape[1])
            walls[row, col] = not walls[row, col]
        return MazeLevel(walls=walls, goal=level.goal, start=level.start, start_dir=level.start_dir)

    def key(self, level: MazeLevel) -> Hashable:
        """The level itself (MazeLevel is hashable)."""
        return level

    def encode(self, level: MazeLevel) -> str:
        """The text form."""
        return level.to_text()

    def decode(self, data: Any) -> MazeLevel:
        """From the text form."""
        return MazeLevel.from_text(str(data))

    def stats(self, levels: Sequence[MazeLevel]) -> dict[str, float]:
        """Mean walls, mean shortest path of the solvable levels, share solvable."""
        return maze_level_stats(levels)

    def images(self, levels: Sequence[MazeLevel]) -> list[np.ndarray]:
        """The levels drawn as MiniGrid draws them."""
        return [render_level(lvl, tile_size=16) for lvl in levels]


@dataclass(frozen=True)
class ParamFamily:
    """Parameter levels: a dict of named scalars, each inside the bounds of ``level_space``.

    Args:
        level_space: a ``Dict`` of scalar ``Box`` es (a physics env's ``level_space``).
        defaults: the standard parameters (the blank level); None: each range's midpoint.
        edit_scale: an edit adds Gaussian noise of this share of the range to one parameter.
    """

    level_space: spaces.Dict
    defaults: Mapping[str, float] | None = None
    edit_scale: float = 0.1

    def __post_init__(self) -> None:
        for name, space in self.level_space.spaces.items():
            if not isinstance(space, spaces.Box) or int(np.prod(space.shape)) != 1:
                raise ValueError(f"level_space[{name!r}] must be a scalar Box, got {space}")

    def bounds(self, name: str) -> tuple[float, float]:
        """``(low, high)`` of one parameter."""
        space = self.level_space[name]
        assert isinstance(space, spaces.Box)
        return float(space.low.reshape(-1)[0]), float(space.high.reshape(-1)[0])

    @property
    def names(self) -> list[str]:
        """Parameter names, in the space's order."""
        return list(self.level_space.spaces)

    def sample(self, rng: np.random.Generator) -> dict[str, float]:
        """Every parameter uniform in its range."""
        return {n: float(rng.uniform(*self.bounds(n))) for n in self.names}

    def blank(self, rng: np.random.Generator) -> dict[str, float]:
        """The standard parameters."""
        if self.defaults is not None:
            return {n: float(self.defaults[n]) for n in self.names}
        return {n: sum(self.bounds(n)) / 2 for n in self.names}

    def edit(self, level: Mapping[str, float], rng: np.random.Generator, num_edits: int) -> dict:
        """``num_edits`` times: one random parameter moves by Gaussian noise, clipped to its range."""
        out = {n: float(level[n]) for n in self.names}
        for _ in range(num_edits):
            name = self.names[int(rng.integers(len(self.names)))]
            low, high = self.bounds(name)
            out[name] = float(
                np.clip(out[name] + rng.normal(0, self.edit_scale * (high - low)), low, high)
            )
        return out

    def key(self, level: Mapping[str, float]) -> Hashable:
        """The values rounded to 6 significant digits."""
        return tuple(float(f"{level[n]:.6g}") for n in self.names)

    def encode(self, level: Mapping[str, float]) -> dict[str, float]:
        """The dict itself (floats)."""
        return {n: float(level[n]) for n in self.names}

    def decode(self, data: Any) -> dict[str, float]:
        """A dict of floats."""
        return {n: float(data[n]) for n in self.names}

    def stats(self, levels: Sequence[Mapping[str, float]]) -> dict[str, float]:
        """The mean of each parameter."""
        return {n: float(np.mean([lvl[n] for lvl in levels])) for n in self.names}

    def images(self, levels: Sequence[Any]) -> list[np.ndarray]:
        """None: parameters are logged as scalars."""
        return []


def family_for(env: gym.Env) -> MazeFamily | ParamFamily:
    """The level family of an env: a maze's grid, or a physics env's ``level_space``.

    Raises:
        ValueError: the env declares no levels (it does not follow advrl's level contract).
    """
    base = env.unwrapped
    if isinstance(base, MazeEnv):
        generator = base.generator
        num_walls = generator.num_walls if isinstance(generator, RandomWalls) else None
        return MazeFamily(shape=base.inner_shape, num_walls=num_walls)
    level_space = getattr(base, "level_space", None)
    if isinstance(level_space, spaces.Dict):
        defaults = base.default_level() if hasattr(base, "default_level") else None
        return ParamFamily(level_space=level_space, defaults=defaults)
    raise ValueError(
        f"{type(base).__name__} declares no levels: UED needs a maze or an env with a "
        "`level_space` that takes reset(options={'level': ...}) (see the README's level contract)"
    )
