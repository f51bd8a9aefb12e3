"""DiffAugment (Zhao et al., NeurIPS 2020): differentiable augmentations for a discriminator's images.

The same sampled transform is applied to the expert and the generator batch (row ``i`` of each gets
transform ``i``), so the discriminator cannot tell them apart by their augmentation, and gradients flow
through it to its inputs. Images are float ``[N, C, H, W]`` tensors; when C is a multiple of 3 (RGB
frames stacked on the channel axis, as the pixel envs give them) saturation works on each frame's
own colours.

Policies (comma-separated): ``color`` (brightness, saturation, contrast), ``translation`` (shift by up
to ``translation_ratio`` of the side, zero padded), ``cutout`` (a zeroed square of
``cutout_ratio`` of the side).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

POLICIES = ("color", "translation", "cutout")


@dataclass(frozen=True)
class AugmentParams:
    """One sampled transform for a batch of N images (``None``: that policy is off)."""

    brightness: torch.Tensor | None = None  # [N] in [-0.5, 0.5)
    saturation: torch.Tensor | None = None  # [N] in [0, 2)
    contrast: torch.Tensor | None = None  # [N] in [0.5, 1.5)
    shift: torch.Tensor | None = None  # [N, 2] integer (dy, dx)
    cutout: torch.Tensor | None = None  # [N, 2] integer top-left corner of the square
    cutout_size: tuple[int, int] = (0, 0)


class DiffAugment:
    """A DiffAugment policy.

    Args:
        policy: comma-separated subset of ``color,translation,cutout``.
        translation_ratio: largest shift, as a share of the image side.
        cutout_ratio: side of the cut-out square, as a share of the image side.
    """

    def __init__(
        self,
        policy: str = "color,translation,cutout",
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
    ) -> None:
        names = [p.strip() for p in policy.split(",") if p.strip()]
        unknown = [p for p in names if p not in POLICIES]
        if unknown or not names:
            raise ValueError(
                f"DiffAugment policy {policy!r}: use a comma-separated subset of {', '.join(POLICIES)}"
            )
        if not 0 <= translation_ratio < 1 or not 0 < cutout_ratio < 1:
            raise ValueError("translation_ratio must be in [0, 1) and cutout_ratio in (0, 1)")
        self.policies = tuple(names)
        self.translation_ratio = translation_ratio
        self.cutout_ratio = cutout_ratio

    def __repr__(self) -> str:
        return f"DiffAugment({','.join(self.policies)!r})"

    def sample(
        self,
        n: int,
        height: int,
        width: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> AugmentParams:
        """Draw one transform for each of ``n`` images of ``height x width``."""

        def uniform(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator, device=device)

        params: dict[str, object] = {}
        if "color" in self.policies:
            params.update(
                brightness=uniform(n) - 0.5, saturation=uniform(n) * 2, contrast=uniform(n) + 0.5
            )
        if "translation" in self.policies:
            sy = int(height * self.translation_ratio + 0.5)
            sx = int(width * self.translation_ratio + 0.5)
            dy = torch.randint(-sy, sy + 1, (n,), generator=generator, device=device)
            dx = torch.randint(-sx, sx + 1, (n,), generator=generator, device=device)
            params["shift"] = torch.stack([dy, dx], dim=1)
        if "cutout" in self.policies:
            ch = max(1, int(height * self.cutout_ratio + 0.5))
            cw = max(1, int(width * self.cutout_ratio + 0.5))
            top = torch.randint(0, height - ch + 1, (n,), generator=generator, device=device)
            left = torch.randint(0, width - cw + 1, (n,), generator=generator, device=device)
            params.update(cutout=torch.stack([top, left], dim=1), cutout_size=(ch, cw))
        return AugmentParams(**params)  # type: ignore[arg-type]

    def apply(self, x: torch.Tensor, params: AugmentParams) -> torch.Tensor:
        """Apply a sampled transform to ``x`` (``[N, C, H, W]``, float); differentiable in ``x``."""
        if x.dim() != 4:
            raise ValueError(f"DiffAugment takes [N, C, H, W] images, got shape {tuple(x.shape)}")
        if params.brightness is not None:
            x = x + params.brightness.view(-1, 1, 1, 1)
        if params.saturation is not None:
            x = _saturate(x, params.saturation)
        if params.contrast is not None:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * params.contrast.view(-1, 1, 1, 1) + mean
        if params.shift is not None:
            x = _translate(x, params.shift)
        if params.cutout is not None:
            x = x * _cutout_mask(x, params.cutout, params.cutout_size)
        return x

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample a transform and apply it to ``x``."""
        n, _, h, w = x.shape
        return self.apply(x, self.sample(n, h, w, x.device, generator))


def _saturate(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's colours about their mean by ``factor[i]``: per RGB frame when the channels
    are stacked RGB frames, else over all channels."""
    n, c, h, w = x.shape
    frames = x.view(n, c // 3, 3, h, w) if c % 3 == 0 else x.view(n, 1, c, h, w)
    mean = frames.mean(dim=2, keepdim=True)
    return ((frames - mean) * factor.view(-1, 1, 1, 1, 1) + mean).view(n, c, h, w)


def _translate(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift image ``i`` by ``shift[i] = (dy, dx)`` cells; what comes in from outside is zero."""
    n, c, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h) - shift[:, :1]  # [N, H]: source row
    cols = torch.arange(w, device=x.device).view(1, w) - shift[:, 1:]  # [N, W]
    valid = ((rows >= 0) & (rows < h)).view(n, 1, h, 1) & ((cols >= 0) & (cols < w)).view(
        n, 1, 1, w
    )
    rows = rows.clamp(0, h - 1).view(n, 1, h, 1).expand(n, c, h, w)
    cols = cols.clamp(0, w - 1).view(n, 1, 1, w).expand(n, c, h, w)
    shifted = x.gather(2, rows).gather(3, cols)
    return shifted * valid


def _cutout_mask(x: torch.Tensor, corner: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    n, _, h, w = x.shape
    r = torch.arange(h, device=x.device).view(1, h)
    c = torch.arange(w, device=x.device).view(1, w)
    inside_r = (r >= corner[:, :1]) & (r < corner[:, :1] + size[0])
    inside_c = (c >= corner[:, 1:]) & (c < corner[:, 1:] + size[1])
    inside = inside_r.view(n, 1, h, 1) & inside_c.view(n, 1, 1, w)
    return (~inside).to(x.dtype)
