"""Typed settings: every service declares each of its settings once.

A service's settings are a frozen dataclass deriving from :class:`Settings`; each
field made with :func:`setting` (or :func:`switch`) names its type, default,
parser, help, choices and whether it is a secret. From that one declaration come

- the flag ``--field-name`` (``flag=`` overrides the spelling, ``aliases=`` keeps
  older spellings accepted), with the env twin and the default in its help;
- the env twin ``STREAMWATCH_<SERVICE>_<FLAG>``: the prefix is the service's, so
  ``--port`` of the alerting service and of the exporter no longer share one
  variable. A value meant to be the same everywhere, like the ingest token,
  names its one variable with ``env=``;
- the older flat twin ``STREAMWATCH_<FLAG>``, still read for one release with a
  one-line deprecation warning on stderr.

A setting made with ``repeated=True`` is a tuple: its flag may be given many times
and its env twin holds one item per line (an item may itself contain ``,`` or ``;``,
as a SASL setting does). The environment's items come first and the flags' after
them, so a flag adds to what a deployment sets and, where items are later-wins
(``KEY=VALUE`` options), overrides it.

Precedence: the flag, then the service's variable, then the flat one, then the
default. Values come from the environment when the settings are built
(:meth:`Settings.from_args`, or :meth:`Settings.from_env` where there is no
command line, as under gunicorn), not when the parser is built, so ``--help``
works whatever the environment holds. ``validate`` is the hook for checks
across settings; its :class:`SettingsError` names the flag and the variable.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

ENV_ROOT = "STREAMWATCH_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_KEY = "streamwatch.setting"
#: shortest bearer token a service accepts: shorter ones are guessable
MIN_TOKEN_LENGTH = 16

T = TypeVar("T")
S = TypeVar("S", bound="Settings")


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe; the message names flag and env var."""


class _Unset:
    """Marks a flag left off the command line (``None`` can be a real value)."""

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()


@dataclasses.dataclass(frozen=True)
class Spec:
    """How one setting is spelled, parsed and explained."""

    help: str
    parser: Callable[[str], Any] | None  # None: a switch (on/off)
    choices: tuple[str, ...] | None = None
    secret: bool = False
    metavar: str | None = None
    group: str | None = None
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    env: str | None = None
    repeated: bool = False  # a tuple: the flag may recur, the env twin has one item a line


def setting(default: T, *, help: str, parser: Callable[[str], Any] = str,
            choices: tuple[str, ...] | None = None, secret: bool = False,
            metavar: str | None = None, group: str | None = None, flag: str | None = None,
            aliases: tuple[str, ...] = (), env: str | None = None,
            repeated: bool = False) -> T:
    """A dataclass field that is also a flag with an env twin (see the module doc).

    With ``repeated=True`` the default must be a tuple and ``parser`` parses one item.
    """
    if repeated and not isinstance(default, tuple):
        raise TypeError("a repeated setting's default must be a tuple")
    spec = Spec(help=help, parser=parser, choices=choices, secret=secret, metavar=metavar,
                group=group, flag=flag, aliases=aliases, env=env, repeated=repeated)
    # a secret stays out of repr(), so logging a settings object cannot leak it
    return dataclasses.field(default=default, metadata={_KEY: spec}, repr=not secret)


def switch(*, help: str, group: str | None = None, flag: str | None = None,
           env: str | None = None) -> bool:
    """An on/off setting, off by default; its env twin takes 1/0, true/false, yes/no, on/off."""
    spec = Spec(help=help, parser=None, group=group, flag=flag, env=env)
    on: bool = dataclasses.field(default=False, metadata={_KEY: spec})
    return on


def flat_env_name(flag: str) -> str:
    """``--http-port`` -> ``STREAMWATCH_HTTP_PORT``: the twin before per-service prefixes."""
    return ENV_ROOT + flag.lstrip("-").replace("-", "_").upper()


