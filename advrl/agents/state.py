"""An SB3 model's trainable state as tensors and numbers (for advrl's checkpoints)."""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm


def model_state(model: BaseAlgorithm) -> dict[str, Any]:
    """An SB3 model's networks, optimizer and step counters (tensors and numbers)."""
    return {
        "params": model.get_parameters(),
        "num_timesteps": int(model.num_timesteps),
        "n_updates": int(getattr(model, "_n_updates", 0)),
    }


def load_model_state(model: BaseAlgorithm, state: dict[str, Any]) -> None:
    """Restore :func:`model_state` into ``model``."""
    model.set_parameters(state["params"], exact_match=True, device=model.device)
    model.num_timesteps = int(state["num_timesteps"])
    model._n_updates = int(state.get("n_updates", 0))
