"""Shared fixtures: small levels written by hand."""

from __future__ import annotations

import pytest
from hypothesis import settings

from advrl.envs import MazeLevel

settings.register_profile("advrl", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("advrl")

CORRIDOR = """
>...G
"""

ROOM = """
#....
.#...
..v#.
.....
G..#.
"""


@pytest.fixture
def corridor() -> MazeLevel:
    """A 1x5 corridor: start at the left facing right, goal 4 cells away."""
    return MazeLevel.from_text(CORRIDOR)


@pytest.fixture
def room() -> MazeLevel:
    """A 5x5 room with four walls, start facing down at (2, 2), goal at (4, 0)."""
    return MazeLevel.from_text(ROOM)
