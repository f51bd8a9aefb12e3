"""Every method ``advrl train`` knows, in one table of run kinds (settings class, train function,
the policy a run leaves), and how a run's settings are resolved: from a config file or the run
being resumed, then overrides. The CLI, run loading and sweep trials all read the table here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm

from advrl.config import (
    ConfigError,
    PPORunConfig,
    UEDRunConfig,
    check_env_import,
    config_from,
    imitation_run_config,
    load_run_config,
    read_yaml,
)
from advrl.gail.methods import IMITATION
from advrl.pair.methods import TEACHERS
from advrl.runners.imitation import policy_config, train_imitation
from advrl.runners.ppo import build_ppo, train_ppo
from advrl.runners.ued import make_student, train_ued


@dataclass(frozen=True)
class RunKind:
    """What a method's run is.

    Attributes:
        settings: its settings class.
        train: ``train(settings, resume=None) -> summary``.
        family: ``"ppo"``, ``"ued"`` or ``"imitation"``.
        help: one line for ``advrl train --help``.
        policy: the policy a run of these settings leaves, untrained, and its role in the
            checkpoint (``"policy"``; a UED run's ``"protagonist"``), for ``eval``, ``enjoy``
            and ``demos record`` to load its parameters into.
    """

    settings: type
    train: Callable[..., dict[str, Any]]
    family: str
    help: str
    policy: Callable[[Any], tuple[BaseAlgorithm, str]]


def _ppo_policy(config: PPORunConfig) -> tuple[BaseAlgorithm, str]:
    return build_ppo(config), "policy"


def _imitation_policy(config: Any) -> tuple[BaseAlgorithm, str]:
    return build_ppo(policy_config(config)), "policy"


def _protagonist(config: UEDRunConfig) -> tuple[BaseAlgorithm, str]:
    student = make_student(config.env, config.protagonist, "protagonist", config.train.seed)
    return student.model, "protagonist"


def run_kinds() -> dict[str, RunKind]:
    """The table: every method ``advrl train`` runs, in the order it lists them (a teacher
    registered with :func:`~advrl.pair.methods.register_teacher` is in it from then on)."""
    kinds = {
        "ppo": RunKind(
            PPORunConfig,
            train_ppo,
            "ppo",
            "SB3 PPO on one env (robust PPO with an adversarial method)",
            _ppo_policy,
        )
    }
    for name, teacher in TEACHERS.items():
        kinds[name] = RunKind(UEDRunConfig, train_ued, "ued", f"UED: {teacher.help}", _protagonist)
    for name, method in IMITATION.items():
        kinds[name] = RunKind(
            imitation_run_config(name),
            train_imitation,
            "imitation",
            f"imitation: {method.help}",
            _imitation_policy,
        )
    return kinds


def methods() -> list[str]:
    """Every method name, as ``advrl train`` lists them."""
    return list(run_kinds())


def run_kind(method: str) -> RunKind:
    """The run kind of ``method``.

    Raises:
        ConfigError: no such method.
    """
    kinds = run_kinds()
    if method not in kinds:
        raise ConfigError(
            f"unknown method {method!r}; one of {', '.join(kinds)} (a method registered in your "
            f"own module: advrl --import MODULE ...)"
        )
    return kinds[method]


def resolve_settings(
    method: str,
    *,
    config: str | Path | None = None,
    resume: str | Path | None = None,
    overrides: Sequence[str] = (),
    allow_import: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> Any:
    """A run's settings: the config file (or the resumed run's ``config.yaml``, or the defaults
    when neither is given), then ``key.sub=value`` overrides (``--set``), then the typed flags'
    values in the same form: merged once and loaded once.

    Raises:
        ConfigError: a bad file, key or value; a config written for another method.
    """
    cls = run_kind(method).settings
    extra = [] if cls is PPORunConfig else [f"method={method}"]
    if resume is not None:
        path = Path(resume) / "config.yaml"
        if not path.is_file():
            raise ConfigError(f"{str(resume)!r} is not a run folder (no config.yaml)")
        return load_run_config(
            cls, path, [*overrides, *extra], allow_import=allow_import, flags=flags
        )
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
    settings: Any = config_from(cls, data, [*overrides, *extra], flags=flags, source=config)
    source = config if config is not None else "--set" if overrides else "the flags"
    check_env_import(settings.env.id, allow_import, source, "config")
    return settings
