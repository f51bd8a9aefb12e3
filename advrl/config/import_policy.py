"""The one import policy: an env id ``module:Env`` makes Gymnasium import ``module``, so advrl
refuses it wherever it comes from unless the user named the module."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from advrl.checks import ConfigError


def check_env_import(
    env_id: str, allow_import: Sequence[str], source: str | Path, what: str = "file"
) -> None:
    """Refuse an env id of the form ``module:Env`` (Gymnasium would import ``module``), wherever
    it came from (a config file, a run folder, ``--set``, a flag, a sweep, a demos file), unless
    the user named that module with ``--allow-import``: the one import policy of advrl.

    Raises:
        ConfigError: naming the module and the ``--allow-import`` that accepts it.
    """
    module = env_id.split(":")[0] if ":" in env_id else None
    if module is not None and module not in allow_import:
        raise ConfigError(
            f"{source} names env {env_id!r}, which imports the Python module {module!r}; advrl "
            f"imports code only when you name it: if you trust this {what}, pass --allow-import "
            f"{module}"
        )