def _shown_default(value: Any, spec: Spec) -> str:
    if spec.parser is None:
        return "on" if value else "off"
    if spec.repeated and not value:
        return "none"
    if value is None or value == "":
        return "unset"
    if spec.secret:
        return "hidden"
    if isinstance(value, tuple):
        return ",".join(_shown_default(v, spec) for v in value) or "empty"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_switch(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("must be 1/0, true/false, yes/no or on/off")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Append(argparse.Action):
    """``action="append"`` into a tuple, starting from nothing when the flag was unset
    (argparse's own would try to append to :data:`UNSET`)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        items = getattr(namespace, self.dest, UNSET)
        setattr(namespace, self.dest, (*(() if items is UNSET else items), values))


class Settings:
    """Base of every service's settings; subclasses are frozen dataclasses.

    ``service`` is the env prefix (``ALERTING`` -> ``STREAMWATCH_ALERTING_PORT``)
    and ``command`` how messages name the program (``streamwatch alerting``).
    """

    service: ClassVar[str]
    command: ClassVar[str]

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Checks across settings; raise :class:`SettingsError` via :meth:`problem`."""

    # -- names ----------------------------------------------------------------------------
    @classmethod
    def _specs(cls) -> Iterator[tuple[dataclasses.Field[Any], Spec]]:
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            spec = f.metadata.get(_KEY)
            if spec is not None:
                yield f, spec

    @classmethod
    def _spec(cls, name: str) -> Spec:
        for f, spec in cls._specs():
            if f.name == name:
                return spec
        raise KeyError(f"{cls.__name__} has no setting {name!r}")

    @classmethod
    def flag(cls, name: str) -> str:
        """The command-line flag of setting ``name``."""
        return cls._spec(name).flag or "--" + name.replace("_", "-")

    @classmethod
    def env(cls, name: str) -> str:
        """The environment variable of setting ``name``."""
        spec = cls._spec(name)
        if spec.env:
            return spec.env
        return f"{ENV_ROOT}{cls.service}_" + cls.flag(name)[2:].replace("-", "_").upper()

    @classmethod
    def legacy_env(cls, name: str) -> str | None:
        """The flat variable still read for one release, or None if there is none."""
        if cls._spec(name).env:
            return None  # a name shared by services never had a flat twin of its own
        return flat_env_name(cls.flag(name))

    @classmethod
    def where(cls, name: str) -> str:
        """``--port (env STREAMWATCH_ALERTING_PORT)``: how a user sets ``name``."""
        return f"{cls.flag(name)} (env {cls.env(name)})"

    @classmethod
    def problem(cls, name: str, message: str, fix: str = "") -> SettingsError:
        """An error about setting ``name`` that tells how to set it (``fix``: to what)."""
        return SettingsError(f"{message}; set {cls.where(name)}{fix}")

    def check_token(self, name: str, label: str) -> None:
        """Refuse a missing or guessable bearer token held in setting ``name``."""
        if len(getattr(self, name)) < MIN_TOKEN_LENGTH:
            raise self.problem(
                name, f"the {label} token is missing or shorter than {MIN_TOKEN_LENGTH} "
                "characters", " (e.g. to the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")

    # -- argparse ---------------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
        """One flag per setting; left off, a flag reads as :data:`UNSET`."""
        groups: dict[str, argparse._ArgumentGroup] = {}
        for f, spec in cls._specs():
            target: argparse.ArgumentParser | argparse._ArgumentGroup = parser
            if spec.group is not None and isinstance(parser, argparse.ArgumentParser):
                if spec.group not in groups:
                    groups[spec.group] = parser.add_argument_group(spec.group)
                target = groups[spec.group]
            default = f.default
            twin = cls.env(f.name)
            per_line = "; one per line" if spec.repeated else ""
            help_text = (f"{spec.help} [env {twin}{per_line}; "
                         f"default: {_shown_default(default, spec)}]")
            names = (cls.flag(f.name), *spec.aliases)
            if spec.parser is None:
                target.add_argument(*names, dest=f.name, action="store_true", default=UNSET,
                                    help=help_text)
            else:
                metavar = spec.metavar
                if metavar is None and spec.choices is None:
                    metavar = names[0][2:].replace("-", "_").upper()
                action: type[argparse.Action] | str = _Append if spec.repeated else "store"
                target.add_argument(*names, dest=f.name, action=action, type=spec.parser,
                                    default=UNSET, choices=spec.choices, metavar=metavar,
                                    help=help_text)

    @classmethod
    def from_args(cls: type[S], args: argparse.Namespace,
                  environ: Mapping[str, str] | None = None,
                  warn: Callable[[str], None] = _stderr) -> S:
        """The settings from parsed flags, then the environment, then the defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f, spec in cls._specs():
            value = getattr(args, f.name, UNSET)
            if spec.repeated:
                # the deployment's items, then the command line's (module doc)
                from_env = cls._from_environ(f.name, spec, env, warn)
                if from_env is not UNSET:
                    value = from_env + (() if value is UNSET else tuple(value))
            elif value is UNSET:
                value = cls._from_environ(f.name, spec, env, warn)
            if value is not UNSET:
                values[f.name] = value
        return cls(**values)

    @classmethod
    def from_env(cls: type[S], environ: Mapping[str, str] | None = None,
                 warn: Callable[[str], None] = _stderr) -> S:
        """The settings without a command line (gunicorn): environment, then defaults."""
        return cls.from_args(argparse.Namespace(), environ, warn)

    @classmethod
    def _from_environ(cls, name: str, spec: Spec, env: Mapping[str, str],
                      warn: Callable[[str], None]) -> Any:
        twin, old = cls.env(name), cls.legacy_env(name)
        if twin in env:
            if old is not None and old in env:
                warn(f"{cls.command}: {old} is ignored because {twin} is set; unset {old}")
            return cls._parse_env(name, spec, twin, env[twin])
        if old is not None and old in env:
            warn(f"{cls.command}: {old} is deprecated and will stop working in the next "
                 f"release; rename it to {twin}")
            return cls._parse_env(name, spec, old, env[old])
        return UNSET

    @classmethod
    def _parse_env(cls, name: str, spec: Spec, var: str, raw: str) -> Any:
        if spec.repeated:
            items = (line.strip() for line in raw.splitlines())
            return tuple(cls._parse_item(name, spec, var, item) for item in items if item)
        return cls._parse_item(name, spec, var, raw)

    @classmethod
    def _parse_item(cls, name: str, spec: Spec, var: str, raw: str) -> Any:
        shown = "<hidden>" if spec.secret else repr(raw)
        parse = _parse_switch if spec.parser is None else spec.parser
        try:
            value = parse(raw)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            # the parser's message may quote the value, which a secret must not show
            why = "" if spec.secret else f": {exc}"
            raise SettingsError(
                f"environment variable {var}={shown} is not valid for {cls.flag(name)}"
                f"{why}. Fix or unset {var}.") from None
        if spec.choices is not None and value not in spec.choices:
            raise SettingsError(
                f"environment variable {var}={shown} is not valid for {cls.flag(name)}: "
                f"must be one of {', '.join(spec.choices)}. Fix or unset {var}.")
        return value


def or_none(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    """``parse``, but empty text means unset, so an env twin can be set to nothing."""
    def parse_or_none(text: str) -> T | None:
        return parse(text) if text else None

    # argparse names the type in its message ("invalid positive_int value")
    parse_or_none.__name__ = getattr(parse, "__name__", "value")
    return parse_or_none


path_or_none = or_none(Path)
text_or_none = or_none(str)


def run_command(cls: type[S], args: argparse.Namespace, run: Callable[[S], int], *,
                refusals: tuple[type[Exception], ...] = ()) -> int:
    """Build ``cls`` from the command line and ``run`` it; a bad setting, or one of
    ``refusals`` raised while starting (a busy port), is one line on stderr and exit 2,
    the code argparse gives a malformed flag, never a traceback."""
    errors: tuple[type[Exception], ...] = (SettingsError, *refusals)
    try:
        return run(cls.from_args(args))
    except errors as exc:
        print(f"{cls.command}: {exc}", file=sys.stderr)
        return 2
