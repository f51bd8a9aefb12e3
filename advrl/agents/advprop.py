"""AdvProp's dual batch normalization (Xie et al., CVPR 2020) for SB3 policies.

A network trained on clean and adversarial inputs at once sees two input distributions; one set of
batch-norm statistics for both serves neither. AdvProp keeps a main batch norm for clean inputs and an
auxiliary one for adversarial inputs (the other layers are shared), sums the two losses, and uses the
main batch norm alone at evaluation. :class:`DualBatchNorm` holds the pair; :func:`auxiliary_bn`
switches every one inside a network to the auxiliary side for a block of code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import gymnasium as gym
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class DualBatchNorm(nn.Module):
    """A main and an auxiliary batch norm over the same features; ``use_aux`` picks one.

    Args:
        num_features: channels (``dims=2``: ``[N, C, H, W]``) or features (``dims=1``: ``[N, C]``).
        dims: 1 for vectors, 2 for images.
    """

    def __init__(self, num_features: int, dims: int = 1) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2, got {dims}")
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        self.main = norm(num_features)
        self.aux = norm(num_features)
        self.use_aux = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize with the auxiliary batch norm when ``use_aux``, else with the main one."""
        return self.aux(x) if self.use_aux else self.main(x)


def dual_batch_norms(module: nn.Module) -> list[DualBatchNorm]:
    """Every :class:`DualBatchNorm` inside ``module``."""
    return [m for m in module.modules() if isinstance(m, DualBatchNorm)]


@contextmanager
def auxiliary_bn(module: nn.Module) -> Iterator[None]:
    """Route every :class:`DualBatchNorm` of ``module`` through its auxiliary side inside the block."""
    norms = dual_batch_norms(module)
    before = [n.use_aux for n in norms]
    for n in norms:
        n.use_aux = True
    try:
        yield
    finally:
        for n, was in zip(norms, before, strict=True):
            n.use_aux = was


class DualBNMlpExtractor(BaseFeaturesExtractor):
    """An MLP feature extractor for vector observations: ``[Linear -> DualBatchNorm -> act] x k``.

    Used with empty policy/value heads (the hidden layers live here), so AdvProp's auxiliary batch
    norms sit in every hidden layer of the shared trunk.

    Args:
        observation_space: a ``Box``.
        hidden: widths of the hidden layers.
        activation: activation module class.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        hidden: list[int] | None = None,
        activation: type[nn.Module] = nn.Tanh,
    ) -> None:
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(
                f"DualBNMlpExtractor needs a Box observation space, got {observation_space}"
            )
        widths = [64, 64] if hidden is None else list(hidden)
        if not widths:
            raise ValueError("DualBNMlpExtractor needs at least one hidden layer")
        super().__init__(observation_space, widths[-1])
        layers: list[nn.Module] = [nn.Flatten()]
        width = spaces.flatdim(observation_space)
        for out in widths:
            layers += [nn.Linear(width, out), DualBatchNorm(out), activation()]
            width = out
        self.net = nn.Sequential(*layers)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Hidden features of a batch of observations."""
        return self.net(observations.float())
