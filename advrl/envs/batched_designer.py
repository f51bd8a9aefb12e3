"""The designer MDP of :class:`~advrl.envs.designer.MazeDesignerEnv` for N designs at once (torch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from advrl.envs.designer import designer_observation_space
from advrl.envs.level import MazeLevel
from advrl.envs.torch_vec_env import TorchVecEnv, to_numpy

EMPTY, WALL, GOAL = OBJECT_TO_IDX["empty"], OBJECT_TO_IDX["wall"], OBJECT_TO_IDX["goal"]
AGENT, AGENT_COLOR = OBJECT_TO_IDX["agent"], COLOR_TO_IDX["red"]


class BatchedMazeDesigner(TorchVecEnv):
    """N adversaries build N mazes together, one placement per step, with MazeDesignerEnv's rules.

    Step 0 places the goal, step 1 the start (on the goal: moved to a uniformly drawn other cell),
    steps 2 .. ``wall_budget + 1`` walls (no-op on an occupied cell). All designs end together after
    ``wall_budget + 2`` steps; then ``infos[i]["level"]`` holds slot i's :class:`MazeLevel`, the
    last reward is ``reward_fn(level)`` when one is given, and every slot starts a new design
    (SB3 auto-reset; the final observation is in ``terminal_observation``). The start direction of
    each design is drawn at its reset. Random draws come from a seeded ``torch.Generator``: the same
    rules as ``MazeDesignerEnv``, not the same random numbers.

    Args:
        num_envs: number of designs built at once.
        size: outer side length including the border.
        wall_budget: number of wall placements.
        noise_dim: length of the random vector ``random_z`` (0 to leave it out).
        reward_fn: maps a finished level to the reward of its last step.
        device: torch device.
        seed: seed of the generator.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        size: int = 15,
        wall_budget: int = 50,
        noise_dim: int = 50,
        reward_fn: Callable[[MazeLevel], float] | None = None,
        device: str | torch.device = "cpu",
        seed: int | None = None,
    ) -> None:
        observation_space = designer_observation_space(size, wall_budget, noise_dim)
        inner = size - 2
        self.size, self.inner = size, inner
        self.wall_budget, self.noise_dim = int(wall_budget), int(noise_dim)
        self.num_placements = self.wall_budget + 2
        self.reward_fn = reward_fn
        super().__init__(
            num_envs,
            observation_space,
            spaces.Discrete(inner * inner),
            device=device,
            seed=seed,
        )
        dev = self.device
        cells = inner * inner
        self._n = torch.arange(num_envs, device=dev)
        self.walls = torch.zeros(num_envs, cells, dtype=torch.bool, device=dev)
        self.goal = torch.full((num_envs,), -1, dtype=torch.long, device=dev)
        self.start = torch.full((num_envs,), -1, dtype=torch.long, device=dev)
        self.start_dir = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.t = 0  # every design moves in lockstep
        # Image position of inner cell k (row-major): image[x = col + 1, y = row + 1].
        rows, cols = (
            torch.arange(cells, device=dev) // inner,
            torch.arange(cells, device=dev) % inner,
        )
        self._img_idx = (cols + 1) * size + (rows + 1)  # flat index into image[x, y]
        self._border = torch.full((size, size, 3), 0, dtype=torch.uint8, device=dev)
        self._border[..., 0] = WALL
        self._border[..., 1] = COLOR_TO_IDX["grey"]
        self._actions: torch.Tensor | None = None

    # ------------------------------------------------------------------ core
    def _begin(self) -> None:
        self.walls.zero_()
        self.goal.fill_(-1)
        self.start.fill_(-1)
        self.start_dir = torch.randint(
            0, 4, (self.num_envs,), generator=self.generator, device=self.device
        )
        self.t = 0

    def place(self, actions: torch.Tensor) -> None:
        """Apply one placement per design (cell indices, row-major on the inner grid)."""
        a = actions.to(self.device, torch.long)
        if self.t == 0:
            self.goal = a.clone()
        elif self.t == 1:
            # A start on the goal goes to a uniformly drawn other cell (no walls exist yet).
            other = torch.randint(
                0,
                self.inner * self.inner - 1,
                a.shape,
                generator=self.generator,
                device=self.device,
            )
            other = other + (other >= self.goal).long()
            self.start = torch.where(a == self.goal, other, a)
        else:
            free = ~self.walls[self._n, a] & (a != self.goal) & (a != self.start)
            self.walls[self._n, a] |= free
        self.t += 1

    def observe(self) -> dict[str, torch.Tensor]:
        """Observations on the device."""
        n, size = self.num_envs, self.size
        image = self._border.expand(n, size, size, 3).clone().view(n, size * size, 3)
        inner = torch.where(self.walls, WALL, EMPTY).to(torch.uint8)
        image[:, self._img_idx, 0] = inner
        image[:, self._img_idx, 1] = torch.where(self.walls, COLOR_TO_IDX["grey"], 0).to(
            torch.uint8
        )
        image[:, self._img_idx, 2] = 0
        placed = self.goal >= 0
        if bool(placed.any()):
            idx = self._img_idx[self.goal.clamp(min=0)]
            code = torch.tensor(
                [GOAL, COLOR_TO_IDX["green"], 0], dtype=torch.uint8, device=self.device
            )
            image[self._n[placed], idx[placed]] = code
        placed = self.start >= 0
        if bool(placed.any()):
            idx = self._img_idx[self.start.clamp(min=0)]
            code = torch.stack(
                (
                    torch.full_like(self.start_dir, AGENT),
                    torch.full_like(self.start_dir, AGENT_COLOR),
                    self.start_dir,
                ),
                dim=1,
            ).to(torch.uint8)
            image[self._n[placed], idx[placed]] = code[placed]
        obs = {
            "image": image.view(n, size, size, 3),
            "time_step": torch.full((n,), self.t, dtype=torch.long, device=self.device),
        }
        if self.noise_dim:
            obs["random_z"] = torch.rand(
                n, self.noise_dim, generator=self.generator, device=self.device
            )
        return obs

    def levels(self) -> list[MazeLevel]:
        """The finished levels (only after the last placement)."""
        if self.t < self.num_placements:
            raise RuntimeError("the designs are not finished yet")
        walls = self.walls.view(-1, self.inner, self.inner).cpu().numpy()
        goals, starts = self.goal.cpu().tolist(), self.start.cpu().tolist()
        dirs = self.start_dir.cpu().tolist()
        return [
            MazeLevel(
                walls=walls[i],
                goal=divmod(goals[i], self.inner),
                start=divmod(starts[i], self.inner),
                start_dir=dirs[i],
            )
            for i in range(self.num_envs)
        ]

    # ------------------------------------------------------------------ SB3 VecEnv
    def reset(self) -> dict[str, np.ndarray]:
        """Start N empty designs."""
        self._begin()
        return to_numpy(self.observe())

    def step_async(self, actions: np.ndarray) -> None:
        """Store the placements for :meth:`step_wait`."""
        self._actions = torch.as_tensor(np.asarray(actions).reshape(-1), device=self.device)

    def step_wait(self) -> VecEnvStepReturn:
        """Place, and at the end of the designs report the levels and start new ones."""
        assert self._actions is not None, "call step_async first"
        if not bool(((self._actions >= 0) & (self._actions < self.inner**2)).all()):
            raise ValueError(f"actions must be cell indices in [0, {self.inner**2})")
        self.place(self._actions)
        obs = to_numpy(self.observe())
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        done = self.t == self.num_placements
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if done:
            for i, level in enumerate(self.levels()):
                infos[i] = {
                    "level": level,
                    "terminal_observation": {k: v[i] for k, v in obs.items()},
                    "TimeLimit.truncated": False,
                }
                if self.reward_fn is not None:
                    rewards[i] = float(self.reward_fn(level))
            obs = self.reset()
        return obs, rewards, np.full(self.num_envs, done), infos
