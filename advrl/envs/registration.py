"""Registers every advrl env under the ``advrl/`` namespace (run on ``import advrl``)."""

from __future__ import annotations

from typing import Any

import gymnasium
from gymnasium.envs.registration import registry

from advrl.envs.heldout import HELDOUT_NAMES

NAMESPACE = "advrl"


def _register(env_id: str, entry_point: str, **spec: Any) -> None:
    if env_id in registry:  # idempotent: importing twice (or reloading) must not warn
        return
    gymnasium.register(id=env_id, entry_point=entry_point, **spec)


def register_envs() -> list[str]:
    """Register all advrl envs; returns their ids."""
    maze = "advrl.envs.maze:MazeEnv"
    _register("advrl/Maze-v0", maze, kwargs={"size": 15, "max_steps": 250})
    _register(
        "advrl/Maze-Walls0to60-v0",
        maze,
        kwargs={"size": 15, "num_walls": (0, 60), "max_steps": 250},
    )
    _register(
        "advrl/Maze-Small-v0", maze, kwargs={"size": 9, "num_walls": (0, 12), "max_steps": 100}
    )
    pixel_maze = "advrl.envs.pixel_maze:PixelMazeEnv"
    _register("advrl/PixelMaze-v0", pixel_maze, kwargs={"size": 15, "max_steps": 250})
    _register(
        "advrl/PixelMaze-Small-v0",
        pixel_maze,
        kwargs={"size": 9, "num_walls": (0, 12), "max_steps": 100},
    )
    designer = "advrl.envs.designer:MazeDesignerEnv"
    _register("advrl/MazeDesigner-v0", designer, kwargs={"size": 15, "wall_budget": 50})
    _register("advrl/MazeDesigner-Walls25-v0", designer, kwargs={"size": 15, "wall_budget": 25})
    heldout = "advrl.envs.heldout:make_heldout_maze"
    for name in HELDOUT_NAMES:
        _register(f"advrl/Maze-{name}-v0", heldout, kwargs={"name": name})
    _register("advrl/MazeLayout-v0", heldout)  # needs layout="file.txt"
    physics = {
        "CartPole": ("advrl.envs.physics:ParamCartPoleEnv", 500, 475.0),
        "Pendulum": ("advrl.envs.physics:ParamPendulumEnv", 200, None),
        "Acrobot": ("advrl.envs.physics:ParamAcrobotEnv", 500, -100.0),
    }
    for name, (entry, steps, threshold) in physics.items():
        for suffix, randomize in (("", False), ("-DR", True)):
            _register(
                f"advrl/{name}{suffix}-v1",
                entry,
                kwargs={"randomize": randomize},
                max_episode_steps=steps,
                reward_threshold=threshold,
            )
    _register(
        "advrl/PixelCartPole-v1",
        "advrl.envs.physics.pixel_cartpole:PixelCartPoleEnv",
        max_episode_steps=500,
        reward_threshold=475.0,
    )
    # the learned observation attack around a trained run (env.kwargs.victim: its folder)
    _register("advrl/ObservationAdversary-v0", "advrl.runners.attacker:make_attacker_env")
    _register(
        "advrl/PhysicsDesigner-v0",
        "advrl.envs.physics:ParamDesignerEnv",
        kwargs={"env_id": "advrl/CartPole-v1"},
    )
    return advrl_env_ids()


def advrl_env_ids() -> list[str]:
    """Ids of the registered advrl envs (user-registered layouts included), sorted."""
    return sorted(env_id for env_id in registry if env_id.startswith(f"{NAMESPACE}/"))
