"""Dataclass settings as the single source of defaults, in the manner of transformers' HfArgumentParser.

A stage's settings are one dataclass whose fields carry ``metadata={"help": ...}``. From it:

* :func:`add_dataclass_arguments` makes the command-line flags (``--max-subtokens`` for
  ``max_subtokens``), with the dataclass default and help text;
* :func:`settings_from_args` builds the dataclass back from parsed arguments;
* :func:`settings_from_json` reads a stage's validated config block passed as one JSON string
  (how the rules call the stages), rejecting keys the dataclass lacks by name.

Only ``int``, ``float``, ``str``, ``bool``, optional versions of them and fixed-length tuples of
one of them (``tuple[int, int, int]``: a flag taking three values) are supported: that is all a
config block holds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def setting(default: Any, help_text: str, **extra: Any) -> Any:
    """A settings field: its default and the help text the flag and the schema test read."""
    return dataclasses.field(default=default, metadata={"help": help_text, **extra})


_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}


def _tuple_length(cls: type, field: dataclasses.Field) -> int | None:
    """n for a ``tuple[X, ..., X]`` field of n items of one scalar type, else None."""
    hint = typing.get_type_hints(cls)[field.name]
    if typing.get_origin(hint) is not tuple:
        return None
    items = typing.get_args(hint)
    if not items or Ellipsis in items or len(set(items)) != 1 or items[0] not in _SCALARS.values():
        raise TypeError(f"{cls.__name__}.{field.name}: unsupported settings type {hint!r}")
    return len(items)


def _field_type(cls: type, field: dataclasses.Field) -> tuple[type, bool]:
    """(scalar type, optional?) of a field, from its annotation (string annotations included);
    for a tuple field, its items' type."""
    hints = typing.get_type_hints(cls)
    hint = hints[field.name]
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], False
    args = typing.get_args(hint)
    optional = type(None) in args
    if args:
        hint = next(a for a in args if a is not type(None))
    if hint not in _SCALARS.values():
        raise TypeError(f"{cls.__name__}.{field.name}: unsupported settings type {hint!r}")
    return hint, optional


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _optional(kind: type):  # type: ignore[no-untyped-def]
    def parse(text: str):  # type: ignore[no-untyped-def]
        return (
            None
            if text.lower() in ("none", "null", "")
            else (_parse_bool(text) if kind is bool else kind(text))
        )

    parse.__name__ = kind.__name__
    return parse


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One ``--flag`` per field of ``cls`` (minus ``skip``), default and help from the dataclass."""
    group = parser.add_argument_group(f"{cls.__name__} (defaults are the dataclass's)")
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        kind, optional = _field_type(cls, field)
        converter = _optional(kind) if optional else (_parse_bool if kind is bool else kind)
        choices = field.metadata.get("choices")
        length = _tuple_length(cls, field)
        group.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            type=converter,
            default=field.default,
            choices=choices,
            help=f"{field.metadata.get('help', '')} (default: {field.default})",
            **({"nargs": length} if length else {}),
        )


def settings_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    for f in dataclasses.fields(cls):
        if f.name in values and _tuple_length(cls, f):
            values[f.name] = tuple(values[f.name])  # argparse gives a list
    values.update(overrides)
    return cls(**values)


def settings_from_json(cls: type[T], text: str, where: str, **overrides: Any) -> T:
    """``cls`` from a JSON object of settings; an unknown key or a wrongly typed value names itself."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: settings are not valid JSON ({err})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{where}: settings must be a JSON object")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown {cls.__name__} keys {unknown}")
    for name, value in values.items():
        kind, optional = _field_type(cls, known[name])
        length = _tuple_length(cls, known[name])
        if length:
            if not isinstance(value, list) or len(value) != length:
                raise ValueError(f"{where}: {name} must be a list of {length} {kind.__name__}, got {value!r}")
            if not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
                raise ValueError(f"{where}: {name} must be a list of {length} {kind.__name__}, got {value!r}")
            values[name] = tuple(value)
            continue
        if value is None and optional:
            continue
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            values[name], ok = float(value), True
        if not ok:
            raise ValueError(f"{where}: {name} must be {kind.__name__}, got {value!r}")
    values.update(overrides)
    return cls(**values)


def defaults(cls: type) -> dict[str, Any]:
    """Field name -> default (for the schema-agreement test)."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
