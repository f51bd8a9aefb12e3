"""Validation helpers for settings dataclasses: each raises ``ValueError`` naming the field.

The config loader prefixes the section (``ppo.n_steps must be positive, got 0``).
"""

from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A config file or value is wrong; the message names the key and what is expected."""


def positive(settings: Any, *names: str) -> None:
    """Each named field, where it is a number, is finite and > 0."""
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, (int, float)) and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive, got {value}")


def non_negative(settings: Any, *names: str) -> None:
    """Each named field is a finite number >= 0."""
    for name in names:
        value = getattr(settings, name)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be >= 0, got {value}")


def unit_interval(settings: Any, *names: str) -> None:
    """Each named field is a number in [0, 1]."""
    for name in names:
        value = getattr(settings, name)
        if not 0.0 <= value <= 1.0:  # False for NaN
            raise ValueError(f"{name} must be in [0, 1], got {value}")


def at_most(settings: Any, limit: float, *names: str) -> None:
    """Each named field is at most ``limit`` (what a setting may ask to allocate)."""
    for name in names:
        value = getattr(settings, name)
        if value is not None and value > limit:
            raise ValueError(f"{name} must be at most {limit:,}, got {value:,}")


def check_device_available(device: str, instead: str = "cpu") -> None:
    """Raise if ``device`` names an accelerator this machine does not have, rather than run
    elsewhere than the settings say (``auto``, SB3's, takes the GPU where there is one).

    Args:
        device: a torch device name, or ``auto``.
        instead: what the message suggests (``cpu``, or ``cpu or auto`` where SB3 takes it).
    """
    if device in ("auto", "cpu"):
        return
    import torch

    kind = torch.device(device).type
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}, but torch sees no CUDA GPU here; use {instead}")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r}, but this machine has no MPS; use {instead}")
