"""Level generators: how a maze env draws a level when none is given.

A generator is a small frozen value with ``shape`` (the inner grid it produces) and
``sample(rng) -> MazeLevel``. All randomness comes from the ``numpy.random.Generator`` passed in
(the env's ``np_random``), so a seeded env replays the same levels.

- :class:`RandomWalls` — domain randomization as in PAIRED: goal, start and a number of walls at random.
- :class:`FixedLevels` — one of a fixed list (a held-out maze, a user's layout file).
- :class:`PerfectMaze` — a maze with exactly one path between any two cells (Kruskal on a random
  spanning tree).
- :class:`SimpleCrossing` — MiniGrid's crossing: wall "rivers" with one opening each.
- :class:`FourRooms` — MiniGrid's four rooms with random doors, start and goal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from advrl.envs.level import MazeLevel


@runtime_checkable
class LevelGenerator(Protocol):
    """Anything that draws maze levels of one inner shape from a random generator."""

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the inner grid of every level drawn."""
        ...

    def sample(self, rng: np.random.Generator) -> MazeLevel:
        """Draw one level."""
        ...


def _cell(index: int, width: int) -> tuple[int, int]:
    return int(index // width), int(index % width)


def paired_num_walls(shape: tuple[int, int]) -> int:
    """PAIRED's domain-randomization wall count, 25 on the 13x13 inside, scaled by area elsewhere."""
    return round(25 / 169 * shape[0] * shape[1])


@dataclass(frozen=True)
class RandomWalls:
    """Domain randomization: the goal, then the start, then walls, each on a uniformly random free cell.

    Args:
        shape: ``(height, width)`` of the inner grid.
        num_walls: an exact wall count, or ``(low, high)`` for a count drawn uniformly in
            ``[low, high]`` (inclusive) per level; None: :func:`paired_num_walls` (PAIRED's DR uses
            half the adversary's wall budget, 25 of 50). "Uniform in [0, 60]" is ``(0, 60)``.
    """

    shape: tuple[int, int] = (13, 13)
    num_walls: int | tuple[int, int] | None = None

    def __post_init__(self) -> None:
        height, width = self.shape
        if height < 1 or width < 1 or height * width < 2:
            raise ValueError(f"shape must hold at least 2 cells, got {self.shape}")
        low, high = self.wall_range
        free = height * width - 2
        if not 0 <= low <= high:
            raise ValueError(f"num_walls must satisfy 0 <= low <= high, got {self.num_walls}")
        if high > free:
            raise ValueError(
                f"num_walls up to {high} does not fit a {height}x{width} grid: at most {free} "
                "cells are free once goal and start are placed"
            )

    @property
    def wall_range(self) -> tuple[int, int]:
        """``(low, high)`` of the wall count, inclusive."""
        if self.num_walls is None:
            n = paired_num_walls(self.shape)
            return n, n
        if isinstance(self.num_walls, (int, np.integer)):
            return int(self.num_walls), int(self.num_walls)
        low, high = self.num_walls
        return int(low), int(high)

    def sample(self, rng: np.random.Generator) -> MazeLevel:
        """Draw goal, start, direction and walls in that order."""
        height, width = self.shape
        cells = height * width
        goal = int(rng.integers(cells))
        start = int(rng.integers(cells - 1))
        start += start >= goal
        start_dir = int(rng.integers(4))
        low, high = self.wall_range
        n = int(rng.integers(low, high + 1))
        free = np.setdiff1d(np.arange(cells), [goal, start])
        walls = np.zeros(cells, dtype=bool)
        walls[rng.choice(free, size=n, replace=False)] = True
        return MazeLevel(
            walls=walls.reshape(height, width),
            goal=_cell(goal, width),
            start=_cell(start, width),
            start_dir=start_dir,
        )


@dataclass(frozen=True)
class FixedLevels:
    """Plays one of a fixed list of levels, chosen uniformly per episode.

    Args:
        levels: the levels (all of one shape).
        random_start_dir: draw the start direction uniformly instead of using the level's, as the
            held-out mazes of the UED papers do.
    """

    levels: tuple[MazeLevel, ...]
    random_start_dir: bool = False

    def __init__(self, levels: Sequence[MazeLevel], random_start_dir: bool = False) -> None:
        levels = tuple(levels)
        if not levels:
            raise ValueError("FixedLevels needs at least one level")
        shapes = {lvl.shape for lvl in levels}
        if len(shapes) != 1:
            raise ValueError(f"all levels must share one shape, got {sorted(shapes)}")
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "random_start_dir", bool(random_start_dir))

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the levels."""
        return self.levels[0].shape

    def sample(self, rng: np.random.Generator) -> MazeLevel:
        """One of the levels (with a random start direction if asked)."""
        level = (
            self.levels[int(rng.integers(len(self.levels)))]
            if len(self.levels) > 1
            else self.levels[0]
        )
        if self.random_start_dir:
            level = level.with_start_dir(int(rng.integers(4)))
        return level


@dataclass(frozen=True)
class PerfectMaze:
    """A perfect maze (a random spanning tree of the odd cells), start and goal in two distinct corners.

    Args:
        size: inner side length; must be odd (cells sit on even coordinates, walls between them).
    """

    size: int = 13
    _corners: tuple[tuple[int, int], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.size < 3 or self.size % 2 == 0:
            raise ValueError(f"PerfectMaze size must be odd and >= 3, got {self.size}")
        s = self.size - 1
        object.__setattr__(self, "_corners", ((0, 0), (0, s), (s, 0), (s, s)))

    @property
    def shape(self) -> tuple[int, int]:
        """``(size, size)``."""
        return self.size, self.size

    def sample(self, rng: np.random.Generator) -> MazeLevel:
        """Kruskal's algorithm over a random edge order, then start/goal corners and a direction."""
        n = self.size // 2 + 1  # cells per side
        walls = np.ones((self.size, self.size), dtype=bool)
        walls[::2, ::2] = False
        parent = list(range(n * n))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        edges = [(r * n + c, r * n + c + 1) for r in range(n) for c in range(n - 1)]
        edges += [(r * n + c, (r + 1) * n + c) for r in range(n - 1) for c in range(n)]
        for k in rng.permutation(len(edges)):
            u, v = edges[int(k)]
            ru, rv = find(u), find(v)
            if ru != rv:
                parent[ru] = rv
                (ur, uc), (vr, vc) = divmod(u, n), divmod(v, n)
                walls[ur + vr, uc + vc] = False  # the cell between the two (coordinates doubled)
        start_i, goal_i = rng.choice(4, size=2, replace=False)
        return MazeLevel(
            walls=walls,
            goal=self._corners[int(goal_i)],
            start=self._corners[int(start_i)],
            start_dir=int(rng.integers(4)),
        )


