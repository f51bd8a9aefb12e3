"""CartPole seen as pixels: the last few frames, drawn under a view."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from advrl.envs.physics.cartpole import ParamCartPoleEnv
from advrl.envs.pixels import cartpole_materials, paint
from advrl.envs.views import View, ViewDraws, ViewSpace, near, view_space, views_of

CARTPOLE_VIEWS: dict[str, ViewSpace] = views_of(
    default=View(((1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.79, 0.6, 0.4))),
    train=ViewSpace(
        colors=(
            near((0.9, 0.9, 0.9), 0.1),
            near((0.1, 0.1, 0.1), 0.1),
            near((0.12, 0.12, 0.12), 0.12),
            ((0.7, 0.9), (0.45, 0.65), (0.3, 0.5)),
        ),
        texture=(0.0, 0.2),
        light=(0.85, 1.15),
        light_slope=(-0.2, 0.2),
        shift=((-0.03, 0.03), (-0.03, 0.03)),
        zoom=(0.95, 1.05),
    ),
    heldout=ViewSpace(
        colors=(
            ((0.55, 0.7), (0.65, 0.8), (0.75, 0.9)),
            near((0.3, 0.3, 0.3), 0.05),
            ((0.3, 0.45), (0.1, 0.2), (0.1, 0.2)),
            ((0.3, 0.5), (0.6, 0.8), (0.3, 0.5)),
        ),
        texture=(0.25, 0.4),
        light=(0.7, 0.82),
        light_slope=(-0.3, 0.3),
        shift=((-0.05, 0.05), (-0.05, 0.05)),
        zoom=(0.9, 1.1),
    ),
)
"""CartPole's view spaces. Materials: background, track, cart, pole. ``default`` is Gymnasium's
palette (white, black track and cart, brown pole); ``train`` varies colours, texture, light and
camera around it; ``heldout`` has a blue-grey background, a red cart, a green pole, more texture
and less light: its background, texture and light are outside the training ranges for every draw."""


class PixelCartPoleEnv(ParamCartPoleEnv):
    """:class:`~advrl.envs.physics.ParamCartPoleEnv` observed through pixels.

    **Description.** CartPole's dynamics, levels (gravity, masses, pole length, force), actions,
    reward and termination, unchanged. The observation is the last ``frames`` pictures of the cart
    and pole (``size`` x ``size``, the world's ``[-2.9, 2.9]`` across), oldest first, stacked on
    the channel axis, so velocities can be seen. Each episode is drawn under a
    :class:`~advrl.envs.views.View` drawn at reset from ``views`` (see :data:`CARTPOLE_VIEWS`) or
    given with ``env.reset(options={"view": ...})``. ``info["state"]`` carries CartPole's
    4-number observation (in :attr:`state_space`; for analysis and for experts trained on
    CartPole, never seen by a pixel policy) and ``reset`` puts the view in ``info["view"]``.

    **Observation.** ``Box(0, 255, (size, size, 3 * frames), uint8)``.

    **Registered ids.** ``advrl/PixelCartPole-v1`` (the ``default`` view; ``views="train"`` or
    ``views="heldout"`` for the other spaces; ``randomize=True`` draws the dynamics too).

    Args:
        views: view space drawn at each reset: ``default``, ``train``, ``heldout`` or a ViewSpace.
        size: side of each frame in pixels.
        frames: frames stacked in an observation.
        randomize: draw the dynamics at each reset that gets no level (as ParamCartPoleEnv).
        render_mode: as CartPole's.
    """

    def __init__(
        self,
        *,
        views: str | ViewSpace = "default",
        size: int = 48,
        frames: int = 3,
        randomize: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if int(size) < 16 or int(frames) < 1:
            raise ValueError(f"size must be >= 16 and frames >= 1, got {size} and {frames}")
        super().__init__(randomize=randomize, render_mode=render_mode)
        self.state_space = self.observation_space
        """CartPole's observation space: what ``info["state"]`` holds."""
        self.view_space = view_space(views, CARTPOLE_VIEWS)
        self.size, self.frames = int(size), int(frames)
        self.observation_space = spaces.Box(0, 255, (size, size, 3 * frames), dtype=np.uint8)
        self.view: View = CARTPOLE_VIEWS["default"].sample(np.random.default_rng(0))
        self._views = ViewDraws(self.view_space, CARTPOLE_VIEWS)
        self._stack: deque[np.ndarray] = deque(maxlen=self.frames)

    def draw(self) -> np.ndarray:
        """The current frame, ``uint8 [size, size, 3]``."""
        x, _, theta, _ = (float(v) for v in self.state)  # type: ignore[union-attr]
        materials = cartpole_materials(
            torch.tensor([x]), torch.tensor([theta]), torch.tensor([self.length]), self.size
        )
        return paint(materials, torch.from_numpy(self.view.vector()).unsqueeze(0))[0].numpy()

    def _observation(self) -> np.ndarray:
        return np.concatenate(list(self._stack), axis=2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The physics env's reset (``options["level"]``), plus ``options["view"]``."""
        options = dict(options or {})
        self.view = self._views.choose(options.pop("view", None), seed)
        state, info = super().reset(seed=seed, options=options or None)
        frame = self.draw()
        self._stack.extend([frame] * self.frames)
        info.update(state=state, view=self.view)
        return self._observation(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """CartPole's step, observed as the newest frames."""
        state, reward, terminated, truncated, info = super().step(action)
        self._stack.append(self.draw())
        info["state"] = state
        return self._observation(), float(reward), terminated, truncated, info
