"""Environments an antagonist can parameterize: the maze, its designer, held-out mazes, physics."""

from advrl.envs.designer import MazeDesignerEnv
from advrl.envs.generators import (
    FixedLevels,
    FourRooms,
    LevelGenerator,
    PerfectMaze,
    RandomWalls,
    SimpleCrossing,
)
from advrl.envs.heldout import (
    HELDOUT_NAMES,
    all_heldout_names,
    make_heldout_maze,
    read_layout,
    register_layout,
)
from advrl.envs.level import LevelError, MazeLevel, levels_from_text
from advrl.envs.maze import MazeEnv, render_level
from advrl.envs.physics import ParamAcrobotEnv, ParamCartPoleEnv, ParamPendulumEnv
from advrl.envs.registration import advrl_env_ids, register_envs

__all__ = [
    "HELDOUT_NAMES",
    "FixedLevels",
    "FourRooms",
    "LevelError",
    "LevelGenerator",
    "MazeDesignerEnv",
    "MazeEnv",
    "MazeLevel",
    "ParamAcrobotEnv",
    "ParamCartPoleEnv",
    "ParamPendulumEnv",
    "PerfectMaze",
    "RandomWalls",
    "SimpleCrossing",
    "advrl_env_ids",
    "all_heldout_names",
    "levels_from_text",
    "make_heldout_maze",
    "read_layout",
    "register_envs",
    "register_layout",
    "render_level",
]