@dataclass(frozen=True)
class SimpleCrossing:
    """MiniGrid's SimpleCrossing: full-length wall rivers on even rows/columns, one opening per crossing.

    The agent starts top-left facing right, the goal is bottom-right.

    Args:
        size: inner side length (odd, >= 3).
        num_crossings: number of rivers (at most ``size - 1``).
    """

    size: int = 9
    num_crossings: int = 5

    def __post_init__(self) -> None:
        if self.size < 3 or self.size % 2 == 0:
            raise ValueError(f"SimpleCrossing size must be odd and >= 3, got {self.size}")
        if not 0 <= self.num_crossings <= self.size - 1:
            raise ValueError(
                f"num_crossings must be in [0, {self.size - 1}] for size {self.size}, "
                f"got {self.num_crossings}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """``(size, size)``."""
        return self.size, self.size

    def sample(self, rng: np.random.Generator) -> MazeLevel:
        """Pick rivers, then a monotone path of openings through them."""
        s = self.size
        # Rivers on odd inner indices (even outer coordinates, as in MiniGrid).
        rivers = [("v", i) for i in range(1, s, 2)] + [("h", j) for j in range(1, s, 2)]
        order = rng.permutation(len(rivers))[: self.num_crossings]
        chosen = [rivers[int(k)] for k in order]
        rows = sorted(p for d, p in chosen if d == "h")  # horizontal river: a wall row
        cols = sorted(p for d, p in chosen if d == "v")  # vertical river: a wall column
        walls = np.zeros((s, s), dtype=bool)
        walls[rows, :] = True
        walls[:, cols] = True
        path = ["right"] * len(cols) + ["down"] * len(rows)
        path = [path[int(k)] for k in rng.permutation(len(path))]
        col_limits = [-1, *cols, s]
        row_limits = [-1, *rows, s]
        room_c = room_r = 0
        for step in path:
            if step == "right":  # open the vertical river to the right of the current room
                c = col_limits[room_c + 1]
                r = int(rng.integers(row_limits[room_r] + 1, row_limits[room_r + 1]))
                room_c += 1
            else:
                r = row_limits[room_r + 1]
                c = int(rng.integers(col_limits[room_c] + 1, col_limits[room_c + 1]))
                room_r += 1
            walls[r, c] = False
        return MazeLevel(walls=walls, goal=(s - 1, s - 1), start=(0, 0), start_dir=0)


@dataclass(frozen=True)
class FourRooms:
    """MiniGrid's FourRooms: a cross of walls with one random door per wall segment, random start/goal.

    Args:
        size: inner side length (MiniGrid's outer 19 is inner 17).
    """

    size: int = 17

    def __post_init__(self) -> None:
        if self.size < 5:
            raise ValueError(f"FourRooms size must be >= 5, got {self.size}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(size, size)``."""
        return self.size, self.size

    def sample(self, rng: np.random.Generator) -> MazeLevel:
        """Walls, four doors, then goal, start and direction."""
        s = self.size
        mid = (s + 2) // 2 - 1  # the wall line, in inner coordinates (outer width // 2 - 1)
        walls = np.zeros((s, s), dtype=bool)
        walls[mid, :] = True
        walls[:, mid] = True
        # One door in each half of each wall line.
        walls[mid, int(rng.integers(0, mid))] = False
        walls[mid, int(rng.integers(mid + 1, s))] = False
        walls[int(rng.integers(0, mid)), mid] = False
        walls[int(rng.integers(mid + 1, s)), mid] = False
        free = np.flatnonzero(~walls.ravel())
        goal, start = rng.choice(free, size=2, replace=False)
        return MazeLevel(
            walls=walls,
            goal=_cell(int(goal), s),
            start=_cell(int(start), s),
            start_dir=int(rng.integers(4)),
        )
