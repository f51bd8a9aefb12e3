"""Views: how a scene is drawn, apart from what is in it.

A :class:`View` holds everything a pixel env's renderer chooses that the state does not: the colour
of each material (the maze's floor, walls, goal and agent; CartPole's background, track, cart and
pole), a texture, the lighting and the camera. Two views of one state draw different pixels of the
same situation: the env's transitions, rewards and ``info`` never depend on the view.

A :class:`ViewSpace` is a box of views (a range per colour channel and per scalar) that a pixel env
draws from at every reset. Each pixel env ships three: ``default`` (one fixed view), ``train`` (what
training draws) and ``heldout`` (views training never draws: every held-out view has a colour, a
texture and a light level outside the training box, which :meth:`ViewSpace.contains` checks).

Views travel as float vectors of :data:`VIEW_DIM` numbers (:meth:`View.vector`), so a batch of
slots can carry one view each as a ``[N, VIEW_DIM]`` tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

RGB = tuple[float, float, float]
Range = tuple[float, float]
RGBRange = tuple[Range, Range, Range]

MATERIALS = 4
"""Materials a renderer colours (indices 0..3; index 0 is the background)."""

VIEW_DIM = 3 * MATERIALS + 6
"""Length of a view's vector: four RGB colours, texture, light, light slope, shift x, shift y, zoom."""


