"""Settings to and from their serialized form: YAML (strict, bounded) into a settings dataclass
and back, ``key.sub=value`` overrides, and the one merge of a file, ``--set`` and the typed flags
(:func:`config_from`). Unknown keys and bad values stop with one :class:`ConfigError` that names
the key. Nothing here knows a run kind: tagged sections carry their variants in their field's
metadata."""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from advrl.checks import ConfigError
from advrl.files import atomic_write_bytes
from advrl.yamlio import load_yaml

C = TypeVar("C")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


_PLAIN: dict[Any, tuple[str, Callable[[Any], bool]]] = {
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}
"""The settings' plain types a value is taken as it is: what the error calls them, and the test."""


def _convert(value: Any, tp: Any, where: str, base: Any = None) -> Any:
    """Check ``value`` against the annotation ``tp``; return it converted (numbers, lists,
    dataclasses: a mapping updates ``base``, the section's default)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if isinstance(origin, type) and dataclasses.is_dataclass(origin):
        tp = origin  # a generic section (its tagged field takes its class from its tag)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            keys = ", ".join(f.name for f in dataclasses.fields(tp)) or "none"
            raise ConfigError(f"{where} must be a mapping (its keys: {keys}), got {value!r}")
        return from_dict(tp, value, where, base=base if isinstance(base, tp) else None)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} must be {_type_name(tp)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        item = args[0] if args else Any
        items = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    if tp in _PLAIN:
        what, fits = _PLAIN[tp]
        if not fits(value):
            raise ConfigError(f"{where} must be {what}, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{where} must be a number, got {value!r}") from None
        if not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    raise TypeError(f"config field type {tp!r} is not supported")  # an internal schema bug


def _construct(cls: type[C], base: C | None, kwargs: dict[str, Any], where: str) -> C:
    """``cls(**kwargs)`` (or ``base`` updated), its ValueError named by section."""
    try:
        return dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)  # type: ignore[type-var]
    except ConfigError:
        raise
    except ValueError as err:
        message = str(err)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        first = re.match(r"\w+", message)
        if where and first and first.group(0) in names:
            raise ConfigError(f"{where}.{message}") from None
        raise ConfigError(f"{where}: {message}" if where else message) from None


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def from_dict(cls: type[C], data: dict[str, Any], where: str = "", base: C | None = None) -> C:
    """Build the dataclass ``cls`` from ``data``; missing keys keep ``base``'s values (default:
    ``cls``'s defaults), unknown keys fail, and a tagged section takes the class its tag names."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    prefix = f" in {where}" if where else ""
    if unknown:
        renamed = getattr(cls, "renamed_keys", {})
        if unknown[0] in renamed:
            raise ConfigError(
                f"key {unknown[0]!r}{prefix} is now {renamed[unknown[0]]!r}: move its settings "
                f"there (the settings of the method named by `method:`)"
            )
        sections = getattr(cls, "method_sections", None)
        owner = sections().get(unknown[0]) if sections is not None else None
        if owner is not None:
            raise ConfigError(
                f"key {unknown[0]!r} holds the settings of `advrl train {owner}`; a "
                f"{data.get('method', fields['method'].default)} config has none: remove it"
            )
        valid = f"valid keys: {', '.join(fields)}" if fields else "it takes none"
        raise ConfigError(f"unknown key {unknown[0]!r}{prefix}; {valid}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        default = getattr(base, name) if base is not None else _field_default(f)
        if "tagged_by" in f.metadata:
            tag, variants = f.metadata["tagged_by"]
            tag_value = kwargs.get(tag, getattr(base, tag) if base is not None else None)
            if tag_value is None:
                tag_value = fields[tag].default
            try:
                variant = variants(tag_value)
            except ValueError as err:  # the tag names no variant
                raise ConfigError(f"{where}.{err}" if where else str(err)) from None
            if type(default) is not variant:  # a subclass is another method's settings
                default = variant()
                kwargs[name] = default
            if name in data:
                try:
                    kwargs[name] = _convert(data[name] or {}, variant, key, default)
                except ConfigError as err:
                    if not str(err).startswith("unknown key"):
                        raise
                    raise ConfigError(f"{err} (the settings of {tag}: {tag_value})") from None
        elif name in data:
            kwargs[name] = _convert(data[name], hints[name], key, default)
    return _construct(cls, base, kwargs, where)


def to_dict(config: Any) -> dict[str, Any]:
    """A plain dict (YAML-safe: tuples become lists) of a config dataclass."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(config))


def flat_dict(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings (:func:`to_dict`, a ``config.yaml``) as ``section.key`` -> value."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flat_dict(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file holding a mapping.

    Raises:
        ConfigError: the file is missing, not YAML or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    data = load_yaml(text, str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, got {type(data).__name__}")
    _check_size(data, str(path))
    return data


MAX_CONFIG_VALUES = 100_000
"""The most values a config may hold, counted with YAML aliases expanded (an alias "bomb" of a
few lines expands to billions)."""


def _check_size(data: Any, where: str) -> None:
    """Raise if ``data`` holds more than :data:`MAX_CONFIG_VALUES` values, counting shared
    (aliased) parts each time they appear, and stop counting as soon as it does."""
    count, stack = 0, [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{where} holds more than {MAX_CONFIG_VALUES:,} values once its YAML aliases are "
                "expanded; write the settings out"
            )
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def load_config(cls: type[C], path: str | Path | None, overrides: list[str] | None = None) -> C:
    """Read a YAML config file into ``cls``, applying ``key.sub=value`` overrides (values in YAML).

    ``path`` None starts from ``cls``'s defaults (the overrides still apply).

    Raises:
        ConfigError: the file is missing, not YAML, not a mapping, or has a bad key or value.
    """
    return config_from(cls, read_yaml(path) if path is not None else {}, overrides, source=path)


def config_from(
    cls: type[C],
    data: dict[str, Any],
    overrides: Sequence[str] | None = None,
    *,
    flags: Sequence[str] = (),
    source: str | Path | None = None,
) -> C:
    """``cls`` from a config's mapping (as :func:`read_yaml` gives it), ``key.sub=value``
    overrides (``--set``), then the typed flags' values in the same form: one merge, one pass
    through the loader. An error names where it is: the flags or ``--set`` when what comes
    before them builds, else ``source`` (the file) when given."""
    merged = merge_layers(cls, data, [*(overrides or []), *flags])
    _check_size(merged, "the overrides")
    try:
        return from_dict(cls, merged)
    except ConfigError as err:
        raise ConfigError(_blame(cls, data, overrides or [], flags, source, err)) from None


def _blame(
    cls: type,
    data: dict[str, Any],
    overrides: Sequence[str],
    flags: Sequence[str],
    source: str | Path | None,
    err: ConfigError,
) -> str:
    """``err`` placed in the first layer (file, ``--set``, flags) with which the settings fail
    with this error (only an error's message pays for these extra loads)."""
    where = str(source) if source is not None else None

    def fails_so(items: list[str]) -> bool:
        """Whether the file with ``items`` fails with ``err`` itself."""
        try:
            from_dict(cls, merge_layers(cls, data, items))
        except ConfigError as other:
            return str(other) == str(err)
        return False

    in_file = f"{where}: {err}" if where is not None else str(err)
    if fails_so([]):
        return in_file
    applied: list[str] = []
    for items, name in [(list(overrides), "--set"), (list(flags), "the flags")]:
        applied += items
        if items and fails_so(applied):
            return f"{name}: {err}"
    return in_file


TaggedSection = tuple[tuple[str, ...], str, Callable[[Any], type]]
"""A tagged section: its path, the name of its tag (a field beside it), and the function from the
tag's value to the section's class."""


def tagged_sections(cls: type, prefix: tuple[str, ...] = ()) -> list[TaggedSection]:
    """Every tagged section of the settings class ``cls``, e.g. ``(("adversarial", "term"),
    "method", term_settings)``."""
    out: list[TaggedSection] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "tagged_by" in f.metadata:
            tag, variants = f.metadata["tagged_by"]
            out.append(((*prefix, f.name), tag, variants))
            continue
        tp = typing.get_origin(hints[f.name]) or hints[f.name]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out += tagged_sections(tp, (*prefix, f.name))
    return out


def merge_layers(cls: type, data: dict[str, Any], items: Sequence[str]) -> dict[str, Any]:
    """``data`` (a file's mapping) with the ``key.sub=value`` items applied: the one merge of a
    run's settings.

    A tagged section belongs to the method its tag names beside it. Where the file names one
    (``adversarial.method: pgd_at``) and the items another, the file's section keeps only the
    keys the other method's settings also have (``weight`` from ``pgd_at`` to ``fast_bat``; none
    of them to ``sa``), and the items' own keys of the section apply on top, in any order.
    """
    merged = copy.deepcopy(data)
    for item in items:
        apply_override(merged, item)
    changed: list[tuple[tuple[str, ...], set[str]]] = []
    for path, tag, variants in tagged_sections(cls):
        before, after = _node(data, path[:-1]), _node(merged, path[:-1])
        if before is None or after is None or path[-1] not in before or tag not in before:
            continue
        if after.get(tag) == before[tag]:
            continue
        try:
            kept = {f.name for f in dataclasses.fields(variants(after.get(tag)))}
        except (ValueError, TypeError):
            kept = set()  # no such method: the loader names it
        changed.append((path, kept))
    if not changed:
        return merged
    base = copy.deepcopy(data)
    for path, kept in changed:
        parent = _node(base, path[:-1])
        assert parent is not None
        section = parent[path[-1]]
        if isinstance(section, dict):
            parent[path[-1]] = {k: v for k, v in section.items() if k in kept}
    for item in items:
        apply_override(base, item)
    return base


def _node(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    """The mapping at ``path`` in nested ``data`` (None: not a mapping there)."""
    node: Any = data
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def apply_override(data: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in a nested dict (the value parsed as YAML)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like key.subkey=value")
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = load_yaml(raw, f"override {item!r}")


def save_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically, UTF-8)."""
    text = yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True)
    atomic_write_bytes(Path(path), text.encode("utf-8"))
