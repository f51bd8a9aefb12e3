"""Policy networks for grid observations (the maze view, the designer's full grid)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import gymnasium as gym
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from advrl.agents.advprop import DualBatchNorm
from advrl.envs.maze import MAX_CODE


class GridFeaturesExtractor(BaseFeaturesExtractor):
    """Features of a ``Dict`` observation holding a MiniGrid-encoded ``image`` and small extras.

    The image's object-type channel is one-hot encoded (``MAX_CODE + 1`` classes: the policy's float
    input features), passed through one 3x3 convolution and flattened (PAIRED's student: 16 filters;
    its adversary: 128). Every other key is a scalar input: a ``Discrete`` (one-hot by SB3, e.g. the
    direction or the designer's time step) or a ``Box`` vector (e.g. the designer's noise), each
    embedded by a linear layer of ``scalar_embed`` units. Everything is concatenated.

    Args:
        observation_space: a ``Dict`` with an ``image`` ``Box`` of shape ``(width, height, 3)``.
        conv_filters: output channels of the convolution.
        kernel_size: convolution kernel side.
        scalar_embed: units of each scalar input's embedding.
        dual_bn: put AdvProp's :class:`~advrl.agents.advprop.DualBatchNorm` after the convolution.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        conv_filters: int = 16,
        kernel_size: int = 3,
        scalar_embed: int = 5,
        dual_bn: bool = False,
    ) -> None:
        if (
            not isinstance(observation_space, spaces.Dict)
            or "image" not in observation_space.spaces
        ):
            raise ValueError(
                "GridFeaturesExtractor needs a Dict observation space with an 'image' key"
            )
        image_space = observation_space["image"]
        assert image_space.shape is not None
        if len(image_space.shape) != 3 or image_space.shape[-1] != 3:
            raise ValueError(
                f"the image must be MiniGrid-encoded (width, height, 3), got {image_space.shape}"
            )
        width, height, _ = image_space.shape
        if width < kernel_size or height < kernel_size:
            raise ValueError(
                f"a {width}x{height} image is smaller than the {kernel_size}x{kernel_size} kernel"
            )
        conv_out = conv_filters * (width - kernel_size + 1) * (height - kernel_size + 1)
        scalar_keys = sorted(k for k in observation_space.spaces if k != "image")
        scalar_dims = {k: _flat_dim(observation_space[k]) for k in scalar_keys}
        super().__init__(observation_space, conv_out + scalar_embed * len(scalar_keys))
        self.num_types = MAX_CODE + 1
        norm: list[nn.Module] = [DualBatchNorm(conv_filters, dims=2)] if dual_bn else []
        # ReLU after Flatten (the same function): on the flat, contiguous features its backward
        # pass runs about 2x faster than on the convolution's output; in place, as nothing that
        # follows the convolution needs its output.
        self.conv = nn.Sequential(
            nn.Conv2d(self.num_types, conv_filters, kernel_size),
            *norm,
            nn.Flatten(),
            nn.ReLU(inplace=True),
        )
        self.scalars = nn.ModuleDict(
            {
                k: nn.Sequential(nn.Linear(d, scalar_embed), nn.ReLU())
                for k, d in scalar_dims.items()
            }
        )

        self._relaxed: torch.Tensor | None = None

    @contextmanager
    def relaxed_image(self, one_hot: torch.Tensor) -> Iterator[None]:
        """Inside the block, use ``one_hot`` (``[N, num_types, W, H]`` floats, e.g. an attack's
        perturbation of :meth:`one_hot_image`) in place of the observation's one-hot image."""
        self._relaxed = one_hot
        try:
            yield
        finally:
            self._relaxed = None

    def one_hot_image(self, image: torch.Tensor) -> torch.Tensor:
        """``[N, W, H, 3]`` cell codes -> ``[N, num_types, W, H]`` float one-hot of the object type."""
        types = image[..., 0].round().long().clamp(0, self.num_types - 1)
        return F.one_hot(types, self.num_types).permute(0, 3, 1, 2).float()

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Concatenated conv features and scalar embeddings."""
        image = observations["image"]
        if self._relaxed is not None:
            if self._relaxed.shape[0] != image.shape[0]:
                raise ValueError(
                    f"relaxed image batch {self._relaxed.shape[0]} != observation batch "
                    f"{image.shape[0]}"
                )
            parts = [self.conv(self._relaxed)]
        elif not torch.is_grad_enabled() and len(self.conv) == 3:
            # acting: the convolution of the one-hot image as a lookup of its weights (the same
            # sums, about half the time on a batch of one step; with gradients the convolution's
            # backward pass is the faster one)
            types = image[..., 0].round().long().clamp(0, self.num_types - 1)
            parts = [F.relu(one_hot_conv(types, self.conv[0]).flatten(1))]
        else:
            parts = [self.conv(self.one_hot_image(image))]
        for key, layer in self.scalars.items():
            parts.append(layer(observations[key].float().flatten(1)))
        return torch.cat(parts, dim=1)


def one_hot_conv(codes: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    """``conv(one_hot(codes))`` (``[N, filters, W', H']``) for ``[N, W, H]`` codes below
    ``conv.in_channels``, without the one-hot input: at each output position, the bias plus, for
    each cell of the patch, the weights of that cell's class (an embedding bag over the patch).
    ``conv`` is an ``nn.Conv2d`` with stride 1, no padding and a bias."""
    assert isinstance(conv, nn.Conv2d) and conv.bias is not None
    n, width, height = codes.shape
    kw, kh = conv.kernel_size
    out_w, out_h = width - kw + 1, height - kh + 1
    cells, offsets = patch_cells(width, height, kw, kh, conv.in_channels, codes.device)
    index = codes.flatten(1)[:, cells] + offsets  # [N, P, kw * kh]
    out = F.embedding_bag(index.view(-1, kw * kh), weight_table(conv), mode="sum") + conv.bias
    return out.view(n, out_w, out_h, -1).permute(0, 3, 1, 2)


def weight_table(conv: nn.Conv2d) -> torch.Tensor:
    """A convolution's weight as a table with one row per (patch cell, input class), in the order
    of :func:`patch_cells`' offsets: ``[kw * kh * in_channels, out_channels]``."""
    return conv.weight.permute(2, 3, 1, 0).reshape(-1, conv.out_channels)


@functools.lru_cache(maxsize=16)
def patch_cells(
    width: int, height: int, kw: int, kh: int, classes: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The flat cell index of each patch's cells (``[P, kw * kh]``, positions row-major) and each
    cell's offset into the weight table (``[kw * kh]``: its place in the patch times ``classes``)."""
    out_w, out_h = width - kw + 1, height - kh + 1
    x = torch.arange(out_w, device=device).repeat_interleave(out_h)
    y = torch.arange(out_h, device=device).repeat(out_w)
    dx = torch.arange(kw, device=device).repeat_interleave(kh)
    dy = torch.arange(kh, device=device).repeat(kw)
    cells = (x[:, None] + dx) * height + (y[:, None] + dy)
    return cells, torch.arange(kw * kh, device=device) * classes


def _flat_dim(space: gym.Space) -> int:
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(space.nvec.sum())
    if isinstance(space, (spaces.Box, spaces.MultiBinary)):
        return int(spaces.flatdim(space))
    raise ValueError(f"unsupported scalar observation space {space}")
