"""The maze of :class:`~advrl.envs.maze.MazeEnv` for N levels at once, as torch tensors (CPU or GPU).

:class:`BatchedMaze` keeps every slot's grid, agent and step count in tensors and steps them all with
a handful of tensor operations: no Python loop over slots in ``step`` or ``reset``. It is an SB3
``VecEnv`` (auto-reset, ``terminal_observation`` and Monitor-style ``episode`` entries in ``infos``),
so SB3 PPO trains on it unchanged. Its rules are MazeEnv's, observation for observation; a test
drives both with the same levels and actions and compares every step.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from advrl.envs.generators import RandomWalls
from advrl.envs.level import DIRECTION_VECTORS, MAX_LEVEL_SIDE, MazeLevel
from advrl.envs.maze import MAX_CODE, MAX_STEPS, MAX_VIEW
from advrl.envs.torch_vec_env import TorchVecEnv, select, to_numpy

EMPTY, WALL, GOAL = OBJECT_TO_IDX["empty"], OBJECT_TO_IDX["wall"], OBJECT_TO_IDX["goal"]
UNSEEN = OBJECT_TO_IDX["unseen"]
LEFT, RIGHT, FORWARD = 0, 1, 2
BUILT_KINDS = (EMPTY, WALL, GOAL)
"""What a builder may put in a cell: kind 0 is floor, 1 a wall, 2 the goal."""


@dataclass(frozen=True)
class BuildRequest:
    """The slots whose agent sees cells not built yet, for a :data:`Builder` to fill one each.

    Attributes:
        envs: ``[k]`` the slots.
        view: ``[k, v * v]`` the cell codes of each slot's view (x-major, as the observation's
            ``image[..., 0]`` flattened), ``UNSEEN`` where not built yet.
        buildable: ``[k, v * v]`` the view cells not built yet (inside the grid).
        direction: ``[k]`` the agent's direction.
        goal_placed: ``[k]`` whether the slot's level has its goal.
        t: ``[k]`` steps taken in the episode.
        level_ids: ``[k]`` each slot's level counter: one more at every new level (each
            :meth:`BatchedMaze.reset`), the same while the level is replayed.
        next_step: the index of the next ``step`` (since the last ``reset``) whose observation
            shows what is built now: the step that the build precedes.
    """

    envs: torch.Tensor
    view: torch.Tensor
    buildable: torch.Tensor
    direction: torch.Tensor
    goal_placed: torch.Tensor
    t: torch.Tensor
    level_ids: torch.Tensor
    next_step: int


Builder = Callable[[BuildRequest], tuple[torch.Tensor, torch.Tensor]]
"""Fills one cell per requested slot: ``(cell [k] in 0 .. v*v - 1, kind [k] in 0 .. 2)``, the cell
among the buildable ones, the goal (kind 2) only where none is placed."""


def _packed_codes() -> torch.Tensor:
    """Object type -> MiniGrid's (type, colour, state) as the bytes of a little-endian int32."""
    colour = torch.zeros(MAX_CODE + 1, dtype=torch.int32)
    colour[WALL] = COLOR_TO_IDX["grey"]
    colour[GOAL] = COLOR_TO_IDX["green"]
    return torch.arange(MAX_CODE + 1, dtype=torch.int32) | (colour << 8)


def _view_offsets(view: int) -> torch.Tensor:
    """``[4, view, view, 2]``: (d_row, d_col) from the agent to view cell ``[x, y]`` per direction.

    ``x`` runs to the agent's right, ``y`` away from it, the agent at ``[view // 2, view - 1]``.
    """
    offsets = torch.zeros(4, view, view, 2, dtype=torch.long)
    x = torch.arange(view).view(view, 1)
    y = torch.arange(view).view(1, view)
    forward, right = view - 1 - y, x - view // 2
    for d, (f_row, f_col) in enumerate(DIRECTION_VECTORS):
        r_row, r_col = f_col, -f_row  # forward turned clockwise
        offsets[d, :, :, 0] = forward * f_row + right * r_row
        offsets[d, :, :, 1] = forward * f_col + right * r_col
    return offsets


class BatchedMaze(TorchVecEnv):
    """N mazes stepped together on one torch device, with MazeEnv's rules.

    Each slot either replays a fixed level (:meth:`set_levels`: after an episode ends it restarts on
    the same level, as PAIRED's students need) or draws a fresh domain-randomized level (goal, start,
    direction and ``num_walls`` walls uniformly at random) at every reset. Random levels are drawn
    in bulk (a pool of at least N) from a seeded ``torch.Generator`` on the device, so they are
    repeatable but not the same draws as ``MazeEnv``'s numpy generator.

    Observations are returned as numpy arrays (``Dict(image=uint8 [N, v, v, 3], direction=[N])``),
    as SB3 expects; :meth:`observe` gives the same on the device.

    Args:
        num_envs: number of slots N.
        size: outer side length including the border.
        agent_view_size: side of the egocentric view (odd, >= 3).
        max_steps: step limit of an episode.
        num_walls: walls of a random level, a count or an inclusive ``(low, high)`` range; None:
            PAIRED's share (25 on the 13x13 inside).
        device: torch device (``"cpu"``, ``"cuda"``).
        seed: seed of the level generator.
    """

    def __init__(
        self,
        num_envs: int,
        *,
        size: int = 15,
        agent_view_size: int = 5,
        max_steps: int = 250,
        num_walls: int | tuple[int, int] | None = None,
        device: str | torch.device = "cpu",
        seed: int | None = None,
    ) -> None:
        if sys.byteorder != "little":
            raise RuntimeError(
                "BatchedMaze packs cell codes little-endian; this host is big-endian"
            )
        if not 4 <= size <= MAX_LEVEL_SIDE + 2:
            raise ValueError(
                f"size must be between 4 (a 2x2 inside) and {MAX_LEVEL_SIDE + 2} (the largest "
                f"level), got {size}"
            )
        if agent_view_size < 3 or agent_view_size % 2 == 0 or agent_view_size > MAX_VIEW:
            raise ValueError(
                f"agent_view_size must be odd, >= 3 and <= {MAX_VIEW}, got {agent_view_size}"
            )
        if not 1 <= max_steps <= MAX_STEPS:
            raise ValueError(f"max_steps must be between 1 and {MAX_STEPS:,}, got {max_steps}")
        inner = size - 2
        walls = RandomWalls(shape=(inner, inner), num_walls=num_walls)  # validates the count
        observation_space = spaces.Dict(
            {
                "image": spaces.Box(
                    0, MAX_CODE, (agent_view_size, agent_view_size, 3), dtype=np.uint8
                ),
                "direction": spaces.Discrete(4),
            }
        )
        super().__init__(num_envs, observation_space, spaces.Discrete(3), device=device, seed=seed)
        self.size, self.inner, self.view = size, inner, agent_view_size
        self.max_steps = int(max_steps)
        self.step_limit = torch.full(
            (num_envs,), self.max_steps, dtype=torch.long, device=self.device
        )
        """Each slot's step limit (``max_steps`` unless :meth:`set_step_limits` changed it)."""
        self.wall_range = walls.wall_range
        self.pad = agent_view_size - 1  # extra wall rings so every view stays inside the tensor
        self.offset = 1 + self.pad  # padded coordinate of inner cell (0, 0)
        self.side = side = inner + 2 * self.offset
        dev = self.device
        # Everything is addressed by flat indices into one uint8 tensor of all slots' padded grids:
        # slot n's cell (row, col) is grid[n * side**2 + row * side + col].
        self.grid = torch.full((num_envs * side * side,), WALL, dtype=torch.uint8, device=dev)
        # The same cells as MiniGrid's (type, colour, state) bytes packed in an int32 (little-endian
        # byte order, as on x86, ARM and CUDA), so an observation is a single gather.
        self._packed_code = _packed_codes().to(dev)  # object type -> packed int32
        self.grid_packed = self._packed_code[self.grid.long()]
        self._empty_packed = int(self._packed_code[EMPTY])
        self._base = torch.arange(num_envs, device=dev) * side * side
        rows = torch.arange(inner, device=dev).view(-1, 1) + self.offset
        cols = torch.arange(inner, device=dev).view(1, -1) + self.offset
        self._inner_idx = (rows * side + cols).view(-1)  # [inner**2] inner cells, row-major
        off = _view_offsets(agent_view_size).to(dev)
        self._view_idx = (off[..., 0] * side + off[..., 1]).view(4, -1)  # [4, v*v], x-major
        self._own_cell = (agent_view_size // 2) * agent_view_size + agent_view_size - 1
        vec = torch.tensor(DIRECTION_VECTORS, dtype=torch.long, device=dev)
        self._step_idx = vec[:, 0] * side + vec[:, 1]  # [4] one step forward
        # Per-slot state: position as a flat index within the slot's grid.
        self.pos = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.dir = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.t = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.ep_return = torch.zeros(num_envs, dtype=torch.float32, device=dev)
        self._start = torch.zeros(num_envs, dtype=torch.long, device=dev)  # of the episode
        self._start_dir = torch.zeros(num_envs, dtype=torch.long, device=dev)
        # Fixed levels: inner codes to restore, start and direction, and which slots have one.
        self.fixed = torch.zeros(num_envs, dtype=torch.bool, device=dev)
        self.fixed_inner = torch.zeros(num_envs, inner * inner, dtype=torch.uint8, device=dev)
        self.fixed_start = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.fixed_dir = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self._pool_codes = torch.empty(0, inner * inner, dtype=torch.uint8, device=dev)
        self._pool_start = torch.empty(0, dtype=torch.long, device=dev)
        self._pool_dir = torch.empty(0, dtype=torch.long, device=dev)
        self._pool_next = 0
        self._pool_state: torch.Tensor | None = None  # the generator's state before the pool
        self._actions: torch.Tensor | None = None
        # Levels built as they are seen (set_builder): which cells exist yet, and the goal.
        self.builder: Builder | None = None
        self.built = torch.ones(num_envs * side * side, dtype=torch.bool, device=dev)
        self.goal_placed = torch.ones(num_envs, dtype=torch.bool, device=dev)
        self.building = torch.zeros(num_envs, dtype=torch.bool, device=dev)
        self.level_ids = torch.zeros(num_envs, dtype=torch.long, device=dev)
        self.steps_taken = 0  # calls of step since the last reset

    # ------------------------------------------------------------------ levels
    def set_levels(self, levels: Sequence[MazeLevel | None], indices: VecEnvIndices = None) -> None:
        """Give slots fixed levels (None: back to random levels). They start at the next reset."""
        idx = self._indices(indices)
        if len(levels) != len(idx):
            raise ValueError(f"got {len(levels)} levels for {len(idx)} slots")
        for i, level in zip(idx, levels, strict=True):
            if level is None:
                self.fixed[i] = False
                continue
            if level.shape != (self.inner, self.inner):
                raise ValueError(
                    f"level is {level.height}x{level.width} but the inner grid is "
                    f"{self.inner}x{self.inner}"
                )
            codes = np.where(level.walls, WALL, EMPTY).astype(np.uint8)
            codes[level.goal] = GOAL
            self.fixed_inner[i] = torch.from_numpy(codes.reshape(-1)).to(self.device)
            self.fixed_start[i] = self._inner_idx[level.start[0] * self.inner + level.start[1]]
            self.fixed_dir[i] = level.start_dir
            self.fixed[i] = True

    def set_step_limits(self, limits: Sequence[int]) -> None:
        """Give each slot its own step limit (an evaluation of levels with different limits, e.g.
        held-out mazes of one size); the reward's time penalty scales with the slot's limit, as
        MazeEnv's does with its ``max_steps``."""
        if len(limits) != self.num_envs or min(limits, default=1) < 1:
            raise ValueError(f"need {self.num_envs} positive step limits, got {list(limits)[:8]}")
        self.step_limit = torch.as_tensor(list(limits), dtype=torch.long, device=self.device)

    def set_builder(self, builder: Builder | None) -> None:
        """Build the levels of the slots without a fixed level as their agent first sees them
        (DEGen's dynamic generation; None: domain-randomized levels again), from their next reset.

        A built level starts at every :meth:`reset` (where a student's rollout starts) on an
        empty grid with nothing built but the start cell (drawn at random, as is the direction);
        before every observation, ``builder`` fills the view's cells not built yet, one per slot
        per call, until none is left. Cells never seen stay floor. An episode that ends before
        the next :meth:`reset` replays its level: the same start and direction, every cell built
        so far kept, and building goes on as the agent sees new cells (DEGen's auto-replay: one
        level per slot per rollout, so the student's success on it gates the generator's pay).
        The cells of an episode's terminal view are built too (its terminal observation shows
        them) and stay in the level for its replays.
        """
        self.builder = builder

    def _build_views(self, rows: torch.Tensor) -> None:
        """Have the builder fill every unbuilt cell in the views of ``rows`` (building slots)."""
        assert self.builder is not None
        rows = rows[self.building[rows]]
        for _ in range(self.view * self.view):
            if rows.numel() == 0:
                return
            cells = (self._base[rows] + self.pos[rows]).view(-1, 1) + self._view_idx[self.dir[rows]]
            buildable = ~self.built.gather(0, cells.view(-1)).view(len(rows), -1)
            pending = buildable.any(1)
            rows, cells, buildable = rows[pending], cells[pending], buildable[pending]
            if rows.numel() == 0:
                return
            view = torch.where(
                buildable, UNSEEN, self.grid.gather(0, cells.view(-1)).view_as(cells)
            )
            cell, kind = self.builder(
                BuildRequest(
                    envs=rows,
                    view=view.to(torch.uint8),
                    buildable=buildable,
                    direction=self.dir[rows],
                    goal_placed=self.goal_placed[rows],
                    t=self.t[rows],
                    level_ids=self.level_ids[rows],
                    next_step=self.steps_taken,
                )
            )
            cell, kind = cell.to(self.device, torch.long), kind.to(self.device, torch.long)
            if not bool(buildable.gather(1, cell.view(-1, 1)).all()):
                raise ValueError("the builder chose a cell that is built already or outside")
            if bool(((kind == 2) & self.goal_placed[rows]).any()) or bool(
                ((kind < 0) | (kind > 2)).any()
            ):
                raise ValueError("the builder chose a second goal, or a kind outside 0 .. 2")
            flat = cells.gather(1, cell.view(-1, 1)).squeeze(1)
            codes = torch.tensor(BUILT_KINDS, dtype=torch.uint8, device=self.device)[kind]
            self.grid[flat] = codes
            self.grid_packed[flat] = self._packed_code[codes.long()]
            self.built[flat] = True
            self.goal_placed[rows] |= kind == 2
        raise AssertionError("a view has more cells than the loop's bound")

    def built_levels(self) -> list[MazeLevel | None]:
        """Each slot's level as built so far (cells not built yet count as floor); None for a
        slot whose goal is not placed yet. For logging."""
        out: list[MazeLevel | None] = []
        inner = self.grid[self._base.view(-1, 1) + self._inner_idx].cpu().numpy()
        for k in range(self.num_envs):
            codes = inner[k].reshape(self.inner, self.inner)
            goals = np.argwhere(codes == GOAL)
            if not len(goals):
                out.append(None)
                continue
            row, col = divmod(int(self._start[k]), self.side)
            out.append(
                MazeLevel(
                    walls=codes == WALL,
                    goal=(int(goals[0][0]), int(goals[0][1])),
                    start=(row - self.offset, col - self.offset),
                    start_dir=int(self._start_dir[k]),
                )
            )
        return out

    def levels(self, indices: VecEnvIndices = None) -> list[MazeLevel]:
        """The levels being played (built on the CPU: for logging, not for the hot path)."""
        idx = torch.as_tensor(self._indices(indices), dtype=torch.long, device=self.device)
        inner = self.grid[self._base[idx].view(-1, 1) + self._inner_idx].cpu().numpy()
        inner = inner.reshape(-1, self.inner, self.inner)
        starts = self._start[idx].cpu().numpy()
        dirs = self._start_dir[idx].cpu().numpy()
        out = []
        for k in range(len(idx)):
            goal = np.argwhere(inner[k] == GOAL)[0]
            row, col = divmod(int(starts[k]), self.side)
            out.append(
                MazeLevel(
                    walls=inner[k] == WALL,
                    goal=(int(goal[0]), int(goal[1])),
                    start=(row - self.offset, col - self.offset),
                    start_dir=int(dirs[k]),
                )
            )
        return out

    # ------------------------------------------------------------------ core (device tensors)
    def _replayed(self, mask: torch.Tensor, replay: bool) -> torch.Tensor | None:
        """The slots of ``mask`` whose next episode replays their built level (with ``replay``:
        those building one; a slot given a fixed level starts that instead); None without a
        builder, so that the common reset pays nothing for it."""
        if not replay or self.builder is None:
            return None
        return mask & self.building & ~self.fixed

    def _reset_slots(self, mask: torch.Tensor, *, replay: bool = False) -> None:
        """Start new episodes in the slots where ``mask`` is true (fixed level or a random one);
        with ``replay``, a slot building its level plays that level again (:meth:`set_builder`)."""
        replayed = self._replayed(mask, replay)
        if replayed is not None:
            again = torch.nonzero(replayed).squeeze(1)
            if again.numel():
                self.pos[again] = self._start[again]
                self.dir[again] = self._start_dir[again]
                self.t[again] = 0
                self.ep_return[again] = 0.0
                self._build_views(again)
            mask = mask & ~replayed
        rows = torch.nonzero(mask).squeeze(1)
        if rows.numel() == 0:
            return
        codes = self.fixed_inner[rows]  # [k, cells]
        start = self.fixed_start[rows]
        direction = self.fixed_dir[rows]
        rand = ~self.fixed[rows]
        if bool(rand.any()):
            r = torch.nonzero(rand).squeeze(1)
            pool_codes, pool_start, pool_dir = self._draw_random(len(r))
            codes[r] = pool_codes
            start[r] = pool_start
            direction[r] = pool_dir
        cells = self._base[rows].view(-1, 1) + self._inner_idx
        self.grid[cells] = codes
        self.grid_packed[cells] = self._packed_code[codes.long()]
        self.pos[rows] = start
        self.dir[rows] = direction
        self.t[rows] = 0
        self.ep_return[rows] = 0.0
        self._start[rows] = start
        self._start_dir[rows] = direction
        self.level_ids[rows] += 1
        self.building[rows] = rand if self.builder is not None else False
        if self.builder is not None and bool(rand.any()):
            built = rows[rand]  # an empty grid, nothing built but the start cell
            inside = self._base[built].view(-1, 1) + self._inner_idx
            self.grid[inside] = EMPTY
            self.grid_packed[inside] = self._empty_packed
            self.built[inside] = False
            self.built[self._base[built] + start[rand]] = True
            self.goal_placed[built] = False
            self._build_views(built)

    def _draw_random(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``k`` random levels (inner codes, start, direction), taken from a pool drawn in bulk."""
        if self._pool_next + k > len(self._pool_start):
            self._fill_pool(max(self.num_envs, k, 256))
        sl = slice(self._pool_next, self._pool_next + k)
        self._pool_next += k
        return self._pool_codes[sl], self._pool_start[sl], self._pool_dir[sl]

    def _fill_pool(self, size: int) -> None:
        """Draw ``size`` domain-randomized levels at once (a few big ops instead of many small)."""
        cells, gen, dev = self.inner * self.inner, self.generator, self.device
        self._pool_state = gen.get_state()
        order = torch.rand(size, cells, generator=gen, device=dev).argsort(1)
        low, high = self.wall_range
        n_walls = torch.randint(low, high + 1, (size, 1), generator=gen, device=dev)
        # Rank 0 of each random permutation is the goal, rank 1 the start, ranks 2 .. 2 + n walls.
        rank = torch.arange(cells, device=dev).expand(size, cells)
        by_rank = torch.where((rank >= 2) & (rank < 2 + n_walls), WALL, EMPTY).to(torch.uint8)
        by_rank[:, 0] = GOAL
        self._pool_codes = torch.empty_like(by_rank).scatter(1, order, by_rank)
        self._pool_start = self._inner_idx[order[:, 1]]
        self._pool_dir = torch.randint(0, 4, (size,), generator=gen, device=dev)
        self._pool_next = 0

    def random_state(self) -> dict[str, torch.Tensor]:
        """The generator's state and the pool of random levels drawn from it: restored by
        :meth:`set_random_state`, the env draws the same levels next (exact resume)."""
        state = {"generator": self.generator.get_state()}
        if self._pool_state is not None:
            state["pool_state"] = self._pool_state
            state["pool"] = torch.tensor([len(self._pool_start), self._pool_next])
        return state

    def set_random_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`random_state` (a state without the pool draws a fresh one)."""
        if "pool_state" in state:
            size, used = (int(v) for v in state["pool"])
            self.generator.set_state(state["pool_state"])
            self._fill_pool(size)
            self._pool_next = used
        else:
            self._pool_next = len(self._pool_start)
        self.generator.set_state(state["generator"])

    def observe(self) -> dict[str, torch.Tensor]:
        """Current observations on the device: ``image`` uint8 ``[N, v, v, 3]``, ``direction`` ``[N]``."""
        cells = (self._base + self.pos).view(-1, 1) + self._view_idx[self.dir]  # [N, v*v]
        packed = self.grid_packed.gather(0, cells.view(-1)).view(self.num_envs, -1)
        packed[:, self._own_cell] = self._empty_packed  # the agent's own cell
        # A fresh tensor each call (gather allocates): SB3 keeps the previous observation.
        image = packed.view(torch.uint8).view(self.num_envs, self.view, self.view, 4)[..., :3]
        return {
            "image": image,
            "direction": self.dir.clone(),
        }

    def step_tensors(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Apply one action per slot; returns ``(reward, terminated, truncated)`` on the device.

        Does not reset finished slots (see :meth:`step_wait`).
        """
        actions = actions.to(self.device, torch.long)
        turn = (actions == RIGHT).long() - (actions == LEFT).long()
        self.dir = (self.dir + turn) & 3  # mod 4
        ahead = self.pos + self._step_idx[self.dir]
        cell = self.grid.gather(0, self._base + ahead)
        forward = actions == FORWARD
        self.pos = torch.where(forward & (cell != WALL), ahead, self.pos)
        self.t += 1
        terminated = forward & (cell == GOAL)
        truncated = self.t >= self.step_limit
        # float64 with MazeEnv's order of operations, so both give the same float32 rewards
        reward = torch.where(
            terminated, 1.0 - 0.9 * (self.t.double() / self.step_limit.double()), 0.0
        )
        self.ep_return += reward.float()
        if self.builder is not None and bool(self.building.any()):
            self._build_views(torch.nonzero(self.building).squeeze(1))
        return reward, terminated, truncated

    # ------------------------------------------------------------------ SB3 VecEnv
    def reset(self) -> Any:
        """Start new episodes in every slot."""
        self.steps_taken = 0
        self._reset_slots(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return to_numpy(self.observe())

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for :meth:`step_wait`."""
        self._actions = torch.as_tensor(np.asarray(actions).reshape(-1), device=self.device)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every slot, auto-reset finished ones, report as SB3 does."""
        assert self._actions is not None, "call step_async first"
        self.steps_taken += 1  # what is built from here on, the next step's observation shows
        reward, terminated, truncated = self.step_tensors(self._actions)
        done = terminated | truncated
        lengths = self.t.clone()
        returns = self.ep_return.clone()
        obs = self.observe()
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        done_idx = torch.nonzero(done).squeeze(1)
        if len(done_idx):
            terminal = to_numpy(select(obs, done_idx))
            idx = done_idx.tolist()
            succ = terminated[done_idx].tolist()
            trunc = (truncated & ~terminated)[done_idx].tolist()
            rets, lens = returns[done_idx].tolist(), lengths[done_idx].tolist()
            for j, i in enumerate(idx):
                infos[i] = {
                    "terminal_observation": select(terminal, j),
                    "TimeLimit.truncated": trunc[j],
                    "is_success": succ[j],
                    "episode": {"r": rets[j], "l": lens[j], "t": 0.0},
                }
            self._reset_slots(done, replay=True)
            obs = self.observe()
        return (
            to_numpy(obs),
            reward.cpu().numpy().astype(np.float32),
            done.cpu().numpy(),
            infos,
        )

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Reseed the level generator (takes effect at the next reset)."""
        if seed is not None:
            self._pool_next = len(self._pool_start)  # draw afresh from the new seed
        return super().seed(seed)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Per-slot attributes: ``level`` gives the levels being played; others are shared."""
        if attr_name == "level":
            return list(self.levels(indices))
        return super().get_attr(attr_name, indices)
