"""Settings of the imitation trainers: GAIL's discriminator and its training, ASAF.

Frozen dataclasses whose field names are the trainers' keyword arguments: a run passes them as
they are (``GAIL(..., **settings.training())``), and the CLI's flags and ``--help`` come from them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal

from advrl.checks import non_negative, positive

NETWORK = MappingProxyType({"part": "network"})
"""Field metadata of the discriminator's network settings."""


@dataclass(frozen=True)
class DiscriminatorSettings:
    """GAIL's discriminator D(s, a) and the reward made from it."""

    net_arch: list[int] = field(default_factory=lambda: [64, 64], metadata=NETWORK)
    """Hidden layers of D."""
    conv_filters: int = field(default=16, metadata=NETWORK)
    """Filters of the maze view's convolution."""
    learning_rate: float = 3e-4
    """D's Adam step size."""
    batch_size: int = 256
    """Generator (and expert) steps per D update."""
    epochs: int = 1
    """Passes over each PPO rollout's steps per round."""
    reward: Literal["gail", "logd", "logit"] = "gail"
    """``gail``: -log(1 - D); ``logd``: log D; ``logit``: log D - log(1 - D)."""
    normalize_reward: bool = True
    """Divide rewards by the running std of the discounted return."""
    grad_penalty: float = 0.0
    """Weight of the gradient penalty (0: off)."""
    grad_penalty_center: float = 1.0
    """The gradient norm the penalty pulls toward: 1, WGAN-GP's (D keeps a slope of 1 between
    expert and policy steps even once they coincide); 0, zero-centred (D may become flat at
    equilibrium)."""
    spectral_norm: bool = field(default=False, metadata=NETWORK)
    """Spectral normalization of D's layers."""
    absorbing: bool = field(default=False, metadata=NETWORK)
    """DAC's absorbing state after each terminated episode, scored by D, so that neither reward
    form pays for ending or prolonging an episode by itself."""
    svc_bound: float | None = None
    """Singular value clipping bound of D's weight matrices (null: off)."""
    svc_every: int = 1
    """D updates between clippings."""
    augment: str | None = field(default=None, metadata=NETWORK)
    """DiffAugment policy for image observations, e.g. ``color,translation,cutout`` (null: off)."""

    def __post_init__(self) -> None:
        positive(
            self, "learning_rate", "batch_size", "epochs", "svc_bound", "svc_every", "conv_filters"
        )
        non_negative(self, "grad_penalty", "grad_penalty_center")
        if self.svc_bound is not None and self.spectral_norm:
            raise ValueError("svc_bound and spectral_norm do not combine; set one")

    def network(self) -> dict[str, Any]:
        """:class:`~advrl.gail.Discriminator`'s keyword arguments (the fields marked network)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.metadata.get("part") == "network"
        }

    def training(self) -> dict[str, Any]:
        """:class:`~advrl.gail.GAIL`'s keyword arguments for training D (the other fields)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.metadata.get("part") != "network"
        }


@dataclass(frozen=True)
class ASAFSettings:
    """ASAF: the policy is the discriminator."""

    window: int | None = None
    """Steps per piece: null for whole episodes (ASAF), w for ASAF-w, 1 for ASAF-1."""
    rollout_episodes: int = 10
    """Episodes generated per round (whole-episode ASAF)."""
    rollout_steps: int = 2000
    """Steps generated per round (ASAF-w, ASAF-1)."""
    n_epochs: int = 10
    """Passes over each round's pieces."""
    batch_size: int = 10
    """Generated (and expert) pieces per gradient step."""
    learning_rate: float = 1e-3
    """The policy's Adam step size."""
    max_grad_norm: float = 1.0
    """Gradient norm clipping."""

    def __post_init__(self) -> None:
        positive(self, *(f.name for f in dataclasses.fields(self)))
