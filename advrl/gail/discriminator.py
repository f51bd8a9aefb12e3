"""GAIL's discriminator D(s, a), its loss (with a gradient penalty) and the rewards made from it.

``D(s, a) = sigmoid(logit(s, a))`` is the probability that ``(s, a)`` comes from the expert. The
network's input is built from the observation space:

- vectors (``Box`` of rank 1): the observation itself, through an MLP;
- images (``Box`` of rank 3, pixels): a CNN (three convolutions, as SB3's NatureCNN) on ``[0, 1]``
  floats, channels first;
- the maze's ``Dict`` view (a MiniGrid-encoded ``image``): the one-hot object type per cell, through
  one 3x3 convolution, plus the other keys (the direction) one-hot.

The action is appended to the flattened features (one-hot for discrete actions). DiffAugment, when
given, acts on the image part only. With ``absorbing`` (DAC, Kostrikov et al. 2019), one more input
flags the absorbing state that follows every terminated episode: its image and flat features are
zeros and the flag is 1 (DAC's ``get_absorbing_state``: a zero observation with the flag set, and
a zero action), so D scores it as one more state (:mod:`advrl.gail.absorbing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from torch import nn

from advrl.agents.ppo import is_grid_space
from advrl.envs.maze import MAX_CODE
from advrl.gail.augment import DiffAugment

RewardForm = Literal["gail", "logd", "logit"]
REWARD_FORMS: tuple[str, ...] = ("gail", "logd", "logit")


def reward_from_logits(logits: torch.Tensor, form: RewardForm = "gail") -> torch.Tensor:
    """The generator's reward from D's logits.

    - ``"gail"``: ``-log(1 - D)`` (positive; GAIL's usual choice);
    - ``"logd"``: ``log D`` (negative);
    - ``"logit"``: ``log D - log(1 - D)``, the logit itself (AIRL's form).
    """
    if form == "gail":
        return F.softplus(logits)
    if form == "logd":
        return -F.softplus(-logits)
    if form == "logit":
        return logits
    raise ValueError(f"reward form must be one of {', '.join(REWARD_FORMS)}, got {form!r}")


@dataclass
class DiscInput:
    """A batch of D's inputs: the image part (``[N, C, H, W]`` float, or None) and the flat part."""

    image: torch.Tensor | None
    flat: torch.Tensor

    def parts(self) -> list[torch.Tensor]:
        """The tensors, image first."""
        return [t for t in (self.image, self.flat) if t is not None]


def _one_hot(x: torch.Tensor, n: int) -> torch.Tensor:
    return F.one_hot(x.long().flatten(), n).float()


def _flat(space: spaces.Space, x: torch.Tensor) -> torch.Tensor:
    if isinstance(space, spaces.Discrete):
        return _one_hot(x - int(space.start), int(space.n))
    if isinstance(space, spaces.MultiDiscrete):
        cols = x.long().reshape(len(x), -1)
        return torch.cat([_one_hot(cols[:, i], int(n)) for i, n in enumerate(space.nvec)], dim=1)
    if isinstance(space, (spaces.Box, spaces.MultiBinary)):
        return x.float().reshape(len(x), -1)
    raise ValueError(f"the discriminator does not take {type(space).__name__} spaces")


def _flat_dim(space: spaces.Space) -> int:
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(space.nvec.sum())
    return int(spaces.flatdim(space))


class Discriminator(nn.Module):
    """D(s, a) as logits.

    Args:
        observation_space: the env's observation space (vector, pixel image, or the maze's Dict).
        action_space: the env's action space.
        net_arch: hidden layers of the MLP head.
        conv_filters: filters of the maze view's convolution.
        spectral_norm: spectral normalization on every layer.
        absorbing: one more input flagging DAC's absorbing state (see the module docstring).
        augment: DiffAugment for the image part (training only; see :func:`discriminator_loss`),
            or its policy string (e.g. ``"color,translation,cutout"``).
        device: torch device.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        net_arch: Sequence[int] = (64, 64),
        conv_filters: int = 16,
        spectral_norm: bool = False,
        absorbing: bool = False,
        augment: DiffAugment | str | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__()
        self.observation_space = observation_space
        self.action_space = action_space
        self.absorbing = absorbing
        self.augment = DiffAugment(augment) if isinstance(augment, str) else augment
        self.kind, self.image_shape = self._input_kind(observation_space)
        self.conv: nn.Module | None = None
        features = 0
        if self.kind == "grid":
            channels, h, w = self.image_shape
            self.conv = nn.Sequential(nn.Conv2d(channels, conv_filters, 3), nn.LeakyReLU(0.2))
            features = conv_filters * (h - 2) * (w - 2)
        elif self.kind == "pixels":
            self.conv = _nature_cnn(self.image_shape)
            with torch.no_grad():
                features = int(self.conv(torch.zeros(1, *self.image_shape)).flatten(1).shape[1])
        if self.conv is not None:
            self.conv = nn.Sequential(self.conv, nn.Flatten())
        self.flat_width = self._flat_obs_dim() + _flat_dim(action_space) + int(absorbing)
        features += self.flat_width
        layers: list[nn.Module] = []
        for width in net_arch:
            layers += [nn.Linear(features, width), nn.LeakyReLU(0.2)]
            features = width
        layers.append(nn.Linear(features, 1))
        self.head = nn.Sequential(*layers)
        if augment is not None and self.kind == "vector":
            raise ValueError("DiffAugment needs image observations (pixels or the maze view)")
        if spectral_norm:
            for module in list(self.modules()):
                for name, child in list(module.named_children()):
                    if isinstance(child, (nn.Linear, nn.Conv2d)):
                        setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        self.to(device)

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _input_kind(space: spaces.Space) -> tuple[str, tuple[int, int, int]]:
        if is_grid_space(space):
            assert isinstance(space, spaces.Dict)
            w, h, _ = space["image"].shape  # type: ignore[misc]
            return "grid", (MAX_CODE + 1, w, h)
        if isinstance(space, spaces.Box) and is_image_space(space, check_channels=False):
            shape = space.shape
            if is_image_space_channels_first(space):
                return "pixels", (shape[0], shape[1], shape[2])
            return "pixels", (shape[2], shape[0], shape[1])
        if isinstance(space, spaces.Dict):
            raise ValueError(
                "the discriminator takes vector, pixel-image or maze (MiniGrid-encoded) "
                f"observations; got a Dict with keys {sorted(space.spaces)}"
            )
        return "vector", (0, 0, 0)

    def _flat_obs_dim(self) -> int:
        space = self.observation_space
        if self.kind == "grid":
            assert isinstance(space, spaces.Dict)
            return sum(_flat_dim(s) for k, s in space.spaces.items() if k != "image")
        if self.kind == "pixels":
            return 0
        return _flat_dim(space)

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        return next(self.parameters()).device

    def inputs(self, obs: Any, acts: Any, absorbing: Any = None) -> DiscInput:
        """Float inputs of a batch of numpy (or tensor) observations and actions.

        Args:
            absorbing: ``[N]`` bools (D built with ``absorbing``): rows that stand for the
                absorbing state, whatever their ``obs`` and ``acts`` hold (None: no row does).
        """
        x = self._inputs(obs, acts)
        if not self.absorbing:
            if absorbing is not None:
                raise ValueError("absorbing rows need a discriminator built with absorbing=True")
            return x
        n = len(x.flat)
        mask = (
            torch.zeros(n, dtype=torch.bool, device=x.flat.device)
            if absorbing is None
            else torch.as_tensor(np.asarray(absorbing), device=x.flat.device).reshape(n)
        )
        return absorbing_inputs(x, mask)

    def _inputs(self, obs: Any, acts: Any) -> DiscInput:
        dev = self.device

        def tensor(x: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, device=dev)

        act = _flat(self.action_space, tensor(acts))
        space = self.observation_space
        if self.kind == "grid":
            assert isinstance(space, spaces.Dict)
            types = tensor(obs["image"])[..., 0].long().clamp(0, MAX_CODE)
            image = F.one_hot(types, MAX_CODE + 1).permute(0, 3, 1, 2).float()
            extra = [
                _flat(s, tensor(obs[k])) for k, s in sorted(space.spaces.items()) if k != "image"
            ]
            return DiscInput(image, torch.cat([*extra, act], dim=1))
        if self.kind == "pixels":
            image = tensor(obs).float()
            assert isinstance(space, spaces.Box)
            if not is_image_space_channels_first(space):
                image = image.permute(0, 3, 1, 2)
            if space.dtype == np.uint8:
                image = image / 255.0
            return DiscInput(image, act)
        return DiscInput(None, torch.cat([_flat(space, tensor(obs)), act], dim=1))

    def forward_inputs(self, x: DiscInput) -> torch.Tensor:
        """Logits ``[N]`` of prepared inputs."""
        parts = [x.flat]
        if self.conv is not None:
            assert x.image is not None
            parts.insert(0, self.conv(x.image))
        return self.head(torch.cat(parts, dim=1)).squeeze(-1)

    def forward(self, obs: Any, acts: Any, absorbing: Any = None) -> torch.Tensor:
        """Logits ``[N]`` of D for observations and actions (no augmentation); ``absorbing`` as in
        :meth:`inputs`."""
        return self.forward_inputs(self.inputs(obs, acts, absorbing))

    def absorbing_input(self) -> DiscInput:
        """The one input of the absorbing state: zero features, the flag set."""
        if not self.absorbing:
            raise ValueError("the discriminator was built without absorbing=True")
        dev = self.device
        image = None if self.conv is None else torch.zeros(1, *self.image_shape, device=dev)
        row = DiscInput(image, torch.zeros(1, self.flat_width - 1, device=dev))
        return absorbing_inputs(row, torch.ones(1, dtype=torch.bool, device=dev))

    @torch.no_grad()
    def absorbing_reward(self, form: RewardForm = "gail") -> float:
        """The generator's reward in the absorbing state, for any action."""
        was_training = self.training
        self.eval()
        try:
            logit = self.forward_inputs(self.absorbing_input())
            return float(reward_from_logits(logit, form)[0])
        finally:
            self.train(was_training)

    @torch.no_grad()
    def reward(self, obs: Any, acts: Any, form: RewardForm = "gail") -> np.ndarray:
        """The generator's reward for a batch of steps (see :func:`reward_from_logits`)."""
        was_training = self.training
        self.eval()
        try:
            return reward_from_logits(self(obs, acts), form).cpu().numpy().astype(np.float32)
        finally:
            self.train(was_training)


def absorbing_inputs(x: DiscInput, mask: torch.Tensor) -> DiscInput:
    """``x`` with its last flat column set to ``mask`` and the rows of ``mask`` made the absorbing
    state's input (every other feature zero)."""
    keep = (~mask).to(x.flat.dtype).unsqueeze(1)
    flat = torch.cat([x.flat * keep, mask.to(x.flat.dtype).unsqueeze(1)], dim=1)
    if x.image is None:
        return DiscInput(None, flat)
    return DiscInput(x.image * keep.view(-1, 1, 1, 1), flat)


def _nature_cnn(shape: tuple[int, int, int]) -> nn.Module:
    channels, h, w = shape
    if min(h, w) < 36:
        # small images: two 3x3 convolutions instead of NatureCNN's 8x8/4 stem
        return nn.Sequential(
            nn.Conv2d(channels, 32, 3, stride=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(32, 32, 3, stride=1),
            nn.LeakyReLU(0.2),
        )
    return nn.Sequential(
        nn.Conv2d(channels, 32, 8, stride=4),
        nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 4, stride=2),
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 64, 3, stride=1),
        nn.LeakyReLU(0.2),
    )


def gradient_penalty(
    disc: Discriminator,
    expert: DiscInput,
    generated: DiscInput,
    generator: torch.Generator | None = None,
    center: float = 1.0,
) -> torch.Tensor:
    """``mean((||grad_x logit(x_hat)||_2 - center)^2)`` at random interpolates of expert and
    generated inputs, on D's float inputs (image and flat parts together), one mixing weight per
    sample.

    ``center`` 1 is WGAN-GP's penalty (Gulrajani et al. 2017; DAC's), which holds D's slope at 1
    between the two batches, also where they coincide: D cannot become flat, so its reward keeps
    a slope after the policy has reached the expert. ``center`` 0 is the zero-centred penalty
    (Thanh-Tung et al. 2019), whose equilibrium allows the flat ``D = 1/2`` (Mescheder et al. 2018
    show zero-centred penalties make GAN training locally convergent).
    """
    n = len(expert.flat)
    alpha = torch.rand(n, generator=generator, device=expert.flat.device)
    mixed = []
    for e, g in zip(expert.parts(), generated.parts(), strict=True):
        a = alpha.view(-1, *([1] * (e.dim() - 1)))
        mixed.append((a * e + (1 - a) * g).detach().requires_grad_(True))
    x_hat = DiscInput(mixed[0], mixed[1]) if len(mixed) == 2 else DiscInput(None, mixed[0])
    logits = disc.forward_inputs(x_hat)
    grads = torch.autograd.grad(logits.sum(), mixed, create_graph=True)
    norm = torch.cat([g.reshape(n, -1) for g in grads], dim=1).norm(dim=1)
    return ((norm - center) ** 2).mean()


def _augmented(disc: Discriminator, x: DiscInput, params: Any) -> torch.Tensor:
    """The image part under DiffAugment, the absorbing state's rows (flag set) left at zero."""
    assert x.image is not None and disc.augment is not None
    image = disc.augment.apply(x.image, params)
    if not disc.absorbing:
        return image
    keep = (x.flat[:, -1] == 0).to(image.dtype).view(-1, 1, 1, 1)
    return image * keep


@dataclass
class DiscLoss:
    """One discriminator loss and its diagnostics."""

    loss: torch.Tensor
    bce: float
    penalty: float
    expert_acc: float
    generator_acc: float
    expert_logit: float
    generator_logit: float


def discriminator_loss(
    disc: Discriminator,
    expert_obs: Any,
    expert_acts: Any,
    gen_obs: Any,
    gen_acts: Any,
    *,
    grad_penalty: float = 0.0,
    generator: torch.Generator | None = None,
    expert_absorbing: Any = None,
    gen_absorbing: Any = None,
    grad_penalty_center: float = 1.0,
) -> DiscLoss:
    """Binary cross-entropy (expert = 1, generator = 0) plus ``grad_penalty`` times the penalty
    (:func:`gradient_penalty`, centred at ``grad_penalty_center``).

    With ``disc.augment`` set, one sampled DiffAugment transform is applied to both batches (which
    must then be the same size) before D sees them; the absorbing state's rows (``*_absorbing``,
    as in :meth:`Discriminator.inputs`) keep their one input.
    """
    expert = disc.inputs(expert_obs, expert_acts, expert_absorbing)
    gen = disc.inputs(gen_obs, gen_acts, gen_absorbing)
    if disc.augment is not None and expert.image is not None and gen.image is not None:
        if len(expert.flat) != len(gen.flat):
            raise ValueError("DiffAugment needs expert and generator batches of the same size")
        _, _, h, w = expert.image.shape
        params = disc.augment.sample(len(expert.flat), h, w, expert.image.device, generator)
        expert = DiscInput(_augmented(disc, expert, params), expert.flat)
        gen = DiscInput(_augmented(disc, gen, params), gen.flat)
    le, lg = disc.forward_inputs(expert), disc.forward_inputs(gen)
    bce = F.softplus(-le).mean() + F.softplus(lg).mean()
    loss = bce
    penalty = torch.zeros(())
    if grad_penalty > 0:
        penalty = gradient_penalty(disc, expert, gen, generator, grad_penalty_center)
        loss = loss + grad_penalty * penalty
    return DiscLoss(
        loss=loss,
        bce=float(bce.detach()),
        penalty=float(penalty.detach()),
        expert_acc=float((le > 0).float().mean()),
        generator_acc=float((lg < 0).float().mean()),
        expert_logit=float(le.detach().mean()),
        generator_logit=float(lg.detach().mean()),
    )
