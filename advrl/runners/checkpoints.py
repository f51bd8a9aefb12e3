"""Run checkpoints: a trainer's ``state_dict`` (tensors, numbers and strings: ``agents``, each SB3
agent's networks, optimizer, counters and env random state; ``rng``, torch's and numpy's global
random states; whatever else the trainer keeps) with its format and step, written atomically with
a checksum and read back with ``torch.load(..., weights_only=True)``; older layouts upgraded on
read, and the newest one that reads back found."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from advrl.config import ConfigError
from advrl.files import read_state, write_state
from advrl.runs import CHECKPOINT_RE, RunDir

CHECKPOINT_FORMAT = 2
"""Version of the checkpoint layout; files without one are upgraded by :func:`upgrade_checkpoint`."""


def upgrade_checkpoint(state: dict[str, Any], role: str = "policy") -> dict[str, Any]:
    """A checkpoint of an earlier advrl in today's layout.

    PPO, GAIL and ASAF checkpoints once held one model's ``params``, ``num_timesteps``,
    ``n_updates``, torch's random state and (imitation) ``trainer``; today they hold ``agents``
    by role and ``rng``, as UED checkpoints always did.
    """
    if "agents" in state or "params" not in state:
        return state
    agent = {k: state[k] for k in ("params", "num_timesteps", "n_updates") if k in state}
    upgraded: dict[str, Any] = {"agents": {role: agent}}
    if "torch_rng" in state:
        upgraded["rng"] = {"torch": state["torch_rng"]}
    if "trainer" in state:
        upgraded["trainer"] = state["trainer"]
    return upgraded


def read_checkpoint(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint, in today's layout (safe: ``weights_only=True``).

    Raises:
        ValueError: the file is truncated or foreign.
    """
    state = upgrade_checkpoint(read_state(path, map_location=map_location))
    if "agents" not in state:
        raise ValueError(f"{str(path)!r} is not an advrl checkpoint")
    return state


def write_checkpoint(path: Path, step: int, state: dict[str, Any]) -> None:
    """A trainer's ``state_dict`` at env step ``step``, atomically (with a checksum, verified on
    load)."""
    write_state(path, {"format": CHECKPOINT_FORMAT, "step": step, **state})


def newest_intact_checkpoint(run: RunDir) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint of a run that reads back, with its state; a truncated or foreign
    newer one is skipped with a warning (a kill can interrupt a disk, not only a write)."""
    for path in run.checkpoints_newest_first():
        try:
            state = read_checkpoint(path)
            named = int(CHECKPOINT_RE.fullmatch(path.name).group(1))  # type: ignore[union-attr]
            if "step" in state and int(state["step"]) != named:
                raise ValueError(
                    f"checkpoint {str(path)!r} holds step {int(state['step']):,}, not the "
                    f"{named:,} of its name (renamed?)"
                )
            return path, state
        except ValueError as err:
            warnings.warn(f"{err}; using the checkpoint before it", RuntimeWarning, stacklevel=2)
    return None


def saved_agent(run: RunDir, role: str) -> dict[str, Any]:
    """Agent ``role``'s state in a run's newest intact checkpoint: its ``params`` (SB3's
    ``get_parameters``), counters, and ``normalize`` (its ``VecNormalize`` statistics) where it
    trained under one.

    Raises:
        ConfigError: the run has no checkpoint that reads back, or none with that agent.
    """
    found = newest_intact_checkpoint(run)
    if found is None:
        raise ConfigError(f"run {str(run.path)!r} has no checkpoint yet")
    path, state = found
    if role not in state["agents"]:
        raise ConfigError(f"{str(path)!r} holds agents {sorted(state['agents'])}, not {role!r}")
    agent: dict[str, Any] = state["agents"][role]
    return agent


def policy_params(run: RunDir, role: str) -> dict[str, Any]:
    """The parameters (SB3's ``get_parameters``) of agent ``role`` in a run's newest intact
    checkpoint (see :func:`saved_agent`)."""
    params: dict[str, Any] = saved_agent(run, role)["params"]
    return params
