"""The maze's discrete attack: flip up to k visible cells of the one-hot view (floor, wall, goal)."""

from __future__ import annotations

import torch
from minigrid.core.constants import OBJECT_TO_IDX

from advrl.agents.attacks.core import (
    AttackTarget,
    Objective,
    input_gradient,
    objective_fn,
)

FLIP_TYPES = (OBJECT_TO_IDX["empty"], OBJECT_TO_IDX["wall"], OBJECT_TO_IDX["goal"])
"""Object types a cell flip may turn a cell into or out of (the maze's floor, walls and goal)."""


def cell_flips(
    policy: AttackTarget,
    one_hot: torch.Tensor,
    cells: int,
    *,
    objective: Objective = "ce",
) -> torch.Tensor:
    """A discrete attack on the maze's view: change the object type of up to ``cells`` cells.

    Greedy in ``cells`` rounds: each round takes, per sample, the (cell, type) switch with the largest
    first-order gain in the objective (its gradient on the one-hot view), among cells not yet flipped
    whose type and new type are floor, wall or goal; the agent's own cell (bottom centre) is never
    flipped. Returns, per sample, the best view seen (the clean one included), still one-hot, so
    :meth:`~advrl.agents.policy_inputs.PolicyInput.to_observation` makes it a real observation.

    Args:
        policy: the maze policy's :class:`~advrl.agents.policy_inputs.PolicyInput`.
        one_hot: ``[N, types, W, H]`` one-hot views.
        cells: the budget, in cells.
    """
    if one_hot.dim() != 4 or not ((one_hot == 0) | (one_hot == 1)).all():
        raise ValueError("cell flips attack the maze's one-hot view [N, types, W, H]")
    if cells < 0:
        raise ValueError(f"the flip budget must be >= 0 cells, got {cells}")
    n, types, width, height = one_hot.shape
    f = objective_fn(policy, one_hot, objective)
    allowed = torch.zeros(types, dtype=torch.bool, device=one_hot.device)
    allowed[list(FLIP_TYPES)] = True
    free = one_hot[:, allowed].sum(1) > 0  # [N, W, H]: cells whose type may change
    free[:, width // 2, height - 1] = False  # the agent's own cell
    x = one_hot.clone()
    best = x.clone()
    with torch.no_grad():
        best_value = f(x)
    rows = torch.arange(n, device=x.device)
    for _ in range(cells):
        grad = input_gradient(f, x)
        gain = grad - (grad * x).sum(1, keepdim=True)  # switching each cell to each type
        blocked = (~allowed.view(1, -1, 1, 1)) | (x > 0.5) | (~free[:, None])
        flat = gain.masked_fill(blocked, -torch.inf).flatten(1)
        top, index = flat.max(1)
        ok = torch.isfinite(top)
        new_type = index // (width * height)
        i, j = (index // height) % width, index % height
        r, t, i, j = rows[ok], new_type[ok], i[ok], j[ok]
        x[r, :, i, j] = 0.0
        x[r, t, i, j] = 1.0
        free[r, i, j] = False
        with torch.no_grad():
            value = f(x)
        better = value > best_value
        best[better] = x[better]
        best_value = torch.where(better, value, best_value)
    return best