@dataclass(frozen=True)
class View:
    """How a scene is drawn.

    Args:
        colors: RGB in ``[0, 1]`` of each material (background first; the env's docstring names
            them).
        texture: depth of a checker texture on every surface, ``[0, 1)`` (0: flat colours).
        light: overall brightness gain.
        light_slope: brightness change from the image's left edge to its right (directional light).
        shift: camera offset ``(x, y)`` as a share of the image side.
        zoom: camera zoom (> 1 magnifies the centre).
    """

    colors: tuple[RGB, RGB, RGB, RGB]
    texture: float = 0.0
    light: float = 1.0
    light_slope: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    zoom: float = 1.0

    def __post_init__(self) -> None:
        if len(self.colors) != MATERIALS or any(len(c) != 3 for c in self.colors):
            raise ValueError(f"a view has {MATERIALS} RGB colours, got {self.colors}")
        if any(not 0 <= x <= 1 for c in self.colors for x in c):
            raise ValueError(f"view colours are RGB in [0, 1], got {self.colors}")
        if not 0 <= self.texture < 1:
            raise ValueError(f"texture must be in [0, 1), got {self.texture}")
        if self.light <= 0 or self.zoom <= 0:
            raise ValueError(f"light and zoom must be positive, got {self.light}, {self.zoom}")

    def vector(self) -> np.ndarray:
        """The view as ``float32 [VIEW_DIM]`` (colours row by row, then the scalars in order)."""
        flat = [x for c in self.colors for x in c]
        scalars = [self.texture, self.light, self.light_slope, *self.shift, self.zoom]
        return np.asarray(flat + scalars, dtype=np.float32)

    @classmethod
    def from_vector(cls, vector: Any) -> View:
        """The view of a vector made by :meth:`vector`."""
        v = [float(x) for x in np.asarray(vector, dtype=np.float64).reshape(-1)]
        if len(v) != VIEW_DIM:
            raise ValueError(f"a view vector has {VIEW_DIM} numbers, got {len(v)}")
        colors = tuple(tuple(v[3 * m : 3 * m + 3]) for m in range(MATERIALS))
        texture, light, slope, sx, sy, zoom = v[3 * MATERIALS :]
        return cls(colors, texture, light, slope, (sx, sy), zoom)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> View:
        """A view from a mapping of its fields (as YAML or a reset option would give it)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown view field(s) {unknown}; valid: {sorted(names)}")
        if "colors" not in data:
            raise ValueError("a view needs 'colors': four [r, g, b] lists in [0, 1]")
        values = dict(data)
        values["colors"] = tuple(tuple(float(x) for x in c) for c in data["colors"])
        if "shift" in values:
            values["shift"] = tuple(float(x) for x in values["shift"])
        return cls(**values)


@dataclass(frozen=True)
class ViewSpace:
    """A box of views: every colour channel and scalar uniform in its range.

    Args:
        colors: per material, per channel, an inclusive ``(low, high)``.
        texture: range of :attr:`View.texture`.
        light: range of :attr:`View.light`.
        light_slope: range of :attr:`View.light_slope`.
        shift: range of the camera's x and y offsets.
        zoom: range of :attr:`View.zoom`.
    """

    colors: tuple[RGBRange, RGBRange, RGBRange, RGBRange]
    texture: Range = (0.0, 0.0)
    light: Range = (1.0, 1.0)
    light_slope: Range = (0.0, 0.0)
    shift: tuple[Range, Range] = ((0.0, 0.0), (0.0, 0.0))
    zoom: Range = (1.0, 1.0)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)``, each ``float32 [VIEW_DIM]`` in the order of :meth:`View.vector`."""
        ranges = [r for c in self.colors for r in c]
        ranges += [self.texture, self.light, self.light_slope, *self.shift, self.zoom]
        low, high = np.asarray(ranges, dtype=np.float32).T
        return low, high

    def sample(self, rng: np.random.Generator) -> View:
        """One view, uniform in the box."""
        low, high = self.bounds()
        return View.from_vector(rng.uniform(low, high))

    def draw_vectors(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """``float32 [n, VIEW_DIM]``: n views uniform in the box, as vectors, from ``generator``
        (torch's global one if None): what a batch of slots draws on the device."""
        low, high = (torch.as_tensor(b, device=device) for b in self.bounds())
        return low + (high - low) * torch.rand(n, VIEW_DIM, generator=generator, device=device)

    def contains(self, view: View) -> bool:
        """Whether ``view`` lies in the box (every number within its range)."""
        low, high = self.bounds()
        v = view.vector()
        return bool(np.all((v >= low - 1e-6) & (v <= high + 1e-6)))

    @classmethod
    def single(cls, view: View) -> ViewSpace:
        """The space holding ``view`` alone."""

        def point(x: float) -> Range:
            return (x, x)

        colors = tuple(tuple(point(x) for x in c) for c in view.colors)
        return cls(
            colors,  # type: ignore[arg-type]
            point(view.texture),
            point(view.light),
            point(view.light_slope),
            (point(view.shift[0]), point(view.shift[1])),
            point(view.zoom),
        )


def near(rgb: RGB, spread: float) -> RGBRange:
    """Each channel of ``rgb`` +- ``spread``, clipped to ``[0, 1]``."""
    return tuple((max(0.0, x - spread), min(1.0, x + spread)) for x in rgb)  # type: ignore[return-value]


def views_of(default: View, train: ViewSpace, heldout: ViewSpace) -> dict[str, ViewSpace]:
    """An env's named view spaces, after checking that no held-out view can be a training one."""
    tl, th = train.bounds()
    hl, hh = heldout.bounds()
    if not np.any((hl > th) | (hh < tl)):
        raise ValueError("the held-out view space overlaps the training one in every number")
    return {"default": ViewSpace.single(default), "train": train, "heldout": heldout}


def resolve_view(value: Any, spaces: Mapping[str, ViewSpace], rng: np.random.Generator) -> View:
    """A reset's ``view`` option: a :class:`View`, a mapping of its fields, or the name of one of
    the env's view spaces to draw from."""
    if isinstance(value, View):
        return value
    if isinstance(value, str):
        if value not in spaces:
            raise ValueError(f"unknown view space {value!r}; this env has {sorted(spaces)}")
        return spaces[value].sample(rng)
    if isinstance(value, Mapping):
        return View.from_dict(value)
    raise ValueError(
        f"a view is a View, a dict of its fields or a view-space name, got {type(value).__name__}"
    )


VIEW_SEED_STREAM = 0x5EE
"""Mixed into a reset's seed to seed the view draws, apart from the env's other draws."""


class ViewDraws:
    """An env's view at each reset: the one a reset asks for, else one drawn from its space.

    Draws come from a generator of their own, reseeded from a reset's seed (mixed with
    :data:`VIEW_SEED_STREAM`), so views never shift the env's level or state draws.

    Args:
        space: what resets without a view draw from.
        spaces: the env's named view spaces (for a reset that names one).
    """

    def __init__(self, space: ViewSpace, spaces: Mapping[str, ViewSpace]) -> None:
        self.space = space
        self.spaces = spaces
        self.rng = np.random.default_rng()

    def choose(self, option: Any, seed: int | None) -> View:
        """The view of a reset with ``seed`` and ``options["view"] = option`` (None: draw one)."""
        if seed is not None:
            self.rng = np.random.default_rng([seed, VIEW_SEED_STREAM])
        if option is None:
            return self.space.sample(self.rng)
        return resolve_view(option, self.spaces, self.rng)


def view_space(name_or_space: str | ViewSpace, spaces: Mapping[str, ViewSpace]) -> ViewSpace:
    """An env's ``views`` argument: a space or the name of one of its own."""
    if isinstance(name_or_space, ViewSpace):
        return name_or_space
    if name_or_space not in spaces:
        raise ValueError(f"views={name_or_space!r}: choose one of {sorted(spaces)}")
    return spaces[name_or_space]
