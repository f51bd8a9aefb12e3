"""YAML read strictly: every mapping's keys unique, nesting bounded, aliases bounded.

PyYAML's ``safe_load`` keeps the last of two equal keys without a word (a config's second
``ppo:`` section silently replaces the first, whose other settings fall back to defaults) and
recurses once per nesting level (a file nested some thousands deep overflows Python's stack).
:func:`load_yaml` refuses both with one line that says where.
"""

from __future__ import annotations

from typing import Any

import yaml

from advrl.checks import ConfigError

MAX_DEPTH = 100
"""The deepest nesting of mappings and lists a settings text may have."""


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys and nesting deeper than :data:`MAX_DEPTH`."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(
                    f"nested more than {MAX_DEPTH} levels deep (line {mark.line + 1}); settings "
                    "are a few levels deep"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise ConfigError(
                        f"the key {key!r} appears twice (lines {seen[key]} and {line}); keep one, "
                        "with all its settings"
                    )
                seen[key] = line
            except TypeError:  # an unhashable key: the base class says so
                break
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, where: str) -> Any:
    """The value of a YAML text (None for an empty one).

    Raises:
        ConfigError: not YAML, a key twice in one mapping, or nesting too deep; the message starts
            with ``where`` (a file name, or the option the text came from).
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{where} is not valid YAML: {_first_line(err)}") from None


def _first_line(err: yaml.YAMLError) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return "; ".join(lines[:3]) if lines else type(err).__name__
