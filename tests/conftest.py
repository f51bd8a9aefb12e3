"""Shared fixtures: small levels written by hand."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from advrl.envs import MazeLevel

settings.register_profile("advrl", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("advrl")


@pytest.fixture(autouse=True, scope="session")
def sb3_log_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """SB3 gives a model that learns without a logger a fresh folder under the system's temp
    directory (``SB3-<time>``); the tests' go into one of pytest's own, removed with the rest."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SB3_LOGDIR", str(tmp_path_factory.mktemp("sb3")))
        yield


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


def readme_rows() -> list[tuple[list[str], list[str]]]:
    """The rows of the README's table of what a run logs: each row's keys and the run kinds it
    names (its second column split at commas)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("### What a run logs", 1)[1].split("\n## ", 1)[0]
    rows = []
    for row in table.splitlines():
        if row.startswith("| `"):
            cells = row.split(" | ")
            keys = re.findall(r"`([^`]+)`", cells[0])
            rows.append((keys, [kind.strip() for kind in cells[1].split(",")]))
    return rows


def key_pattern(key: str) -> re.Pattern[str]:
    """A documented key as a pattern: ``<agent>``/``<maze>``/... one path part, ``*`` any rest."""
    body = re.escape(key).replace(r"\*", ".*")
    return re.compile(re.sub(r"<[a-z]+>", "[^/]+", body) + "$")


def logged_keys(run: Path) -> set[str]:
    """Every scalar, image and histogram tag in a run's TensorBoard events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tb"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    return {*tags["scalars"], *tags["images"], *tags["histograms"]}


@pytest.fixture(scope="session")
def missing() -> Callable[[Path, set[str]], set[str]]:
    """The keys the README's table says a run of the given kinds logs (rows naming any of
    ``kinds``, e.g. ``{"all", "PPO", "maze runs"}``) that are not in its TensorBoard events."""
    rows = readme_rows()

    def check(run: Path, kinds: set[str]) -> set[str]:
        keys = logged_keys(run)
        wanted = [key for row_keys, row_kinds in rows if kinds & set(row_kinds) for key in row_keys]
        assert wanted
        return {k for k in wanted if not any(key_pattern(k).match(got) for got in keys)}

    return check


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
