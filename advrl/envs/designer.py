"""The designer MDP: PAIRED's adversary builds a maze one placement per step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

from advrl.envs.level import MazeLevel
from advrl.envs.maze import MAX_CODE, render_grid

EMPTY_CODE = (OBJECT_TO_IDX["empty"], 0, 0)
WALL_CODE = (OBJECT_TO_IDX["wall"], COLOR_TO_IDX["grey"], 0)
GOAL_CODE = (OBJECT_TO_IDX["goal"], COLOR_TO_IDX["green"], 0)
AGENT_TYPE, AGENT_COLOR = OBJECT_TO_IDX["agent"], COLOR_TO_IDX["red"]


def designer_observation_space(size: int, wall_budget: int, noise_dim: int) -> spaces.Dict:
    """The designer's observation space, after checking its arguments (shared by both designers).

    Raises:
        ValueError: naming the argument that is out of range.
    """
    if size < 4:
        raise ValueError(f"size must be at least 4 (a 2x2 inside), got {size}")
    inner = size - 2
    if not 0 <= wall_budget <= inner * inner - 2:
        raise ValueError(
            f"wall_budget must be in [0, {inner * inner - 2}] for size {size}, got {wall_budget}"
        )
    if noise_dim < 0:
        raise ValueError(f"noise_dim must be >= 0, got {noise_dim}")
    obs_spaces: dict[str, spaces.Space[Any]] = {
        "image": spaces.Box(0, MAX_CODE, (size, size, 3), dtype=np.uint8),
        "time_step": spaces.Discrete(wall_budget + 3),
    }
    if noise_dim:
        obs_spaces["random_z"] = spaces.Box(0.0, 1.0, (noise_dim,), dtype=np.float32)
    return spaces.Dict(obs_spaces)


class MazeDesignerEnv(gym.Env):
    """PAIRED's adversary environment: place the goal, then the start, then walls, one per step.

    **Description.** An empty ``size`` x ``size`` grid (with border). Each action names one inner
    cell, row-major (``action = row * (size - 2) + col``):

    - step 0 puts the **goal** there;
    - step 1 puts the **start** there; if that cell is the goal, the start goes instead to a cell
      drawn uniformly from the free cells (as PAIRED does);
    - steps 2 .. ``wall_budget + 1`` put a **wall** there, unless the cell already holds the goal,
      the start or a wall, in which case the step does nothing.

    The start direction is drawn at ``reset`` from the env's ``np_random``. After
    ``wall_budget + 2`` steps the episode terminates and ``info["level"]`` holds the finished
    :class:`MazeLevel`.

    **Observation.** ``Dict(image=Box(0, MAX_CODE, (size, size, 3), uint8), time_step=Discrete(wall_budget
    + 3), random_z=Box(0, 1, (noise_dim,), float32))``: the full grid in MiniGrid's encoding
    (``image[x, y]``, border included; the start shown as an agent whose state is its direction), the
    number of placements made, and fresh uniform noise each step (the adversary's latent, as in a GAN).

    **Reward.** 0 on every step but the last. The last step's reward is ``reward_fn(level)`` when one
    is given (PAIRED computes regret after the students play, and writes it into the adversary's
    rollout; see :mod:`advrl.pair`), else 0.

    **Registered ids.** ``advrl/MazeDesigner-v0`` (15x15, 50 walls), ``advrl/MazeDesigner-Walls25-v0``.

    Args:
        size: outer side length including the border.
        wall_budget: number of wall placements.
        noise_dim: length of the random vector ``random_z`` (0 to leave it out).
        reward_fn: maps the finished level to the reward of the designer's last step.
        render_mode: ``"rgb_array"`` draws the level built so far.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012

    def __init__(
        self,
        *,
        size: int = 15,
        wall_budget: int = 50,
        noise_dim: int = 50,
        reward_fn: Callable[[MazeLevel], float] | None = None,
        render_mode: str | None = None,
    ) -> None:
        observation_space = designer_observation_space(size, wall_budget, noise_dim)
        inner = size - 2
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        self.size = int(size)
        self.inner = inner
        self.wall_budget = int(wall_budget)
        self.noise_dim = int(noise_dim)
        self.reward_fn = reward_fn
        self.render_mode = render_mode
        self.num_placements = self.wall_budget + 2
        self.action_space = spaces.Discrete(inner * inner)
        self.observation_space = observation_space
        self._walls = np.zeros((inner, inner), dtype=bool)
        self._goal: tuple[int, int] | None = None
        self._start: tuple[int, int] | None = None
        self._start_dir = 0
        self._t = 0

    # ----------------------------------------------------------------- MDP
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """An empty grid; the start direction is drawn here."""
        super().reset(seed=seed)
        if options:
            raise ValueError(f"MazeDesignerEnv takes no reset options, got {sorted(options)}")
        self._walls[:] = False
        self._goal = self._start = None
        self._start_dir = int(self.np_random.integers(4))
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Place the next item at cell ``action``."""
        if self._t >= self.num_placements:
            raise RuntimeError("the design is finished; call reset() to start a new one")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be a cell index in [0, {self.inner**2}), got {action!r}")
        cell = divmod(int(action), self.inner)
        if self._t == 0:
            self._goal = cell
        elif self._t == 1:
            if cell == self._goal:
                free = np.flatnonzero(~self._occupied().ravel())
                cell = divmod(int(self.np_random.choice(free)), self.inner)
            self._start = cell
        elif not self._occupied()[cell]:
            self._walls[cell] = True
        self._t += 1
        info: dict[str, Any] = {}
        reward = 0.0
        terminated = self._t == self.num_placements
        if terminated:
            level = self.level
            info["level"] = level
            if self.reward_fn is not None:
                reward = float(self.reward_fn(level))
        return self._obs(), reward, terminated, False, info

    # ----------------------------------------------------------------- helpers
    def _occupied(self) -> np.ndarray:
        occupied = self._walls.copy()
        for pos in (self._goal, self._start):
            if pos is not None:
                occupied[pos] = True
        return occupied

    @property
    def level(self) -> MazeLevel:
        """The finished level (only after the last placement)."""
        if self._goal is None or self._start is None or self._t < self.num_placements:
            raise RuntimeError("the level is not finished yet")
        return MazeLevel(
            walls=self._walls, goal=self._goal, start=self._start, start_dir=self._start_dir
        )

    def encode(self) -> np.ndarray:
        """The grid in MiniGrid's encoding, ``uint8 [x, y, 3]`` with the border."""
        image = np.empty((self.size, self.size, 3), dtype=np.uint8)
        image[:] = WALL_CODE
        inner = np.where(self._walls[..., None], WALL_CODE, EMPTY_CODE)  # [row, col, 3]
        image[1:-1, 1:-1] = inner.transpose(1, 0, 2)
        if self._goal is not None:
            image[self._goal[1] + 1, self._goal[0] + 1] = GOAL_CODE
        if self._start is not None:
            image[self._start[1] + 1, self._start[0] + 1] = (
                AGENT_TYPE,
                AGENT_COLOR,
                self._start_dir,
            )
        return image

    def _obs(self) -> dict[str, Any]:
        obs: dict[str, Any] = {"image": self.encode(), "time_step": self._t}
        if self.noise_dim:
            obs["random_z"] = self.np_random.random(self.noise_dim, dtype=np.float32)
        return obs

    def render(self) -> np.ndarray | None:
        """The level built so far (goal/start drawn once placed)."""
        if self.render_mode != "rgb_array":
            return None
        return render_grid(self._walls, self._goal, self._start, self._start_dir)
