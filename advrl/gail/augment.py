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
        """Apply a sampled transform to ``x`` (``[N, C, H, W]``, float); differentiable in ``x``.

        In order: brightness, saturation, contrast, translation, cutout. The three colour steps
        are affine in ``x`` and are applied as the one map they compose to (:func:`_color`);
        translation and cutout as one gather and one mask (:func:`_move_and_cut`)."""
        if x.dim() != 4:
            raise ValueError(f"DiffAugment takes [N, C, H, W] images, got shape {tuple(x.shape)}")
        if any(v is not None for v in (params.brightness, params.saturation, params.contrast)):
            x = _color(x, params)
        if params.shift is not None or params.cutout is not None:
            x = _move_and_cut(x, params)
        return x

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample a transform and apply it to ``x``."""
        n, _, h, w = x.shape
        return self.apply(x, self.sample(n, h, w, x.device, generator))


def _color(x: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    """Brightness ``b``, then saturation ``s`` (each pixel's colours scaled about their mean ``m``:
    per RGB frame when the channels are stacked RGB frames, else over all channels), then
    contrast ``k`` (the image scaled about its mean ``M``), as the one affine map they compose to:
    ``k s x + (k - k s) m + (1 - k) M + b`` (the colour mean of ``x + b`` is ``m + b``; saturation
    keeps each frame's colour mean, so the image's mean after it is ``M + b``)."""
    n, c, h, w = x.shape
    one, zero = torch.ones(n, device=x.device), torch.zeros(n, device=x.device)
    b = zero if p.brightness is None else p.brightness
    s = one if p.saturation is None else p.saturation
    k = one if p.contrast is None else p.contrast
    frames = x.view(n, c // 3, 3, h, w) if c % 3 == 0 else x.view(n, 1, c, h, w)
    m = frames.mean(dim=2, keepdim=True)  # [N, F, 1, H, W]
    big_m = zero if p.contrast is None else x.mean(dim=(1, 2, 3))

    def per_image(t: torch.Tensor) -> torch.Tensor:
        return t.to(x.dtype).view(n, 1, 1, 1, 1)

    out = frames * per_image(k * s) + m * per_image(k - k * s) + per_image((1 - k) * big_m + b)
    return out.view(n, c, h, w)


def _move_and_cut(x: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    """Shift image ``i`` by ``p.shift[i] = (dy, dx)`` pixels (what comes in from outside is zero),
    then zero the cut-out square at ``p.cutout[i]``: one gather and one mask."""
    n, c, h, w = x.shape
    keep = torch.ones(n, h, w, dtype=torch.bool, device=x.device)
    if p.shift is not None:
        rows = torch.arange(h, device=x.device).view(1, h, 1) - p.shift[:, 0].view(n, 1, 1)
        cols = torch.arange(w, device=x.device).view(1, 1, w) - p.shift[:, 1].view(n, 1, 1)
        keep = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # [N, H, W]
        source = rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)  # [N, H, W]: flat source pixel
        index = source.view(n, 1, h * w).expand(n, c, h * w)
        x = x.reshape(n, c, h * w).gather(2, index).view(n, c, h, w)
    if p.cutout is not None:
        top, left = p.cutout[:, 0].view(n, 1, 1), p.cutout[:, 1].view(n, 1, 1)
        row = torch.arange(h, device=x.device).view(1, h, 1)
        col = torch.arange(w, device=x.device).view(1, 1, w)
        size_r, size_c = p.cutout_size
        inside = (row >= top) & (row < top + size_r) & (col >= left) & (col < left + size_c)
        keep = keep & ~inside
    return x * keep.view(n, 1, h, w).to(x.dtype)
