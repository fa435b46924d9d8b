"""Dataclass settings as the single source of defaults, in the manner of transformers' HfArgumentParser.

A stage's settings are one dataclass whose fields carry ``metadata={"help": ...}``. From it:

* :func:`add_dataclass_arguments` makes the command-line flags (``--max-subtokens`` for
  ``max_subtokens``), with the dataclass default and help text;
* ``--settings JSON`` (added once per command): the keys it names override those flags; the
  workflow's rules pass a stage's validated config block this way, as one quoted argument;
* :func:`settings_from_args` builds the dataclass back from the parsed flags and ``--settings``,
  rejecting keys that none of the command's settings classes has, and wrongly typed values, by
  name.

Supported: ``int``, ``float``, ``str``, ``bool``, optional versions of them, fixed-length tuples
of one of them (``tuple[int, int, int]``: a flag taking three values), variable-length lists of
one of them (``list[str]``: a flag taking one or more values; a JSON list) and mappings from
``str`` to one of them (``dict[str, str]``: a flag taking zero or more ``KEY=VALUE`` items; a JSON
object). That is all a config block holds. A list or mapping default is copied for each instance.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def setting(default: Any, help_text: str, **extra: Any) -> Any:
    """A settings field: its default and the help text the flag and the schema test read.

    A list or dict default becomes a ``default_factory`` (a fresh copy per instance)."""
    metadata = {"help": help_text, **extra}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}


def _default(field: dataclasses.Field) -> Any:
    """A field's default, from ``default`` or ``default_factory`` (MISSING where it has neither)."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _container(cls: type, field: dataclasses.Field) -> tuple[type, type] | None:
    """(list, item type) for a ``list[X]`` field, (dict, value type) for a ``dict[str, X]`` one
    (X a scalar type), None for any other field."""
    hint = typing.get_type_hints(cls)[field.name]
    origin = typing.get_origin(hint)
    if origin not in (list, dict):
        return None
    items = typing.get_args(hint)
    if origin is dict and items[:1] != (str,):
        raise TypeError(f"{cls.__name__}.{field.name}: a settings mapping needs str keys, got {hint!r}")
    if not items or items[-1] not in _SCALARS.values():
        raise TypeError(f"{cls.__name__}.{field.name}: unsupported settings type {hint!r}")
    return origin, items[-1]


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
    for a tuple or list field, its items' type; for a mapping, its values' type."""
    hints = typing.get_type_hints(cls)
    hint = hints[field.name]
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], False
    container = _container(cls, field)
    if container:
        return container[1], False
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


def _key_value(kind: type):  # type: ignore[no-untyped-def]
    """A ``KEY=VALUE`` item of a mapping flag -> (key, value); argparse names the flag on error."""
    convert = _parse_bool if kind is bool else kind

    def parse(text: str):  # type: ignore[no-untyped-def]
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
        return key, convert(value)

    parse.__name__ = f"KEY={kind.__name__}"
    return parse


SETTINGS_HELP = (
    "settings as one JSON object whose keys are the field names of the groups below; the keys it "
    "names override those flags (the workflow's rules pass a stage's validated config block this way)"
)


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One ``--flag`` per field of ``cls`` (minus ``skip``), default and help from the dataclass;
    and, once per parser, ``--settings JSON`` that can set any field of the parser's settings classes."""
    classes = parser.get_default("settings_classes") or ()
    if not classes:
        parser.add_argument("--settings", default=None, metavar="JSON", help=SETTINGS_HELP)
    parser.set_defaults(settings_classes=(*classes, cls))
    group = parser.add_argument_group(f"{cls.__name__} (defaults are the dataclass's)")
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        kind, optional = _field_type(cls, field)
        converter = _optional(kind) if optional else (_parse_bool if kind is bool else kind)
        choices = field.metadata.get("choices")
        length = _tuple_length(cls, field)
        container = _container(cls, field)
        shape: dict[str, Any] = {"nargs": length} if length else {}
        if container and container[0] is list:  # one or more values; JSON: a list of any length
            shape = {"nargs": "+", "metavar": field.metadata.get("metavar", "VALUE")}
        elif container:  # zero or more KEY=VALUE items (none: an empty mapping); JSON: an object
            shape = {"nargs": "*", "metavar": field.metadata.get("metavar", "KEY=VALUE")}
            converter = _key_value(kind)
        elif kind is bool and not optional:
            shape = {"nargs": "?", "const": True}  # a bare --flag means true, as store_true
        default = _default(field)
        group.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            type=converter,
            default=default,
            choices=choices,
            help=f"{field.metadata.get('help', '')} (default: {default})",
            **shape,
        )


