"""Held-out test mazes: the human-designed layouts UED papers evaluate on, and procedural families.

Layouts ship as text files in ``advrl/envs/layouts`` (see :mod:`advrl.envs.level` for the format:
one or more levels separated by blank lines, ``;`` comment lines). Each is registered as
``advrl/Maze-<Name>-v0``. A user plays their own file with
``gymnasium.make("advrl/MazeLayout-v0", layout="my_maze.txt")`` or registers it by name with
:func:`register_layout`.

Step limits follow the evaluation code of the UED papers: ``2 * size**2`` for the fixed mazes and
perfect mazes, ``4 * size**2`` for SimpleCrossing, 100 for FourRooms (``size`` counts the border).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from advrl.envs.generators import (
    FixedLevels,
    FourRooms,
    LevelGenerator,
    PerfectMaze,
    SimpleCrossing,
)
from advrl.envs.level import LevelError, levels_from_text
from advrl.envs.maze import MazeEnv

LAYOUT_NAMES = (
    "StandardMaze",
    "Maze2",
    "Maze3",
    "Labyrinth",
    "Labyrinth2",
    "LabyrinthFlipped",
    "SixteenRooms",
    "SixteenRoomsFewerDoors",
    "NineRooms",
    "NineRoomsFewerDoors",
    "SmallCorridor",
    "LargeCorridor",
)
"""Fixed layouts shipped with the package."""


@dataclass(frozen=True)
class ProceduralMaze:
    """A held-out family drawn from a seed: its generator and step limit."""

    generator: LevelGenerator
    max_steps: int


PROCEDURAL: dict[str, ProceduralMaze] = {
    "PerfectMazeSmall": ProceduralMaze(PerfectMaze(size=9), 2 * 11**2),
    "PerfectMazeMedium": ProceduralMaze(PerfectMaze(size=19), 2 * 21**2),
    "PerfectMazeLarge": ProceduralMaze(PerfectMaze(size=49), 2 * 51**2),
    "PerfectMazeXL": ProceduralMaze(PerfectMaze(size=99), 2 * 101**2),
    "SimpleCrossing": ProceduralMaze(SimpleCrossing(size=9, num_crossings=5), 4 * 11**2),
    "FourRooms": ProceduralMaze(FourRooms(size=17), 100),
    # the paper maze's size (inner 13x13, as advrl/Maze-v0 and the 13x13 layouts)
    "PerfectMaze13": ProceduralMaze(PerfectMaze(size=13), 2 * 15**2),
    "SimpleCrossing13": ProceduralMaze(SimpleCrossing(size=13, num_crossings=5), 4 * 15**2),
    "FourRooms13": ProceduralMaze(FourRooms(size=13), 100),
}
"""Procedural held-out families (MiniGrid's SimpleCrossingS11N5 and FourRooms, perfect mazes; the
``13`` variants are the same families on the paper maze's inner 13x13 grid)."""

HELDOUT_NAMES = LAYOUT_NAMES + tuple(PROCEDURAL)
"""Every held-out maze name, ``advrl/Maze-<name>-v0``."""

_USER_LAYOUTS: dict[str, Path] = {}


MAX_LAYOUT_BYTES = 4 * 1024 * 1024
"""The largest layout file read (a few thousand levels of the largest size)."""


def read_layout(path: str | os.PathLike[str]) -> FixedLevels:
    """Read a layout file (one or more levels) into a generator with random start directions.

    Raises:
        FileNotFoundError: the file does not exist.
        LevelError: the text is malformed (the message names the file and the problem).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"layout file {str(path)!r} not found")
    if path.stat().st_size > MAX_LAYOUT_BYTES:
        raise LevelError(f"{path}: a layout file is at most {MAX_LAYOUT_BYTES // 1024} KiB")
    try:
        levels = levels_from_text(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise LevelError(f"{path} is not UTF-8 text") from None
    except LevelError as err:
        raise LevelError(f"{path}: {err}") from None
    unsolvable = [i + 1 for i, level in enumerate(levels) if not level.solvable]
    if unsolvable:
        warnings.warn(
            f"{path}: level(s) {unsolvable} cannot be solved (no path from the start to the goal)",
            RuntimeWarning,
            stacklevel=2,
        )
    return FixedLevels(levels, random_start_dir=True)


@cache
def _shipped_layout(name: str) -> FixedLevels:
    text = resources.files("advrl.envs").joinpath("layouts", f"{name}.txt").read_text()
    return FixedLevels(levels_from_text(text), random_start_dir=True)


def heldout_generator(name: str) -> LevelGenerator:
    """The level generator of a held-out maze (shipped, procedural, or registered by the user)."""
    if name in LAYOUT_NAMES:
        return _shipped_layout(name)
    if name in PROCEDURAL:
        return PROCEDURAL[name].generator
    if name in _USER_LAYOUTS:
        return read_layout(_USER_LAYOUTS[name])
    raise ValueError(f"unknown held-out maze {name!r}; known: {', '.join(all_heldout_names())}")


def default_max_steps(generator: LevelGenerator) -> int:
    """``2 * size**2`` for a level of outer side ``size`` (the fixed mazes' evaluation limit)."""
    height, width = generator.shape
    return 2 * (max(height, width) + 2) ** 2


def make_heldout_maze(
    name: str | None = None,
    *,
    layout: str | os.PathLike[str] | None = None,
    max_steps: int | None = None,
    **env_kwargs: Any,
) -> MazeEnv:
    """A :class:`MazeEnv` on a held-out maze (by ``name``) or on a layout file (``layout``).

    Args:
        name: one of :data:`HELDOUT_NAMES` or a name given to :func:`register_layout`.
        layout: path to a layout text file (instead of ``name``).
        max_steps: step limit; default as in the module docstring.
        env_kwargs: further :class:`MazeEnv` arguments (``agent_view_size``, ``render_mode``, ...).
    """
    if (name is None) == (layout is None):
        raise ValueError("give exactly one of name (a held-out maze) or layout (a text file)")
    if layout is not None:
        generator: LevelGenerator = read_layout(layout)
    else:
        assert name is not None
        generator = heldout_generator(name)
    if max_steps is None:
        max_steps = (
            PROCEDURAL[name].max_steps if name in PROCEDURAL else default_max_steps(generator)
        )
    return MazeEnv(generator=generator, max_steps=max_steps, **env_kwargs)


def register_layout(
    name: str, path: str | os.PathLike[str], *, max_steps: int | None = None
) -> str:
    """Register a layout file as ``advrl/Maze-<name>-v0`` and as a held-out maze; returns the id.

    The file is read (and validated) now, so a bad file fails here, not at ``make`` time. A
    held-out maze is a test: every level in it must be solvable.

    Raises:
        LevelError: the file is malformed, or one of its levels cannot be solved.
    """
    import gymnasium

    if not name.isidentifier():
        raise ValueError(f"layout name must be letters, digits and '_', got {name!r}")
    if name in HELDOUT_NAMES:
        raise ValueError(f"{name!r} is a shipped held-out maze; choose another name")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # said below, as an error
        levels = read_layout(path).levels
    unsolvable = [i + 1 for i, level in enumerate(levels) if not level.solvable]
    if unsolvable:
        raise LevelError(
            f"{path}: level(s) {unsolvable} cannot be solved (no path from the start to the "
            "goal); a held-out maze must be solvable"
        )
    _USER_LAYOUTS[name] = Path(path).resolve()
    env_id = f"advrl/Maze-{name}-v0"
    kwargs: dict[str, Any] = {"name": name}
    if max_steps is not None:
        kwargs["max_steps"] = max_steps
    gymnasium.register(id=env_id, entry_point="advrl.envs.heldout:make_heldout_maze", kwargs=kwargs)
    return env_id


def all_heldout_names() -> list[str]:
    """Shipped, procedural and user-registered held-out maze names."""
    return [*HELDOUT_NAMES, *_USER_LAYOUTS]
