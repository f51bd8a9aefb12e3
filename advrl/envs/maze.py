"""The PAIRED maze: a MiniGrid env whose walls, goal and start come from a :class:`MazeLevel`."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from minigrid.core.constants import OBJECT_TO_IDX
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Goal, Wall
from minigrid.minigrid_env import MiniGridEnv

from advrl.envs.generators import LevelGenerator, RandomWalls
from advrl.envs.level import MAX_LEVEL_SIDE, LevelError, MazeLevel

MISSION = "get to the green goal square"

MAX_CODE = max(OBJECT_TO_IDX.values())
"""Largest value in MiniGrid's cell encoding (object type 10 = agent; colours <= 5, states <= 3).

Observation images are bounded by it rather than 255, so SB3 does not take the cell codes for pixels
(it would transpose them and divide by 255)."""

MAX_VIEW = 31
"""The widest egocentric view (MiniGrid draws views of up to a few dozen cells)."""

MAX_STEPS = 1_000_000
"""The longest episode (the papers' mazes take 250 steps, the largest held-out ones a few
thousand): an evaluation plays its episodes to the end, so a longer limit would not finish."""


def _mission() -> str:
    return MISSION


def make_grid(walls: np.ndarray, goal: tuple[int, int] | None = None) -> Grid:
    """A MiniGrid ``Grid`` with a border around inner ``walls[row, col]`` and the goal, if any."""
    height, width = walls.shape
    grid = Grid(width + 2, height + 2)
    grid.wall_rect(0, 0, width + 2, height + 2)
    for row, col in zip(*np.nonzero(walls), strict=True):
        grid.set(int(col) + 1, int(row) + 1, Wall())
    if goal is not None:
        grid.set(goal[1] + 1, goal[0] + 1, Goal())
    return grid


def level_grid(level: MazeLevel) -> Grid:
    """The MiniGrid ``Grid`` of a level: border walls, inner walls and the goal (no agent)."""
    return make_grid(level.walls, level.goal)


def render_grid(
    walls: np.ndarray,
    goal: tuple[int, int] | None = None,
    start: tuple[int, int] | None = None,
    start_dir: int = 0,
    tile_size: int = 32,
) -> np.ndarray:
    """An RGB image (``uint8``) of a possibly unfinished layout; goal and agent drawn when given."""
    agent = None if start is None else (start[1] + 1, start[0] + 1)
    return make_grid(walls, goal).render(tile_size, agent_pos=agent, agent_dir=start_dir)  # type: ignore[arg-type]


def render_level(level: MazeLevel, tile_size: int = 32) -> np.ndarray:
    """An RGB image (``uint8 [H*tile, W*tile, 3]``) of the whole level with the agent at its start."""
    return render_grid(level.walls, level.goal, level.start, level.start_dir, tile_size)


def parse_level(value: Any) -> MazeLevel:
    """Accept a :class:`MazeLevel` or its text form; anything else is a clear error."""
    if isinstance(value, MazeLevel):
        return value
    if isinstance(value, str):
        return MazeLevel.from_text(value)
    raise LevelError(f"a level must be a MazeLevel or its text form, got {type(value).__name__}")


class MazeEnv(MiniGridEnv):
    """A partially observed maze whose layout an antagonist can choose (PAIRED's navigation task).

    **Description.** A grid with a wall border. The agent sees a ``agent_view_size`` square in front
    of it (egocentric: it stands at the bottom middle facing up) and must reach the green goal.
    Walls are see-through, as in PAIRED's maze. The layout is a :class:`MazeLevel`, given with
    ``env.reset(options={"level": level})``; without one, ``generator`` draws a level from the env's
    seeded ``np_random`` (domain randomization by default).

    **Observation.** ``Dict(image=Box(0, MAX_CODE, (v, v, 3), uint8), direction=Discrete(4))``: MiniGrid's
    encoding of the view, indexed ``image[x, y]`` (x to the agent's right, y away from it, the agent
    at ``[v // 2, v - 1]``), channels (object type, colour, state); and the compass direction.

    **Actions.** ``Discrete(3)``:

    ===  ==========
    0    turn left
    1    turn right
    2    move forward
    ===  ==========

    **Reward.** ``1 - 0.9 * t / max_steps`` on reaching the goal at step ``t``, else 0.

    **Episode end.** Terminated on reaching the goal; truncated after ``max_steps`` steps.
    ``info["is_success"]`` is set on the last step; ``reset`` puts the level played in
    ``info["level"]``.

    **Registered ids.** ``advrl/Maze-v0`` (15x15, 25 random walls: PAIRED's DR),
    ``advrl/Maze-Walls0to60-v0`` (wall count uniform in [0, 60]), ``advrl/Maze-Small-v0`` (9x9), and
    the held-out mazes ``advrl/Maze-<Name>-v0`` (see :mod:`advrl.envs.heldout`).

    Args:
        size: outer side length including the border (15: a 13x13 inside). Derived from
            ``generator`` when that has a shape; giving both with different sizes is an error.
        agent_view_size: side of the square view (odd, >= 3).
        max_steps: step limit of an episode.
        num_walls: walls of a domain-randomized level: a count or an inclusive ``(low, high)`` range.
            None: PAIRED's DR, 25 walls on the 13x13 inside, the same share (25/169) on other
            sizes. Ignored when ``generator`` is given.
        generator: how levels are drawn when ``reset`` gets none (default :class:`RandomWalls`).
        render_mode: ``"rgb_array"`` or ``"human"``, as in MiniGrid.
        tile_size: pixels per cell when rendering.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}  # noqa: RUF012

    def __init__(
        self,
        *,
        size: int | None = None,
        agent_view_size: int = 5,
        max_steps: int = 250,
        num_walls: int | tuple[int, int] | None = None,
        generator: LevelGenerator | None = None,
        render_mode: str | None = None,
        tile_size: int = 32,
    ) -> None:
        if generator is not None:
            inner = tuple(int(s) for s in generator.shape)
            if size is not None and (size - 2, size - 2) != inner:
                raise ValueError(
                    f"size={size} (inner {size - 2}x{size - 2}) does not match the generator's "
                    f"{inner[0]}x{inner[1]} levels; leave size out to take the generator's"
                )
        else:
            size = 15 if size is None else int(size)
            if not 4 <= size <= MAX_LEVEL_SIDE + 2:
                raise ValueError(
                    f"size must be between 4 (a 2x2 inside) and {MAX_LEVEL_SIDE + 2} (the largest "
                    f"level), got {size}"
                )
            generator = RandomWalls(shape=(size - 2, size - 2), num_walls=num_walls)
            inner = (size - 2, size - 2)
        if agent_view_size < 3 or agent_view_size % 2 == 0 or agent_view_size > MAX_VIEW:
            raise ValueError(
                f"agent_view_size must be odd, >= 3 and <= {MAX_VIEW}, got {agent_view_size}"
            )
        if not 1 <= int(max_steps) <= MAX_STEPS:
            raise ValueError(f"max_steps must be between 1 and {MAX_STEPS:,}, got {max_steps}")
        self.generator = generator
        self.inner_shape: tuple[int, int] = (int(inner[0]), int(inner[1]))
        self.level: MazeLevel | None = None
        self._pending_level: MazeLevel | None = None
        super().__init__(
            mission_space=MissionSpace(mission_func=_mission),
            width=self.inner_shape[1] + 2,
            height=self.inner_shape[0] + 2,
            max_steps=int(max_steps),
            see_through_walls=True,
            agent_view_size=agent_view_size,
            render_mode=render_mode,
            tile_size=tile_size,
        )
        self.action_space = spaces.Discrete(3)
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(
                    0, MAX_CODE, (agent_view_size, agent_view_size, 3), dtype=np.uint8
                ),
                "direction": spaces.Discrete(4),
            }
        )

    # ----------------------------------------------------------------- level in, episode out
    def reset(  # type: ignore[override]
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode on ``options["level"]`` if given, else on a level from the generator."""
        options = dict(options or {})
        level = options.pop("level", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; MazeEnv takes 'level'")
        if level is not None:
            level = parse_level(level)
            if level.shape != self.inner_shape:
                h, w = self.inner_shape
                raise LevelError(
                    f"level is {level.height}x{level.width} but this env's inner grid is {h}x{w}; "
                    f"make the env with size={level.height + 2} to play it"
                )
        self._pending_level = level
        obs, info = super().reset(seed=seed)
        info["level"] = self.level
        return obs, info

    def _gen_grid(self, width: int, height: int) -> None:
        level = self._pending_level
        if level is None:
            level = self.generator.sample(self.np_random)
        self._pending_level = None
        self.level = level
        self.grid = level_grid(level)
        self.agent_pos = (level.start[1] + 1, level.start[0] + 1)
        self.agent_dir = level.start_dir
        self.mission = MISSION

    def step(  # type: ignore[override]
        self, action: Any
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """One MiniGrid step restricted to turn left / turn right / forward."""
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (left), 1 (right) or 2 (forward), got {action!r}")
        obs, reward, terminated, truncated, info = super().step(int(action))
        if terminated or truncated:
            info["is_success"] = bool(terminated)
        return obs, float(reward), terminated, truncated, info

    def gen_obs(self) -> dict[str, Any]:
        """MiniGrid's observation without the mission string."""
        grid, vis_mask = self.gen_obs_grid()
        return {"image": grid.encode(vis_mask), "direction": int(self.agent_dir)}