def settings_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """``cls`` from the parsed flags, with the keys of ``--settings`` JSON (if given) over them.

    A ``--settings`` key that no settings class of the command has is an error naming the key."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        container = _container(cls, f)
        if _tuple_length(cls, f):
            values[f.name] = tuple(values[f.name])  # argparse gives a list
        elif container and container[0] is list:
            values[f.name] = list(values[f.name])  # a copy: never the parser's default itself
        elif container and not isinstance(values[f.name], dict):  # the flag's (key, value) items
            values[f.name] = _mapping(values[f.name], "--" + f.name.replace("_", "-"))
        elif container:
            values[f.name] = dict(values[f.name])
    text = getattr(args, "settings", None)
    if text is not None:
        given = _json_object(text, "--settings")
        classes = getattr(args, "settings_classes", None) or (cls,)
        known = {f.name for c in classes for f in dataclasses.fields(c)}
        unknown = sorted(set(given) - known)
        if unknown:
            names = "/".join(c.__name__ for c in classes)
            raise ValueError(f"--settings: unknown {names} keys {unknown}")
        own = {f.name for f in dataclasses.fields(cls)}
        values.update(_checked(cls, {k: v for k, v in given.items() if k in own}, "--settings"))
    values.update(overrides)
    return cls(**values)


def _mapping(items: list[tuple[str, Any]], flag: str) -> dict[str, Any]:
    """A mapping flag's (key, value) items as a dict; a key given twice is an error naming it."""
    out: dict[str, Any] = {}
    for key, value in items:
        if key in out:
            raise ValueError(f"{flag}: key {key!r} is given twice")
        out[key] = value
    return out


def _json_object(text: str, where: str) -> dict[str, Any]:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: settings are not valid JSON ({err})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{where}: settings must be a JSON object")
    return values


def _checked(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """``values`` (fields of ``cls``) type-checked: a wrongly typed value names its key."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    checked = dict(values)
    for name, value in values.items():
        kind, optional = _field_type(cls, known[name])
        length = _tuple_length(cls, known[name])
        container = _container(cls, known[name])
        if container:
            checked[name] = _checked_container(name, value, container[0], kind, where)
            continue
        if length:
            if (
                not isinstance(value, list)
                or len(value) != length
                or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
            ):
                raise ValueError(f"{where}: {name} must be a list of {length} {kind.__name__}, got {value!r}")
            checked[name] = tuple(value)
            continue
        if value is None and optional:
            continue
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            checked[name], ok = float(value), True
        if not ok:
            raise ValueError(f"{where}: {name} must be {kind.__name__}, got {value!r}")
        if known[name].metadata.get("choices") and value not in known[name].metadata["choices"]:
            raise ValueError(
                f"{where}: {name} must be one of {known[name].metadata['choices']}, got {value!r}"
            )
    return checked


def _is(value: Any, kind: type) -> bool:
    """``value`` is a JSON value of ``kind`` (an int is a float; a bool is no int)."""
    if isinstance(value, bool) and kind is not bool:
        return False
    return isinstance(value, kind) or (kind is float and isinstance(value, int))


def _checked_container(name: str, value: Any, container: type, kind: type, where: str) -> Any:
    """A list or mapping setting from JSON, type-checked: an error names the key (and the item's
    key or position)."""
    if container is list:
        if not isinstance(value, list):
            raise ValueError(f"{where}: {name} must be a list of {kind.__name__}, got {value!r}")
        for i, item in enumerate(value):
            if not _is(item, kind):
                raise ValueError(f"{where}: {name}[{i}] must be {kind.__name__}, got {item!r}")
        return [kind(item) for item in value]
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {name} must be an object of str to {kind.__name__}, got {value!r}")
    for key, item in value.items():
        if not _is(item, kind):
            raise ValueError(f"{where}: {name}[{key!r}] must be {kind.__name__}, got {item!r}")
    return {key: kind(item) for key, item in value.items()}


def defaults(cls: type) -> dict[str, Any]:
    """Field name -> default (for the schema-agreement test); a list or dict default included."""
    return {
        f.name: _default(f)
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }
