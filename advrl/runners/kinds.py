"""Every method ``advrl train`` knows, its run kind (settings class, train function), and how a
run's settings are resolved: from a config file or the run being resumed, then overrides. The CLI
and sweep trials resolve settings here, the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advrl.config import (
    ConfigError,
    PPORunConfig,
    UEDRunConfig,
    check_env_import,
    config_from,
    load_run_config,
    read_yaml,
)
from advrl.pair.methods import TEACHERS
from advrl.runners.imitation import IMITATION, train_imitation
from advrl.runners.ppo import train_ppo
from advrl.runners.ued import train_ued


@dataclass(frozen=True)
class RunKind:
    """What a method's run is.

    Attributes:
        settings: its settings class.
        train: ``train(settings, resume=None) -> summary``.
        family: ``"ppo"``, ``"ued"`` or ``"imitation"``.
    """

    settings: type
    train: Callable[..., dict[str, Any]]
    family: str


def methods() -> list[str]:
    """Every method name, as ``advrl train`` lists them."""
    return ["ppo", *TEACHERS, *IMITATION]


def run_kind(method: str) -> RunKind:
    """The run kind of ``method``.

    Raises:
        ConfigError: no such method.
    """
    if method in TEACHERS:
        return RunKind(UEDRunConfig, train_ued, "ued")
    if method in IMITATION:
        return RunKind(IMITATION[method].settings, train_imitation, "imitation")
    if method == "ppo":
        return RunKind(PPORunConfig, train_ppo, "ppo")
    raise ConfigError(f"unknown method {method!r}; one of {', '.join(methods())}")


def resolve_settings(
    method: str,
    *,
    config: str | Path | None = None,
    resume: str | Path | None = None,
    overrides: Sequence[str] = (),
    allow_import: Sequence[str] = (),
) -> Any:
    """A run's settings: the config file (or the resumed run's ``config.yaml``, or the defaults
    when neither is given), then ``key.sub=value`` overrides.

    Raises:
        ConfigError: a bad file, key or value; a config written for another method.
    """
    cls = run_kind(method).settings
    extra = [] if cls is PPORunConfig else [f"method={method}"]
    if resume is not None:
        path = Path(resume) / "config.yaml"
        if not path.is_file():
            raise ConfigError(f"{str(resume)!r} is not a run folder (no config.yaml)")
        return load_run_config(cls, path, [*overrides, *extra], allow_import=allow_import)
    data = read_yaml(config) if config is not None else {}
    named = data.get("method")
    if named is not None and not isinstance(named, str):
        raise ConfigError(
            f"{config}: method must be one method name, e.g. method: {method}; got {named!r}"
        )
    if cls is not PPORunConfig and named is not None and named != method:
        raise ConfigError(
            f"{config} is a config for {named!r}; run `advrl train {named}` with it, or "
            f"change its `method:` to {method!r}"
        )
    settings: Any = config_from(cls, data, [*overrides, *extra], source=config)
    source = config if config is not None else "--set"
    check_env_import(settings.env.id, allow_import, source, "config")
    return settings
