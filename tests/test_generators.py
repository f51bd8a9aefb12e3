"""Level generators: structure of what they draw."""

from __future__ import annotations

import numpy as np
import pytest

from advrl.envs import FixedLevels, FourRooms, MazeLevel, PerfectMaze, RandomWalls, SimpleCrossing


def floor_graph_counts(level: MazeLevel) -> tuple[int, int]:
    floor = ~level.walls
    cells = int(floor.sum())
    edges = int((floor[1:, :] & floor[:-1, :]).sum() + (floor[:, 1:] & floor[:, :-1]).sum())
    return cells, edges


@pytest.mark.parametrize("size", [3, 9, 19])
def test_perfect_maze_is_a_spanning_tree(size: int) -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        level = PerfectMaze(size=size).sample(rng)
        cells, edges = floor_graph_counts(level)
        assert edges == cells - 1  # a tree: connected (checked next) with no cycle
        dist = level.distances_from(level.start)
        assert (dist[~level.walls] >= 0).all()
        corners = {(0, 0), (0, size - 1), (size - 1, 0), (size - 1, size - 1)}
        assert level.start in corners and level.goal in corners


def test_simple_crossing_is_solvable_with_the_asked_rivers() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        level = SimpleCrossing(size=9, num_crossings=5).sample(rng)
        assert level.start == (0, 0) and level.goal == (8, 8) and level.solvable
        full_rows = sum(int(level.walls[r].sum() >= 8) for r in range(9))
        full_cols = sum(int(level.walls[:, c].sum() >= 8) for c in range(9))
        assert full_rows + full_cols == 5


def test_four_rooms_layout() -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        level = FourRooms(size=17).sample(rng)
        assert level.num_walls == 2 * 17 - 1 - 4 and level.solvable


def test_random_walls_respects_the_count_and_seed() -> None:
    gen = RandomWalls(shape=(6, 8), num_walls=(2, 5))
    draws = [gen.sample(np.random.default_rng(s)) for s in range(30)]
    assert all(2 <= d.num_walls <= 5 for d in draws)
    assert draws[3] == gen.sample(np.random.default_rng(3))
    with pytest.raises(ValueError, match="low <= high"):
        RandomWalls(num_walls=(5, 2))


def test_fixed_levels(room: MazeLevel) -> None:
    gen = FixedLevels([room], random_start_dir=True)
    dirs = {gen.sample(np.random.default_rng(s)).start_dir for s in range(20)}
    assert dirs == {0, 1, 2, 3}
    assert FixedLevels([room]).sample(np.random.default_rng(0)) == room
    with pytest.raises(ValueError, match="one shape"):
        FixedLevels([room, MazeLevel.from_text(">.G")])
    with pytest.raises(ValueError, match="at least one"):
        FixedLevels([])
