"""SimAug (Liang et al., ECCV 2020) adapted to policies: hardest view, adversarial view, mixup.

SimAug trains on several simulated views of one situation: it scores each view by the training loss,
keeps the hardest, perturbs the original view adversarially, and trains on a random convex combination
(mixup) of the two. Here a *view* is an observation transform that keeps the situation (the state) and
changes what is seen of it: sensor noise, per-feature gain, dropped features, or, on the maze, the
same situation in another level: the agent, its heading and the goal where they are, the walls around
them redrawn (``walls``). The PPO targets (action, advantage) are the same for every view of a state,
so the mixup mixes observations only.

Views are written as ``"kind:size"`` strings (``gaussian:0.05``, ``scale:0.1``, ``dropout:0.1``) so
configs can list them; :func:`make_view` turns one into a function. On a pixel env that draws its
scenes under views (the pixel maze, the pixel CartPole), ``scene:K`` adds K views that are the
sample's own scene drawn again under views from the env's training view space (see
:mod:`advrl.agents.scene_views`): SimAug's several cameras on one situation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from minigrid.core.constants import OBJECT_TO_IDX

View = Callable[[torch.Tensor], torch.Tensor]
"""An observation transform: a batch in, a batch of the same shape out (random draws from torch's
global generator, which run checkpoints save)."""


def _gaussian(size: float) -> View:
    return lambda obs: obs + size * torch.randn_like(obs)


def _scale(size: float) -> View:
    def view(obs: torch.Tensor) -> torch.Tensor:
        gain = 1 + size * (2 * torch.rand(obs.shape[1:], device=obs.device) - 1)
        return obs * gain

    return view


def _dropout(size: float) -> View:
    if not 0 <= size < 1:
        raise ValueError(f"dropout view needs a probability in [0, 1), got {size}")
    return lambda obs: obs * (torch.rand_like(obs) >= size)


_EMPTY, _WALL = OBJECT_TO_IDX["empty"], OBJECT_TO_IDX["wall"]


def _walls(size: float) -> View:
    if not 0 <= size <= 1:
        raise ValueError(f"walls view needs a probability in [0, 1], got {size}")

    def view(x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] <= _WALL:
            raise ValueError(
                "the walls view redraws cells of the maze's one-hot view [N, types, W, H]"
            )
        out = x.clone()
        width, height = x.shape[2], x.shape[3]
        mutable = (x[:, _EMPTY] > 0.5) | (x[:, _WALL] > 0.5)  # floor or wall: not goal, not unseen
        mutable[:, width // 2, height - 1] = False  # the agent's own cell
        flip = mutable & (torch.rand(mutable.shape, device=x.device) < size)
        out[:, _EMPTY] = torch.where(flip, x[:, _WALL], x[:, _EMPTY])
        out[:, _WALL] = torch.where(flip, x[:, _EMPTY], x[:, _WALL])
        return out

    return view


VIEW_KINDS: dict[str, Callable[[float], View]] = {
    "gaussian": _gaussian,
    "scale": _scale,
    "dropout": _dropout,
    "walls": _walls,
}
"""View kinds: additive Gaussian noise of std ``size``; one random per-feature gain in
``[1 - size, 1 + size]`` for the whole batch (a recalibrated sensor); each feature zeroed with
probability ``size``; (maze) each floor or wall cell of the view but the agent's own turned into the
other with probability ``size``: the same agent and goal in a level with other walls."""


MAZE_VIEW_KINDS = ("walls",)
"""View kinds that work on the maze's one-hot view only."""


def maze_only_views(specs: tuple[str, ...] | list[str]) -> list[str]:
    """The view specs among ``specs`` that need the maze's one-hot view."""
    return [spec for spec in specs if spec.partition(":")[0] in MAZE_VIEW_KINDS]


SCENE = "scene"
"""The view kind that redraws the sample's scene (``scene:K``: K fresh views)."""


def scene_view_count(specs: tuple[str, ...] | list[str]) -> int:
    """How many redrawn scenes the ``scene:K`` specs among ``specs`` ask for (0: none)."""
    count = 0
    for spec in specs:
        kind, _, size = spec.partition(":")
        if kind != SCENE:
            continue
        if not size.isdigit() or int(size) < 1:
            raise ValueError(f"view {spec!r}: scene views take a count >= 1, e.g. 'scene:4'")
        count += int(size)
    return count


def transform_views(specs: tuple[str, ...] | list[str]) -> list[View]:
    """The observation transforms among ``specs`` (all kinds but ``scene``), validated."""
    scene_view_count(specs)  # raises on a bad scene spec
    return [make_view(spec) for spec in specs if spec.partition(":")[0] != SCENE]


def make_view(spec: str) -> View:
    """A view from its ``"kind:size"`` spec (see :data:`VIEW_KINDS`)."""
    kind, _, size = spec.partition(":")
    if kind not in VIEW_KINDS:
        kinds = sorted([*VIEW_KINDS, SCENE])
        raise ValueError(f"unknown view {spec!r}: kinds are {kinds} as 'kind:size'")
    try:
        value = float(size)
    except ValueError:
        raise ValueError(f"view {spec!r} needs a number after ':', e.g. '{kind}:0.1'") from None
    if value < 0:
        raise ValueError(f"view {spec!r}: the size must be >= 0")
    return VIEW_KINDS[kind](value)


def hardest_view(views: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
    """Per sample, the view with the largest loss.

    Args:
        views: ``[V, N, ...]``: V views of N observations.
        losses: ``[V, N]``: each view's per-sample loss.

    Returns:
        ``[N, ...]``.
    """
    if losses.shape != views.shape[:2]:
        raise ValueError(f"losses {tuple(losses.shape)} must be views' [V, N] {views.shape[:2]}")
    pick = losses.argmax(0)  # [N]
    return views[pick, torch.arange(views.shape[1], device=views.device)]


def mixup(a: torch.Tensor, b: torch.Tensor, alpha: float) -> torch.Tensor:
    """``lam * a + (1 - lam) * b`` with one ``lam ~ Beta(alpha, alpha)`` per sample."""
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be positive, got {alpha}")
    beta = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))
    lam = beta.sample((a.shape[0],)).to(a.device).view(-1, *([1] * (a.dim() - 1)))
    return lam * a + (1 - lam) * b
