"""The maze level: the frozen value an antagonist chooses.

A :class:`MazeLevel` lives on the *inner* grid (the border walls are implicit), with positions given
as ``(row, col)`` from the top-left inner cell. Directions follow MiniGrid: 0 right, 1 down, 2 left,
3 up.

Text form, one character per inner cell::

    #   wall          .   floor          G   goal
    >   start facing right    v  down    <  left    ^  up

Example::

    >..#
    .#.#
    ...G
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DIRECTION_CHARS = ">v<^"
"""Start characters indexed by MiniGrid direction (0 right, 1 down, 2 left, 3 up)."""

DIRECTION_VECTORS = ((0, 1), (1, 0), (0, -1), (-1, 0))
"""``(d_row, d_col)`` of one forward step for each direction."""

WALL_CHAR, FLOOR_CHAR, GOAL_CHAR = "#", ".", "G"


MAX_LEVEL_SIDE = 256
"""The largest level side, in cells (what a layout may ask to allocate and draw)."""


class LevelError(ValueError):
    """A level (or its text) is malformed; the message names the problem."""


Position = tuple[int, int]


def _as_position(value: Any, name: str) -> Position:
    try:
        row, col = (int(v) for v in value)
    except (TypeError, ValueError):
        raise LevelError(f"{name} must be a (row, col) pair of integers, got {value!r}") from None
    return row, col


@dataclass(frozen=True, eq=False)
class MazeLevel:
    """A maze layout: walls, goal, start cell and start direction on the inner grid.

    Args:
        walls: boolean array ``[height, width]``, True where a wall stands.
        goal: ``(row, col)`` of the goal.
        start: ``(row, col)`` where the agent starts.
        start_dir: the direction the agent faces at the start (0 right, 1 down, 2 left, 3 up).

    The level validates itself once, here; downstream code trusts it. It is immutable, hashable and
    compares by value.
    """

    walls: np.ndarray
    goal: Position
    start: Position
    start_dir: int = 0
    _key: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        walls = np.asarray(self.walls)
        if walls.ndim != 2 or walls.shape[0] < 1 or walls.shape[1] < 1:
            raise LevelError(f"walls must be a non-empty 2-D array, got shape {walls.shape}")
        if walls.dtype != np.bool_:
            if not np.isin(walls, (0, 1)).all():
                raise LevelError("walls must be boolean (or 0/1), got other values")
            walls = walls.astype(bool)
        walls = walls.copy()
        walls.setflags(write=False)
        goal = _as_position(self.goal, "goal")
        start = _as_position(self.start, "start")
        height, width = walls.shape
        for name, (row, col) in (("goal", goal), ("start", start)):
            if not (0 <= row < height and 0 <= col < width):
                raise LevelError(
                    f"{name} {(row, col)} is outside the {height}x{width} inner grid "
                    f"(rows 0..{height - 1}, cols 0..{width - 1})"
                )
            if walls[row, col]:
                raise LevelError(f"{name} {(row, col)} is on a wall")
        if goal == start:
            raise LevelError(f"start and goal are the same cell {goal}")
        if isinstance(self.start_dir, bool) or int(self.start_dir) not in range(4):
            raise LevelError(f"start_dir must be 0, 1, 2 or 3, got {self.start_dir!r}")
        object.__setattr__(self, "walls", walls)
        object.__setattr__(self, "goal", goal)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "start_dir", int(self.start_dir))
        key = (
            np.packbits(walls).tobytes() + repr((walls.shape, goal, start, self.start_dir)).encode()
        )
        object.__setattr__(self, "_key", key)

    # ----------------------------------------------------------------- value semantics
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MazeLevel):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"MazeLevel.from_text({self.to_text()!r})"

    # ----------------------------------------------------------------- shape
    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the inner grid."""
        return (int(self.walls.shape[0]), int(self.walls.shape[1]))

    @property
    def height(self) -> int:
        """Rows of the inner grid."""
        return int(self.walls.shape[0])

    @property
    def width(self) -> int:
        """Columns of the inner grid."""
        return int(self.walls.shape[1])

    @property
    def num_walls(self) -> int:
        """Number of wall cells inside the border."""
        return int(self.walls.sum())

    # ----------------------------------------------------------------- text form
    def to_text(self) -> str:
        """The level as text (rows joined by newlines, no trailing newline)."""
        chars = np.where(self.walls, WALL_CHAR, FLOOR_CHAR).astype("<U1")
        chars[self.goal] = GOAL_CHAR
        chars[self.start] = DIRECTION_CHARS[self.start_dir]
        return "\n".join("".join(row) for row in chars)

    @classmethod
    def from_text(cls, text: str) -> MazeLevel:
        """Parse the text form. Leading/trailing blank lines and surrounding spaces are ignored.

        Raises:
            LevelError: naming the line and column of the first problem found.
        """
        lines = [line.strip() for line in text.strip().splitlines()]
        if not lines or not lines[0]:
            raise LevelError("level text is empty")
        width = len(lines[0])
        if len(lines) > MAX_LEVEL_SIDE or width > MAX_LEVEL_SIDE:
            raise LevelError(
                f"a level is at most {MAX_LEVEL_SIDE} x {MAX_LEVEL_SIDE} cells, this one is "
                f"{len(lines)} x {width}"
            )
        goals: list[Position] = []
        starts: list[tuple[Position, int]] = []
        walls = np.zeros((len(lines), width), dtype=bool)
        for r, line in enumerate(lines):
            if len(line) != width:
                raise LevelError(
                    f"ragged rows: line {r + 1} has {len(line)} cells, line 1 has {width}"
                )
            for c, ch in enumerate(line):
                if ch == WALL_CHAR:
                    walls[r, c] = True
                elif ch == GOAL_CHAR:
                    goals.append((r, c))
                elif ch in DIRECTION_CHARS:
                    starts.append(((r, c), DIRECTION_CHARS.index(ch)))
                elif ch != FLOOR_CHAR:
                    raise LevelError(
                        f"unknown character {ch!r} at line {r + 1}, column {c + 1} "
                        f"(allowed: '#' wall, '.' floor, 'G' goal, '>v<^' start)"
                    )
        if len(goals) != 1:
            raise LevelError(f"a level needs exactly one goal 'G', found {len(goals)}")
        if len(starts) != 1:
            raise LevelError(f"a level needs exactly one start ('>v<^'), found {len(starts)}")
        (start, start_dir), goal = starts[0], goals[0]
        return cls(walls=walls, goal=goal, start=start, start_dir=start_dir)

    # ----------------------------------------------------------------- geometry
    def distances_from(self, source: Position) -> np.ndarray:
        """BFS step counts (4-neighbour moves) from ``source`` to every cell; -1 where unreachable."""
        height, width = self.shape
        dist = np.full((height, width), -1, dtype=np.int64)
        dist[source] = 0
        queue = deque([source])
        while queue:
            row, col = queue.popleft()
            for d_row, d_col in DIRECTION_VECTORS:
                r, c = row + d_row, col + d_col
                if 0 <= r < height and 0 <= c < width and not self.walls[r, c] and dist[r, c] < 0:
                    dist[r, c] = dist[row, col] + 1
                    queue.append((r, c))
        return dist

    def shortest_path_length(self) -> int | None:
        """Moves between start and goal on the 4-neighbour grid (turns not counted); None if unsolvable."""
        d = int(self.distances_from(self.start)[self.goal])
        return None if d < 0 else d

    @property
    def solvable(self) -> bool:
        """Whether the goal can be reached from the start."""
        return self.shortest_path_length() is not None

    # ----------------------------------------------------------------- transforms
    def with_start_dir(self, start_dir: int) -> MazeLevel:
        """The same layout with another start direction."""
        return MazeLevel(walls=self.walls, goal=self.goal, start=self.start, start_dir=start_dir)

    def flipped_lr(self) -> MazeLevel:
        """The mirror image left-right (start direction mirrored too)."""
        width = self.width
        mirror_dir = {0: 2, 2: 0, 1: 1, 3: 3}[self.start_dir]
        return MazeLevel(
            walls=self.walls[:, ::-1],
            goal=(self.goal[0], width - 1 - self.goal[1]),
            start=(self.start[0], width - 1 - self.start[1]),
            start_dir=mirror_dir,
        )


def _text_line_numbers(message: str, numbers: list[int]) -> str:
    """A level's error message with its line numbers replaced by the text's (``numbers[i]`` is
    the text line of the level's line ``i + 1``)."""
    return re.sub(r"\bline (\d+)", lambda m: f"line {numbers[int(m[1]) - 1]}", message)


def levels_from_text(text: str) -> list[MazeLevel]:
    """Parse one or more levels separated by blank lines. Lines starting with ';' are comments.

    Errors name the line of the text (comments and blank lines counted).
    """
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(";"):
            continue
        if not stripped:
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append((number, stripped))
    blocks = [b for b in blocks if b]
    if not blocks:
        raise LevelError("no level found in the text")
    levels = []
    for i, block in enumerate(blocks):
        try:
            levels.append(MazeLevel.from_text("\n".join(line for _, line in block)))
        except LevelError as err:
            # the level's own line numbers, as the text's
            message = _text_line_numbers(str(err), [number for number, _ in block])
            raise LevelError(f"level {i + 1}: {message}") from None
    shapes = {lvl.shape for lvl in levels}
    if len(shapes) > 1:
        raise LevelError(f"all levels in one text must have the same size, found {sorted(shapes)}")
    return levels
