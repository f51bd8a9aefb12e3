"""Held-out mazes: shipped, procedural, and user layouts."""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import pytest

from advrl.envs import (
    HELDOUT_NAMES,
    LevelError,
    MazeEnv,
    make_heldout_maze,
    read_layout,
    register_layout,
)
from advrl.envs.heldout import _USER_LAYOUTS, LAYOUT_NAMES, all_heldout_names


@pytest.mark.parametrize("name", HELDOUT_NAMES)
def test_every_heldout_maze_is_solvable(name: str) -> None:
    env = gym.make(f"advrl/Maze-{name}-v0")
    seeds = range(1) if name == "PerfectMazeXL" else range(5)
    for seed in seeds:
        _, info = env.reset(seed=seed)
        assert info["level"].solvable, (name, seed)
    assert env.observation_space["image"].shape == (5, 5, 3)


def test_every_variant_of_every_layout_is_solvable() -> None:
    from advrl.envs.heldout import heldout_generator

    for name in LAYOUT_NAMES:
        for level in heldout_generator(name).levels:
            assert level.solvable, name


def test_known_layout_facts() -> None:
    env = make_heldout_maze("Labyrinth")
    _, info = env.reset(seed=0)
    level = info["level"]
    assert level.shape == (13, 13) and level.start == (12, 0) and level.goal == (6, 6)
    assert env.max_steps == 2 * 15**2
    flipped = make_heldout_maze("LabyrinthFlipped").reset(seed=0)[1]["level"]
    assert flipped.start == (12, 12) and flipped.walls[:, ::-1].tolist() == level.walls.tolist()
    corridor = make_heldout_maze("LargeCorridor")
    assert corridor.inner_shape == (19, 19)
    goals = {corridor.reset(seed=s)[1]["level"].goal for s in range(60)}
    assert len(goals) > 8
    assert make_heldout_maze("FourRooms").max_steps == 100
    for name, steps in (("PerfectMaze13", 450), ("SimpleCrossing13", 900), ("FourRooms13", 100)):
        env13 = make_heldout_maze(name)  # the paper maze's size: inner 13x13, as advrl/Maze-v0
        assert env13.inner_shape == (13, 13) and env13.max_steps == steps


def test_user_layout_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    path.write_text("; my maze\n>.#\n..#\n#.G\n")
    env = gym.make("advrl/MazeLayout-v0", layout=str(path))
    _, info = env.reset(seed=0)
    assert info["level"].goal == (2, 2) and env.unwrapped.max_steps == 2 * 5**2
    try:
        env_id = register_layout("MineTest", path, max_steps=40)
        assert env_id == "advrl/Maze-MineTest-v0" and "MineTest" in all_heldout_names()
        made = gym.make(env_id)
        assert isinstance(made.unwrapped, MazeEnv) and made.unwrapped.max_steps == 40
    finally:  # leave the global registries as they were, for the tests that follow
        gym.envs.registry.pop("advrl/Maze-MineTest-v0", None)
        _USER_LAYOUTS.pop("MineTest", None)
    assert "MineTest" not in all_heldout_names()


def test_bad_user_layouts(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        read_layout(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text(">.x\n..G\n")
    with pytest.raises(LevelError, match=re.escape("bad.txt: level 1: unknown character 'x'")):
        read_layout(bad)
    with pytest.raises(ValueError, match="exactly one of name"):
        make_heldout_maze()
    with pytest.raises(ValueError, match="unknown held-out maze 'Nope'"):
        make_heldout_maze("Nope")
    with pytest.raises(ValueError, match="shipped held-out maze"):
        register_layout("Labyrinth", bad)
