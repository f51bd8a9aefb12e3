"""A run folder's ``config.yaml``, written by any advrl version, into today's settings: older
layouts moved into today's sections, and a resumed run kept in its place."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from advrl.agents.robust.settings import upgrade_flat
from advrl.checks import ConfigError
from advrl.config.codec import from_dict, merge_layers, read_yaml
from advrl.config.import_policy import check_env_import
from advrl.yamlio import load_yaml

C = TypeVar("C")


def upgrade_run_config(data: dict[str, Any]) -> dict[str, Any]:
    """A run folder's config as written by an earlier advrl, in today's layout.

    UED runs kept each method's settings in its own section (``paired``, ``plr`` and ``accel``,
    all written, fully resolved, for every method); today a run has one ``teacher:`` section for
    its method. Imitation runs wrote both ``discriminator:`` and ``asaf:``; today a run has its own
    method's. PPO runs kept every adversarial-training method's settings flat in
    ``adversarial:``; today the method's own are in ``adversarial.term``. A config file a user
    writes gets the one-line error instead (see ``renamed_keys`` and ``method_sections``).
    """
    if "discriminator" in data and "asaf" in data:
        other = "asaf" if data.get("method", "gail") == "gail" else "discriminator"
        return {k: v for k, v in data.items() if k != other}
    data = _upgrade_adversarial(data)
    legacy = [k for k in ("paired", "plr", "accel") if k in data]
    if not legacy or "teacher" in data:
        return data
    old = {k: data[k] if isinstance(data[k], dict) else {} for k in legacy}
    data = {k: v for k, v in data.items() if k not in legacy}
    method = data.get("method", "paired")
    if method == "accel":  # ACCEL read PLR's section (but not `robust`) and its own
        plr = {k: v for k, v in old.get("plr", {}).items() if k != "robust"}
        data["teacher"] = {**plr, **old.get("accel", {})}
    else:
        data["teacher"] = old.get(method, {})
    return data


def _upgrade_adversarial(data: dict[str, Any]) -> dict[str, Any]:
    """``adversarial:`` with the flat method settings of earlier versions, in today's layout
    (:func:`~advrl.agents.robust.settings.upgrade_flat`)."""
    section = data.get("adversarial")
    if not isinstance(section, dict):
        return data
    return {**data, "adversarial": upgrade_flat(section)}


RUN_PLACE = ("name", "out_dir")
"""The settings that say where a run folder is (fixed once it exists)."""


def _moves(raw: dict[str, Any], item: str) -> bool:
    """Whether ``key=value`` changes where a run is (its ``name`` or ``out_dir`` to another)."""
    key, _, value = item.partition("=")
    key = key.strip()
    if key not in RUN_PLACE:
        return False
    new, old = load_yaml(value, f"override {item!r}"), raw.get(key)
    if key == "out_dir" and new is not None and old is not None:
        return Path(str(new)).resolve() != Path(str(old)).resolve()
    return new != old


def load_run_config(
    cls: type[C],
    path: str | Path,
    overrides: Sequence[str] | None = None,
    allow_import: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> C:
    """A run folder's ``config.yaml`` (any advrl version's layout) into ``cls``, with overrides
    (``--set``) and the typed flags' values (``key=value`` as well), in one pass of the loader.

    A run folder may come from anyone: an env id of the form ``module:Env`` (which makes
    Gymnasium import ``module``) is refused unless the user names that module in
    ``allow_import`` (:func:`check_env_import`, whatever set the id).

    Raises:
        ConfigError: a bad file or value, an override of the run's name, folder or method, or an
            env id that would import a module not named.
    """
    raw = read_yaml(path)
    if not raw:
        raise ConfigError(
            f"{path} is empty: a run folder's config.yaml holds the settings it ran with (restore "
            "it, or start a new run)"
        )
    for items, name in ((overrides or [], "--set "), (flags, "the flag ")):
        moved = [item for item in items if _moves(raw, item)]
        if moved:
            raise ConfigError(
                f"{name}{moved[0]}: a resumed run stays in its folder, so its name and out_dir "
                "cannot change (copy the folder to continue it elsewhere)"
            )
    ran = raw.get("method")
    for item in [*(overrides or []), *flags]:
        key, _, value = item.partition("=")
        if isinstance(ran, str) and key.strip() == "method" and load_yaml(value, item) != ran:
            folder = Path(path).parent
            raise ConfigError(
                f"{str(folder)!r} is a run of {ran}: resume it with `advrl train {ran} --resume "
                f"{folder}` (a run goes on with the method it started with)"
            )
    data = merge_layers(cls, upgrade_run_config(raw), [*(overrides or []), *flags])
    try:
        config = from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    check_env_import(getattr(getattr(config, "env", None), "id", ""), allow_import, path, "run")
    return config
