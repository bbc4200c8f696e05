"""Command-line options from configuration dataclasses, so that each default and its help live in one place.

:func:`add_config_arguments` turns the fields of a dataclass into ``--kebab-case`` flags whose help is the field's
docstring (the string literal written under the field) and whose default is the field's default;
:func:`config_from_args` builds the dataclass back from the parsed namespace. ``KEY=VALUE`` options
(``--engine-option license=cc0``) are parsed by :func:`parse_options`. The flags record whether they were written
on the command line (:func:`given`), so that an option given there wins over a preset even where it equals the
default.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import typing
from functools import cache


def parse_options(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings as a dict; values become booleans (true/false), numbers or stay strings."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r} is not KEY=VALUE (e.g. license=cc0,by)")
        out[key] = {"true": True, "false": False}.get(value.lower(), _number(value))
    return out


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


GIVEN = "given_options"
"""Namespace attribute holding the destinations of the options written on the command line (see :func:`given`)."""


def _mark_given(namespace: argparse.Namespace, dest: str) -> None:
    setattr(namespace, GIVEN, getattr(namespace, GIVEN, frozenset()) | {dest})


class StoreGiven(argparse.Action):
    """``store`` (with ``nargs="?"`` and ``const`` as usual) that also records that the option was given."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        _mark_given(namespace, self.dest)


class BooleanGiven(argparse.BooleanOptionalAction):
    """``--flag`` / ``--no-flag`` that also records that the option was given."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        _mark_given(namespace, self.dest)


def given(args: argparse.Namespace) -> frozenset[str]:
    """The destinations of the options written on the command line (flags made by :func:`add_config_arguments`,
    or added with ``action=StoreGiven``); empty for a namespace built otherwise."""
    return getattr(args, GIVEN, frozenset())


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (``name: type = default`` then ``\"\"\"doc\"\"\"``)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        for node, nxt in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _flag_type(tp):
    tp = typing.get_origin(tp) or tp
    return tp if tp in (int, float, str) else None


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, only: tuple[str, ...] | None = None,
                         defaults: dict | None = None, choices: dict | None = None,
                         consts: dict | None = None) -> None:
    """Add a flag per scalar field of dataclass ``cls`` (``only`` these fields, in that order, when given).

    ``defaults`` overrides a field's default for this command; ``choices`` restricts a field's values;
    ``consts`` gives the value of a flag written without one (``--ray`` alone means ``local``).
    Booleans become ``--flag`` / ``--no-flag``. Every flag records whether it was given (:func:`given`).
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    for name in only or by_name:
        f = by_name[name]
        default = (defaults or {}).get(name, f.default)
        flag = "--" + name.replace("_", "-")
        help = (docs.get(name, "") + (f" (default: {default})" if default not in ("", None) else "")).replace("%", "%%")
        if hints[name] is bool:
            parser.add_argument(flag, action=BooleanGiven, default=default, help=help)
            continue
        kind = _flag_type(hints[name])
        if kind is None:
            raise TypeError(f"{cls.__name__}.{name}: only int, float, str and bool fields become flags")
        bare = {"nargs": "?", "const": consts[name]} if name in (consts or {}) else {}
        parser.add_argument(flag, action=StoreGiven, type=kind, default=default, help=help,
                            choices=(choices or {}).get(name), **bare)


def config_values(args: argparse.Namespace, cls: type) -> dict:
    """The fields of ``cls`` present in ``args``, as keyword arguments."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}


def config_from_args(args: argparse.Namespace, cls: type, **extra):
    """``cls(**fields found in args, **extra)``."""
    return cls(**config_values(args, cls) | extra)
