"""MazeLevel: validation, text round trip, BFS."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advrl.envs import LevelError, MazeLevel, levels_from_text


def test_text_round_trip(room: MazeLevel) -> None:
    assert room.shape == (5, 5)
    assert room.goal == (4, 0) and room.start == (2, 2) and room.start_dir == 1
    assert room.num_walls == 4
    assert MazeLevel.from_text(room.to_text()) == room
    assert hash(MazeLevel.from_text(room.to_text())) == hash(room)


def test_value_semantics_and_immutability(room: MazeLevel) -> None:
    other = room.with_start_dir(0)
    assert other != room and len({room, other, room.with_start_dir(1)}) == 2
    with pytest.raises(ValueError):
        room.walls[0, 0] = False  # read-only array


def test_bfs_distances_by_hand(room: MazeLevel) -> None:
    dist = room.distances_from(room.start)
    expected = np.array(
        [
            [-1, 3, 2, 3, 4],
            [3, -1, 1, 2, 3],
            [2, 1, 0, -1, 4],
            [3, 2, 1, 2, 3],
            [4, 3, 2, -1, 4],
        ]
    )
    np.testing.assert_array_equal(dist, expected)
    assert room.shortest_path_length() == 4


def test_corridor_and_unsolvable() -> None:
    assert MazeLevel.from_text(">...G").shortest_path_length() == 4
    blocked = MazeLevel.from_text(">.#.G")
    assert blocked.shortest_path_length() is None and not blocked.solvable


def test_flip_mirrors_everything(room: MazeLevel) -> None:
    flipped = room.flipped_lr()
    assert flipped.goal == (4, 4) and flipped.start == (2, 2) and flipped.start_dir == 1
    assert flipped.flipped_lr() == room
    assert flipped.shortest_path_length() == room.shortest_path_length()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        (">..\n..", "ragged rows: line 2"),
        (">.x.G", "unknown character 'x' at line 1, column 3"),
        (">...", "exactly one goal"),
        (">.G.G", "exactly one goal 'G', found 2"),
        ("..G..", "exactly one start"),
        (">.<.G", "exactly one start"),
    ],
)
def test_malformed_text_names_the_problem(text: str, problem: str) -> None:
    with pytest.raises(LevelError, match=problem):
        MazeLevel.from_text(text)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"goal": (0, 0), "start": (0, 1)}, "goal \\(0, 0\\) is on a wall"),
        ({"goal": (1, 1), "start": (0, 0)}, "start \\(0, 0\\) is on a wall"),
        ({"goal": (5, 1), "start": (1, 2)}, "goal \\(5, 1\\) is outside the 3x3 inner grid"),
        ({"goal": (1, 1), "start": (1, -1)}, "start \\(1, -1\\) is outside"),
        ({"goal": (1, 1), "start": (1, 1)}, "same cell"),
        ({"goal": (1, 1), "start": (1, 2), "start_dir": 4}, "start_dir must be 0, 1, 2 or 3"),
        ({"goal": "a", "start": (1, 2)}, "goal must be a \\(row, col\\) pair"),
    ],
)
def test_invalid_fields_name_the_problem(kwargs: dict, problem: str) -> None:
    walls = np.zeros((3, 3), dtype=bool)
    walls[0, 0] = True
    with pytest.raises(LevelError, match=problem):
        MazeLevel(walls=walls, **kwargs)


def test_walls_must_be_boolean_2d() -> None:
    with pytest.raises(LevelError, match="2-D"):
        MazeLevel(walls=np.zeros(4, dtype=bool), goal=(0, 0), start=(0, 1))
    with pytest.raises(LevelError, match="boolean"):
        MazeLevel(walls=np.full((2, 2), 7), goal=(0, 0), start=(0, 1))


def test_levels_from_text_blocks_and_comments() -> None:
    levels = levels_from_text("; two levels\n>.G\n\n\nG.<\n")
    assert [lvl.to_text() for lvl in levels] == [">.G", "G.<"]
    with pytest.raises(LevelError, match="level 2: unknown character"):
        levels_from_text(">.G\n\nG?<")
    with pytest.raises(LevelError, match="same size"):
        levels_from_text(">.G\n\nG..<")
    with pytest.raises(LevelError, match="no level"):
        levels_from_text("; nothing\n")


cells = st.sampled_from("#.")


@st.composite
def level_texts(draw: st.DrawFn) -> str:
    height = draw(st.integers(1, 6))
    width = draw(st.integers(2 if height == 1 else 1, 6))
    grid = [[draw(cells) for _ in range(width)] for _ in range(height)]
    flat = [(r, c) for r in range(height) for c in range(width)]
    goal, start = draw(st.lists(st.sampled_from(flat), min_size=2, max_size=2, unique=True))
    grid[goal[0]][goal[1]] = "G"
    grid[start[0]][start[1]] = draw(st.sampled_from(">v<^"))
    return "\n".join("".join(row) for row in grid)


@settings(max_examples=200, deadline=None)
@given(level_texts())
def test_any_valid_text_round_trips(text: str) -> None:
    level = MazeLevel.from_text(text)
    assert level.to_text() == text
    path = level.shortest_path_length()
    manhattan = abs(level.goal[0] - level.start[0]) + abs(level.goal[1] - level.start[1])
    assert path is None or path >= manhattan


@settings(max_examples=200, deadline=None)
@given(level_texts(), st.data())
def test_any_corruption_is_rejected_with_a_message(text: str, data: st.DataObject) -> None:
    lines = text.split("\n")
    kind = data.draw(st.sampled_from(["char", "ragged", "goal", "start"]))
    if kind == "char":
        r = data.draw(st.integers(0, len(lines) - 1))
        c = data.draw(st.integers(0, len(lines[r]) - 1))
        bad = data.draw(st.sampled_from("xX01@S*"))
        lines[r] = lines[r][:c] + bad + lines[r][c + 1 :]
        expected = "unknown character"
    elif kind == "ragged":
        if len(lines) < 2:
            lines.append(lines[0] + ".")
        else:
            lines[-1] = lines[-1] + "."
        expected = "ragged rows"
    elif kind == "goal":
        lines = [line.replace("G", ".") for line in lines]
        expected = "exactly one goal"
    else:
        lines = [line.translate(str.maketrans(">v<^", "....")) for line in lines]
        expected = "exactly one start"
    with pytest.raises(LevelError, match=expected):
        MazeLevel.from_text("\n".join(lines))
