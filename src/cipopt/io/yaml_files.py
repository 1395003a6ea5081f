"""The one reader of every YAML file (instance.yaml, scenarios): safe, duplicate keys refused, size capped."""

from __future__ import annotations

from typing import Any

import yaml

from cipopt.io.messages import yaml_type
from cipopt.io.text import MAX_YAML_BYTES
from cipopt.schema.problems import ProblemLog


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when present
    """Safe loading that refuses duplicate keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key is not a plain value (a list or mapping cannot be a key)",
                key_node.start_mark,
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (also at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


MAX_YAML_VALUES = 200_000
"""The most values a YAML file may stand for once its aliases are expanded (docs/input-errors.md):
a 1 KB "billion laughs" file of nested aliases stands for billions and would take minutes."""


class _YamlTooBig(Exception):
    pass


def _expanded_size(node: yaml.Node, memo: dict[int, int], open_: set[int]) -> int:
    """How many values the node stands for with every alias expanded (shared nodes counted per use)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in open_:
        raise _YamlTooBig("an alias refers to the value that holds it (a recursive structure)")
    open_.add(key)
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, open_) + _expanded_size(v, memo, open_) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo, open_) for v in node.value)
    else:
        size = 1
    open_.discard(key)
    if size > MAX_YAML_VALUES:
        raise _YamlTooBig(f"its aliases expand to more than {MAX_YAML_VALUES:,} values (the cap; "
                          "docs/input-errors.md)")
    memo[key] = size
    return size


def load_yaml(text: str, label: str, log: ProblemLog) -> tuple[bool, Any]:
    """Untrusted YAML, safely: (True, data), or (False, None) with the first error's line logged.

    The one reader of every YAML file (instance.yaml, scenarios): safe types only, duplicate keys
    refused, and the document's size with aliases expanded checked before anything is built.
    """
    if len(text) > MAX_YAML_BYTES:
        log.error(label, f"is above the cap of {MAX_YAML_BYTES / 2**20:g} MiB for a YAML file (docs/input-errors.md)")
        return False, None
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        return True, (loader.construct_document(node) if node is not None else None)
    except _YamlTooBig as exc:
        log.error(label, f"is refused: {exc}")
        return False, None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and mark is not None and context_mark.line != mark.line:
            what += f" ({context} that starts at line {context_mark.line + 1})"
        lines = text.splitlines()
        if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            what += "; YAML indents with spaces, not tabs"
        log.error(label, f"is not valid YAML{where}: {what}")
        return False, None
    except RecursionError:
        log.error(label, "is not valid YAML: it is nested too deeply")
        return False, None
    finally:
        loader.dispose()


def parse_yaml(text: str, label: str, log: ProblemLog) -> dict[str, Any] | None:
    """The mapping of instance.yaml, or None with the problem logged."""
    ok, data = load_yaml(text, label, log)
    if not ok:
        return None
    if data is None:
        log.error(label, "is empty: expected the plan context (format_version, years, targets, ...)")
        return None
    if not isinstance(data, dict):
        log.error(label, f"must be a mapping of keys (format_version, years, ...), not a "
                         f"{yaml_type(data)}")
        return None
    return data
