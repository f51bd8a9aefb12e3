"""Pixel CartPole for N envs at once: N physics envs, every frame of a step drawn in one pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from advrl.envs.physics.cartpole import ParamCartPoleEnv
from advrl.envs.physics.pixel_cartpole import CARTPOLE_VIEWS
from advrl.envs.pixels import cartpole_materials, paint
from advrl.envs.views import VIEW_DIM, View, ViewDraws, ViewSpace, view_space


class PixelCartPoleVecEnv(VecEnv):
    """N :class:`~advrl.envs.physics.pixel_cartpole.PixelCartPoleEnv` s as one SB3 ``VecEnv``.

    Each slot's physics is its own :class:`~advrl.envs.physics.ParamCartPoleEnv` (stepped in a
    loop: a few microseconds each); the drawing, most of a pixel step's cost, is one batched pass
    over all slots. Seeded like SB3's ``DummyVecEnv`` (slot ``i`` gets ``seed + i`` at the next
    reset; views from a generator of their own per slot, as the single env), it gives the same
    observations, rewards, ends and terminal observations as ``make_vec_env`` of the single env
    with the same seed: a test holds them equal. Episodes are cut at ``max_steps``
    (``TimeLimit.truncated``); ``infos`` carry ``state``, ``terminal_observation`` and Monitor's
    ``episode``. :meth:`scenes` and :meth:`draw` let SimAug's ``scene:K`` views redraw a
    sample's frames under other views (:mod:`advrl.agents.scene_views`).

    Args:
        num_envs: number of slots N.
        views: view space of new episodes: ``default``, ``train``, ``heldout`` or a ViewSpace.
        size: side of each frame in pixels.
        frames: frames stacked in an observation.
        randomize: draw the dynamics at each reset (ParamCartPoleEnv's ``randomize``).
        max_steps: the time limit (CartPole-v1's 500).
    """

    def __init__(
        self,
        num_envs: int,
        *,
        views: str | ViewSpace = "default",
        size: int = 48,
        frames: int = 3,
        randomize: bool = False,
        max_steps: int = 500,
    ) -> None:
        if int(size) < 16 or int(frames) < 1 or int(max_steps) < 1:
            raise ValueError(
                f"need size >= 16, frames >= 1 and max_steps >= 1, got {size}, {frames}, {max_steps}"
            )
        self.size, self.frames, self.max_steps = int(size), int(frames), int(max_steps)
        space = spaces.Box(0, 255, (self.size, self.size, 3 * self.frames), dtype=np.uint8)
        super().__init__(num_envs, space, spaces.Discrete(2))
        self.envs = [ParamCartPoleEnv(randomize=randomize) for _ in range(num_envs)]
        self.view_space = view_space(views, CARTPOLE_VIEWS)
        self.view_spaces = CARTPOLE_VIEWS
        self._view_draws = [ViewDraws(self.view_space, CARTPOLE_VIEWS) for _ in range(num_envs)]
        self.views = np.zeros((num_envs, VIEW_DIM), dtype=np.float32)
        self.stack = np.zeros((num_envs, self.frames, self.size, self.size, 3), dtype=np.uint8)
        self.poses = np.zeros((num_envs, self.frames, 3), dtype=np.float32)  # what they show
        self.t = np.zeros(num_envs, dtype=np.int64)
        self.ep_return = np.zeros(num_envs, dtype=np.float64)
        self._actions: np.ndarray | None = None

    # ------------------------------------------------------------------ drawing
    def _pose(self, rows: Sequence[int]) -> np.ndarray:
        """``float32 [k, 3]``: cart position, pole angle and half length of each slot in ``rows``."""
        return np.array(
            [(self.envs[i].state[0], self.envs[i].state[2], self.envs[i].length) for i in rows],  # type: ignore[index]
            dtype=np.float32,
        ).reshape(-1, 3)

    def _draw_rows(self, rows: Sequence[int]) -> np.ndarray:
        """The current frame of each slot in ``rows``: ``uint8 [k, size, size, 3]``."""
        pose = torch.from_numpy(self._pose(rows))
        views = torch.from_numpy(self.views[list(rows)])
        return self._frames(pose, views).numpy()

    def _frames(self, pose: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
        materials = cartpole_materials(pose[:, 0], pose[:, 1], pose[:, 2], self.size)
        return paint(materials, views)

    def scenes(self) -> torch.Tensor:
        """What each slot's frames show, before drawing: ``float32 [N, frames, 3]``, the cart
        position, pole angle and half length of every stacked frame, oldest first."""
        return torch.from_numpy(self.poses.copy())

    def draw(self, scenes: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
        """Scenes (from :meth:`scenes`) drawn under views ``[B, VIEW_DIM]``: ``uint8 [B, H, W,
        3 * frames]``, the observations those scenes give under those views."""
        b, frames, _ = scenes.shape
        drawn = self._frames(scenes.reshape(b * frames, 3), views.repeat_interleave(frames, 0))
        stacked = drawn.view(b, frames, self.size, self.size, 3).permute(0, 2, 3, 1, 4)
        return stacked.reshape(b, self.size, self.size, 3 * frames)

    def _observation(self, rows: Sequence[int] | slice = slice(None)) -> np.ndarray:
        stack = self.stack[rows]  # [k, frames, H, W, 3] -> [k, H, W, frames * 3]
        return stack.transpose(0, 2, 3, 1, 4).reshape(len(stack), self.size, self.size, -1)

    def _start(self, rows: list[int]) -> list[np.ndarray]:
        """New episodes in ``rows`` (seeded once where a seed is pending); their states."""
        states = []
        for i in rows:
            seed = self._seeds[i]
            self.views[i] = self._view_draws[i].choose(None, seed).vector()
            state, _ = self.envs[i].reset(seed=seed)
            states.append(state)
            self._seeds[i] = None
            self.t[i], self.ep_return[i] = 0, 0.0
        if rows:
            self.stack[rows] = self._draw_rows(rows)[:, None]  # a reset repeats its first frame
            self.poses[rows] = self._pose(rows)[:, None]
        return states

    # ------------------------------------------------------------------ SB3 VecEnv
    def reset(self) -> np.ndarray:
        """Start new episodes in every slot."""
        states = self._start(list(range(self.num_envs)))
        self.reset_infos = [{"state": s} for s in states]
        self._reset_seeds()
        self._reset_options()
        return self._observation()

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for :meth:`step_wait`."""
        self._actions = np.asarray(actions).reshape(-1)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every slot's physics, draw all new frames at once, auto-reset finished slots."""
        assert self._actions is not None, "call step_async first"
        n = self.num_envs
        rewards = np.zeros(n, dtype=np.float32)
        dones = np.zeros(n, dtype=bool)
        infos: list[dict[str, Any]] = []
        for i, env in enumerate(self.envs):
            state, reward, terminated, _, _ = env.step(int(self._actions[i]))
            self.t[i] += 1
            self.ep_return[i] += reward
            truncated = self.t[i] >= self.max_steps
            rewards[i], dones[i] = reward, terminated or truncated
            infos.append(
                {"state": state, "TimeLimit.truncated": bool(truncated and not terminated)}
            )
        self.stack[:, :-1] = self.stack[:, 1:]
        self.stack[:, -1] = self._draw_rows(range(n))
        self.poses[:, :-1] = self.poses[:, 1:]
        self.poses[:, -1] = self._pose(range(n))
        done = [i for i in range(n) if dones[i]]
        if done:
            terminal = self._observation(done)
            for j, i in enumerate(done):
                infos[i]["terminal_observation"] = terminal[j]
                infos[i]["episode"] = {"r": self.ep_return[i], "l": int(self.t[i]), "t": 0.0}
            for i, state in zip(done, self._start(done), strict=True):
                self.reset_infos[i] = {"state": state}
        return self._observation(), rewards, dones, infos

    def close(self) -> None:
        """Close the physics envs."""
        for env in self.envs:
            env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """``view``: each slot's view; ``render_mode``: None (the frames are the observations);
        other names: the physics envs' attributes."""
        rows = list(self._get_indices(indices))
        if attr_name == "render_mode":
            return [None for _ in rows]
        if attr_name == "view":
            return [View.from_vector(self.views[i]) for i in rows]
        return [getattr(self.envs[i], attr_name) for i in rows]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the physics envs."""
        for i in self._get_indices(indices):
            setattr(self.envs[i], attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method of the physics envs."""
        rows = self._get_indices(indices)
        return [getattr(self.envs[i], method_name)(*method_args, **method_kwargs) for i in rows]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """No slot is wrapped (episode statistics are reported in ``infos`` directly)."""
        return [False] * len(list(self._get_indices(indices)))
