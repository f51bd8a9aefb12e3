"""Settings of one PPO agent: its hyperparameters and its network.

These frozen dataclasses are the library's own: the run configs (``advrl.config``) hold them, YAML
files are their serialized form, and the CLI's flags and ``--help`` are generated from them.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any, Literal

import torch

from advrl.checks import at_most, positive, unit_interval

DEVICES = ("cpu", "cuda", "cuda:<index>", "mps", "auto")
"""The device names a setting may give (torch's, and SB3's ``auto``)."""


def check_device(device: str) -> None:
    """Raise if ``device`` is no torch device name (``tpu``, ``gpu``, ...). Whether the machine
    has it is checked when the agent is built."""
    if device == "auto":
        return
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}") from None


@dataclass(frozen=True)
class LinearDecay:
    """A schedule for SB3: ``start`` at the beginning of training, falling linearly to 0."""

    start: float

    def __call__(self, progress_remaining: float) -> float:
        """The value when ``progress_remaining`` (1 to 0) of training is left."""
        return self.start * progress_remaining


@dataclass(frozen=True)
class PPOSettings:
    """SB3 PPO's hyperparameters (see ``stable_baselines3.PPO``)."""

    learning_rate: float = 3e-4
    """Adam's step size."""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """``linear``: the learning rate falls linearly from ``learning_rate`` to 0 over training (as
    the RL Zoo's ``lin_`` schedules)."""
    n_steps: int = 128
    """Steps per env per rollout."""
    batch_size: int = 512
    """Samples per minibatch (recurrent policies: a multiple of ``n_steps``)."""
    n_epochs: int = 4
    """Passes over each rollout."""
    gamma: float = 0.995
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE's bias-variance trade-off."""
    clip_range: float = 0.2
    """PPO's clipping of the probability ratio."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Gradient norm clipping."""
    target_kl: float | None = None
    """Stop an update's epochs once a minibatch's approximate KL from the rollout's policy passes
    1.5 x this (SB3's early stopping; null: never). Clipping the ratio does not bound the step of
    a policy whose action noise has shrunk: its KL can jump by orders of magnitude in one update."""
    use_sde: bool = False
    """Generalized state-dependent exploration (continuous actions)."""
    sde_sample_freq: int = -1
    """Steps between gSDE noise draws (-1: once per rollout)."""
    device: str = "cpu"
    """Torch device for the networks (``cpu``, ``cuda``, ``auto``)."""

    def __post_init__(self) -> None:
        positive(self, "learning_rate", "n_steps", "batch_size", "n_epochs", "clip_range")
        positive(self, "max_grad_norm", "target_kl")
        at_most(self, 1_000_000, "n_steps", "batch_size")
        at_most(self, MAX_EPOCHS, "n_epochs")  # (each epoch is a pass over the whole rollout)
        unit_interval(self, "gamma", "gae_lambda")
        if self.batch_size < 2:  # SB3 asserts it: the advantages are normalized per minibatch
            raise ValueError(
                f"batch_size must be at least 2 (PPO normalizes advantages over a minibatch), "
                f"got {self.batch_size}"
            )
        check_device(self.device)

    def sb3_kwargs(self) -> dict[str, Any]:
        """SB3 ``PPO``'s arguments: these settings, the learning rate as a schedule if asked."""
        kwargs = dataclasses.asdict(self)
        if kwargs.pop("lr_schedule") == "linear":
            kwargs["learning_rate"] = LinearDecay(self.learning_rate)
        return kwargs


MAX_EPOCHS = 10_000
"""PPO's passes over one rollout: papers use 3-30; a run asked for more would not end."""

MAX_WIDTH = 65_536
"""The widest hidden layer a policy may ask for."""
MAX_LAYERS = 64
"""The most hidden layers."""
MAX_HIDDEN_WEIGHTS = 100_000_000
"""The most weights between consecutive hidden layers (each needs 16 bytes with Adam)."""
MAX_CONV_FILTERS = 4_096
"""The most filters of the grid convolution."""
MAX_LSTM_HIDDEN = 4_096
"""The largest LSTM (4 h (h + inputs) weights)."""


@dataclass(frozen=True)
class PolicySettings:
    """The policy network (see :func:`advrl.agents.make_ppo`, which takes these as keywords)."""

    net_arch: list[int] | None = None
    """Hidden layers of each head; null: [32] for grid observations, none after NatureCNN for
    pixels, [64, 64] for vectors."""
    activation: Literal["relu", "tanh"] = "relu"
    """Activation of the hidden layers."""
    conv_filters: int = 16
    """Filters of the 3x3 convolution on grid observations."""
    dual_bn: bool = False
    """AdvProp's main and auxiliary batch norms in the trunk (needed by ``adversarial.method:
    advprop``)."""
    lstm_hidden: int | None = None
    """A recurrent policy: LSTMs of this size after the features, trained on whole env sequences
    (``ppo.batch_size`` a multiple of ``ppo.n_steps``; null: feed-forward)."""
    lstm_shared: bool = False
    """One LSTM for the actor and the critic, trained by both losses (dcd's agents); false: one
    LSTM each."""

    def __post_init__(self) -> None:
        positive(self, "conv_filters", "lstm_hidden")
        at_most(self, MAX_CONV_FILTERS, "conv_filters")
        at_most(self, MAX_LSTM_HIDDEN, "lstm_hidden")
        if self.net_arch is not None and any(n <= 0 for n in self.net_arch):
            raise ValueError(f"net_arch must hold positive layer sizes, got {self.net_arch}")
        if self.net_arch is not None and len(self.net_arch) > MAX_LAYERS:
            raise ValueError(f"net_arch may hold at most {MAX_LAYERS} layers")
        if self.net_arch is not None and any(n > MAX_WIDTH for n in self.net_arch):
            raise ValueError(f"net_arch's layers may be at most {MAX_WIDTH:,} wide")
        widths = self.net_arch or []
        between = sum(a * b for a, b in itertools.pairwise(widths))
        if between > MAX_HIDDEN_WEIGHTS:
            raise ValueError(
                f"net_arch {widths} holds {between:,} weights between its layers; at most "
                f"{MAX_HIDDEN_WEIGHTS:,} (a few GB with the optimizer's state)"
            )
        if self.lstm_shared and self.lstm_hidden is None:
            raise ValueError("lstm_shared needs a recurrent policy: set lstm_hidden")
        if self.dual_bn and self.lstm_hidden is not None:
            raise ValueError("dual_bn (AdvProp) is for feed-forward policies; drop lstm_hidden")

    def kwargs(self) -> dict[str, Any]:
        """These settings as :func:`~advrl.agents.make_ppo`'s keyword arguments."""
        return dataclasses.asdict(self)
