"""A run folder's policy and settings, for every command that reads runs (``eval``, ``demos
record``, robustness curves, fine-tuning)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm

from advrl.agents.state import set_normalization_state
from advrl.config import (
    DEFAULT_EVAL_LEVELS,
    ConfigError,
    RunConfig,
    UEDRunConfig,
    load_run_config,
    read_yaml,
)
from advrl.episodes import EVAL_SEED_OFFSET
from advrl.runners.checkpoints import saved_agent
from advrl.runners.kinds import run_kind
from advrl.runs import RunDir


@dataclass(frozen=True)
class LoadedRun:
    """A run's policy (from its latest checkpoint) and settings.

    Attributes:
        path: the run folder.
        model: the policy's SB3 model: a PPO, GAIL or ASAF run's policy, a UED run's protagonist.
        config: the run's settings.
    """

    path: Path
    model: BaseAlgorithm
    config: RunConfig

    @property
    def eval_seed(self) -> int:
        """The seed of the run's evaluation episodes."""
        return int(self.config.train.seed) + EVAL_SEED_OFFSET

    @property
    def eval_levels(self) -> list[str]:
        """The held-out mazes the run evaluates on (UED: its own list)."""
        if isinstance(self.config, UEDRunConfig):
            return list(self.config.train.eval_levels)
        return list(DEFAULT_EVAL_LEVELS)

    @property
    def eval_episodes(self) -> int:
        """Episodes per held-out maze (UED: the run's; else 10)."""
        if isinstance(self.config, UEDRunConfig):
            return int(self.config.train.eval_episodes)
        return 10


def load_run(run: str | Path, allow_import: Sequence[str] = ()) -> LoadedRun:
    """A run's policy from its latest checkpoint, with the run's settings.

    Args:
        run: the run folder.
        allow_import: modules its env id may import (see :func:`~advrl.config.load_run_config`).

    Raises:
        ConfigError: not a run folder, no checkpoint yet, or an env id naming a module not allowed.
    """
    path = Path(run)
    config_file = path / "config.yaml"
    if not config_file.is_file():
        raise ConfigError(f"{str(path)!r} is not a run folder (no config.yaml)")
    run_dir = RunDir.open(path)
    method = read_yaml(config_file).get("method")
    if method is not None and not isinstance(method, str):
        raise ConfigError(f"{config_file}: method must be a name such as dr, got {method!r}")
    kind = run_kind(method or "ppo")
    config: Any = load_run_config(kind.settings, config_file, allow_import=allow_import)
    model, role = kind.policy(config)
    saved = saved_agent(run_dir, role)
    params = saved["params"]
    try:
        model.set_parameters(params, exact_match=True, device=model.device)
    except (RuntimeError, ValueError) as err:  # torch's size mismatch, SB3's missing keys
        first = str(err).strip().splitlines()[-1].strip()
        raise ConfigError(
            f"{path}: the checkpoint's networks do not fit the settings of its config.yaml "
            f"({first}); was config.yaml edited after training?"
        ) from None
    normalize = model.get_vec_normalize_env()
    if normalize is not None:  # the statistics it trained with, frozen
        if "normalize" in saved:
            try:
                set_normalization_state(normalize, saved["normalize"])
            except (ValueError, KeyError) as err:
                raise ConfigError(
                    f"{path}: the checkpoint's normalization statistics do not fit the env of "
                    f"its config.yaml ({err}); was env.normalize edited after training?"
                ) from None
        normalize.training = False
    return LoadedRun(path, model, config)
