"""Reading a YAML document that is either a file or text, with errors that give the line.

Used by every declarative spec (validation rules, features, training). Parsing is
safe (``SafeLoader``) and strict: a key repeated in one mapping is refused instead
of the later value silently winning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from modelyard.exceptions import NotFoundError, ValidationError

__all__ = ["load_yaml_source"]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a repeated key instead of keeping the last one silently."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool) and key in seen:
            mark = key_node.start_mark
            raise ValidationError(
                f"YAML repeats the key {key!r:.80} at line {mark.line + 1}; "
                "each key may appear once",
                line=mark.line + 1,
            )
        if isinstance(key, str | int | float | bool):
            seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_source(source: str | Path, what: str) -> Any:
    """Parse ``source``: a Path, a one-line string ending in ``.yaml``/``.yml`` (a path), or YAML text.

    Args:
        source: The file or the text.
        what: How to name the document in errors (``"rules"``, ``"features spec"``).

    Raises:
        NotFoundError: ``source`` names a file that does not exist.
        ValidationError: The file cannot be read, or the YAML does not parse (the
            message gives the line and column), repeats a key, or nests too deeply.
    """
    text = _read(source, what)
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        raise ValidationError(
            f"{what} YAML does not parse at {where}: {exc.problem or exc}",
            line=mark.line + 1 if mark else None,
        ) from exc
    except yaml.YAMLError as exc:
        raise ValidationError(f"{what} YAML does not parse: {exc}") from exc
    except RecursionError as exc:  # PyYAML recurses once per nesting level
        raise ValidationError(f"{what} YAML is nested too deeply") from exc


def _read(source: str | Path, what: str) -> str:
    if (
        isinstance(source, str)
        and "\n" not in source
        and source.strip().endswith((".yaml", ".yml"))
    ):
        source = Path(source.strip())
    if isinstance(source, Path):
        try:
            return source.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"{what} file {str(source)!r} does not exist", path=str(source)
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read {what} {str(source)!r}: {exc}") from exc
    if not isinstance(source, str):
        raise ValidationError(
            f"{what} source must be YAML text or a Path, not {type(source).__name__}"
        )
    return source
