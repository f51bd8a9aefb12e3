"""Singular value clipping (SVC): a Lipschitz control for any network's weight matrices.

Every ``nn.Linear`` weight, and every ``nn.Conv1d/2d/3d`` kernel reshaped to the matrix
``[out_channels, in_channels * prod(kernel)]``, is replaced by ``U diag(min(s, bound)) V^T`` from its
SVD. Used for GAIL's discriminator and, from a callback, for policies.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

MATRIX_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def weight_layers(module: nn.Module) -> Iterator[nn.Module]:
    """The Linear and Conv layers of ``module`` (including itself)."""
    for layer in module.modules():
        if isinstance(layer, MATRIX_LAYERS):
            yield layer


def _matrix(layer: nn.Module) -> torch.Tensor:
    weight = layer.weight
    assert isinstance(weight, torch.Tensor)
    return weight.reshape(weight.shape[0], -1)


def max_singular_value(module: nn.Module) -> float:
    """The largest singular value over all of ``module``'s weight matrices."""
    with torch.no_grad():
        values = [torch.linalg.svdvals(_matrix(layer)).max() for layer in weight_layers(module)]
    return float(torch.stack(values).max()) if values else 0.0


@torch.no_grad()
def clip_singular_values(module: nn.Module, bound: float) -> float:
    """Clip every weight matrix's singular values at ``bound``, in place.

    Layers under a parametrization (e.g. spectral normalization) are refused: their weight is
    computed, not stored.

    Returns:
        The largest singular value before clipping.

    Raises:
        ValueError: ``bound`` is not positive, or a layer is parametrized.
    """
    if bound <= 0:
        raise ValueError(f"the singular value bound must be positive, got {bound}")
    largest = 0.0
    for layer in weight_layers(module):
        if hasattr(layer, "parametrizations"):
            raise ValueError(
                f"{type(layer).__name__} is parametrized (spectral norm?): singular value clipping "
                "and spectral normalization do not combine; use one of them"
            )
        weight = layer.weight
        assert isinstance(weight, torch.Tensor)
        u, s, vh = torch.linalg.svd(_matrix(layer).float(), full_matrices=False)
        largest = max(largest, float(s.max()))
        if s.max() > bound:
            clipped = (u * s.clamp(max=bound)) @ vh
            weight.copy_(clipped.reshape(weight.shape).to(weight.dtype))
    return largest


class SingularValueClipping:
    """Clip ``module``'s singular values at ``bound`` on every ``every``-th call.

    Args:
        module: the network.
        bound: largest singular value allowed.
        every: calls between clippings (1: every call).
    """

    def __init__(self, module: nn.Module, bound: float, every: int = 1) -> None:
        if bound <= 0 or every < 1:
            raise ValueError(f"need bound > 0 and every >= 1, got bound={bound}, every={every}")
        self.module = module
        self.bound = bound
        self.every = every
        self.calls = 0

    def __call__(self) -> float | None:
        """Count a step; clip when due. Returns the largest singular value before clipping, if clipped."""
        self.calls += 1
        if self.calls % self.every:
            return None
        return clip_singular_values(self.module, self.bound)
