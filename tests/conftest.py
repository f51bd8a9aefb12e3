"""Shared fixtures: small levels written by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

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


@pytest.fixture(scope="session")
def undocumented() -> Callable[[Path], set[str]]:
    """The TensorBoard keys a run folder holds that the README's table of what a run logs does
    not name (a row's ``<agent>``/``<maze>``/... stands for one path part, ``*`` for any rest)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("### What a run logs", 1)[1].split("\n## ", 1)[0]
    patterns = []
    for row in table.splitlines():
        if row.startswith("| `"):
            for key in re.findall(r"`([^`]+)`", row.split("|")[1]):
                body = re.escape(key).replace(r"\*", ".*")
                patterns.append(re.compile(re.sub(r"<[a-z]+>", "[^/]+", body) + "$"))
    assert len(patterns) > 40

    def check(run: Path) -> set[str]:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(run / "tb"), size_guidance={"images": 0, "scalars": 0})
        events.Reload()
        tags = events.Tags()
        keys = {*tags["scalars"], *tags["images"], *tags["histograms"]}
        assert keys  # a run logs something
        return {k for k in keys if not any(p.match(k) for p in patterns)}

    return check
