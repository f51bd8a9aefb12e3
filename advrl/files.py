"""Files written safely: atomically (a temporary name, then a rename) and without pickles.

States hold tensors, numbers and strings only and load with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` a state of tensors, numbers and strings, atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def read_state(
    path: Path, required: str | None = None, map_location: Any = "cpu"
) -> dict[str, Any]:
    """Load a state written by :func:`write_state` (safe: ``weights_only=True``).

    Raises:
        ValueError: the file is truncated or foreign, or lacks the key ``required``.
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # a truncated or foreign file
        raise ValueError(
            f"cannot read checkpoint {str(path)!r} (truncated, damaged, or not written by advrl)"
        ) from None
    if not isinstance(state, dict) or (required is not None and required not in state):
        raise ValueError(f"{str(path)!r} is not an advrl checkpoint")
    return state
