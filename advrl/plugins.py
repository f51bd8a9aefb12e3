"""A user's own modules, imported because the user named them: ``advrl --import MODULE``.

A module that registers a UED teacher (:func:`~advrl.pair.methods.register_teacher`), a
Gymnasium env, or any other advrl table entry becomes usable from every command once it is
imported. This is the only way advrl imports code a user names, besides an env id
``module:Env`` allowed with ``--allow-import``; a module named on the command line may also be
named by env ids (the user vouched for it), and a sweep imports it in each of its trials.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from advrl.checks import ConfigError


def split_imports(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``--import MODULE`` (or ``--import=MODULE``), repeatable, from the options before the
    command; returns the modules and the rest of ``argv``.

    Raises:
        ConfigError: ``--import`` without a module.
    """
    modules: list[str] = []
    rest = list(argv)
    i = 0
    while i < len(rest) and rest[i].startswith("-"):
        if rest[i] == "--import":
            if i + 1 >= len(rest) or rest[i + 1].startswith("-") or not rest[i + 1]:
                raise ConfigError("--import needs a module: --import my_module (or a .py file)")
            modules.append(rest[i + 1])
            del rest[i : i + 2]
        elif rest[i].startswith("--import="):
            name = rest[i].partition("=")[2]
            if not name:
                raise ConfigError("--import needs a module: --import my_module (or a .py file)")
            modules.append(name)
            del rest[i]
        else:
            i += 1
    return modules, rest


def import_module(spec: str) -> str:
    """Import ``spec``: a module on the Python path (``my_pkg.teachers``) or a ``.py`` file;
    returns the module's name (the name env ids give it). Importing twice is a no-op.

    Raises:
        ConfigError: no such module or file. (An error inside the module is the module's own,
            and keeps its traceback.)
    """
    if spec.endswith(".py"):
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(f"--import {spec}: no such file")
        name = path.stem
        if not name.isidentifier():
            raise ConfigError(f"--import {spec}: {name!r} is not a module name; rename the file")
        loaded = sys.modules.get(name)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == (
            path.resolve()
        ):
            return name
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"--import {spec}: not a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return name
    try:
        importlib.import_module(spec)
    except ModuleNotFoundError as err:
        if err.name is None or not (spec == err.name or spec.startswith(err.name + ".")):
            raise  # a module it imports is missing: the module's own error
        raise ConfigError(
            f"--import {spec}: no module named {err.name!r} on the Python path; give the "
            "module's file instead (--import path/to/module.py), or install it"
        ) from None
    return spec


def import_modules(specs: Sequence[str]) -> list[str]:
    """:func:`import_module` of each; returns their module names."""
    return [import_module(spec) for spec in specs]
