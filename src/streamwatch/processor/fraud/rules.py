"""Fraud rules: the YAML schema, the loader and hot reload.

The file (``rules.yaml`` next to this module is the packaged default)::

    version: 1
    rules:
      card_testing:
        enabled: true
        severity: high
        cooldown_s: 600
        params: {max_amount: 2.0, min_count: 5, window_s: 120}
      ...

Each rule is named after the simulator scenario it catches (so quality is
measured per scenario) and has its own parameter set; ``docs/fraud-rules.md``
describes every key. A rule that is absent or ``enabled: false`` does not run.

Validation collects every problem with its path (``rules.velocity.params.
min_count: must be an integer >= 2 (got 1)``) and raises :class:`RulesError`.

Hot reload: :class:`RulesWatcher` runs on the driver. ``check()`` (called at
each micro-batch boundary) re-reads the file when its content changed and has
then stayed the same for ``settle_s``, so an editor's half-written file is not
mistaken for an invalid one; a valid file becomes the next version, an invalid
one keeps the previous rules, is logged and counted. The active rules are
*published* as one JSON snapshot (:func:`publish` / :func:`read_published`)
in a directory that the driver and every executor can read (the checkpoint
volume), because the rules run in the Python workers of the stateful operator,
not on the driver.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from streamwatch.contracts.events import SCENARIOS, SEVERITIES
from streamwatch.processor.io.files import write_atomically

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SNAPSHOT_NAME = "active-rules.json"


@dataclass(frozen=True)
class Param:
    """One numeric or boolean rule parameter with its bounds and default."""

    kind: type
    default: Any
    lo: float | None = None
    hi: float | None = None
    help: str = ""

    def check(self, value: Any) -> str | None:
        """An error text for ``value``, or None when it is valid."""
        if self.kind is bool:
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind is dict:
            if not isinstance(value, dict) or not value:
                return "must be a non-empty mapping of name -> number"
            for k, v in value.items():
                if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
                    return f"{k}: must be a number > 0 (got {v!r})"
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number (got {value!r})"
        if self.kind is int and not float(value).is_integer():
            return f"must be an integer (got {value!r})"
        if self.lo is not None and value < self.lo:
            return f"must be >= {self.lo:g} (got {value!r})"
        if self.hi is not None and value > self.hi:
            return f"must be <= {self.hi:g} (got {value!r})"
        return None


#: rule name -> parameter name -> Param. The rule names are the scenarios.
PARAMS: dict[str, dict[str, Param]] = {
    "card_testing": {
        "max_amount": Param(float, 2.0, 0.01, 1e6, "a probe is a transaction at or under this"),
        "min_count": Param(int, 5, 2, 10_000, "probes within the window that raise an alert"),
        "window_s": Param(float, 120, 1, 86_400, "sliding window length in seconds"),
    },
    "velocity": {
        "min_count": Param(int, 8, 2, 10_000, "transactions within the window"),
        "window_s": Param(float, 300, 1, 86_400, "sliding window length in seconds"),
        "min_amount": Param(float, 2.0, 0, 1e9,
                            "only transactions above this count (probes belong to card_testing)"),
    },
    "impossible_travel": {
        "max_speed_kmh": Param(float, 900, 1, 1e6, "cruising speed of the quickest flight"),
        "airport_h": Param(float, 1.0, 0, 48, "hours a trip needs on top of the flight"),
        "min_distance_km": Param(float, 300, 0, 40_000, "ignore hops shorter than this"),
        "device_age_s": Param(float, 3600, 0, 30 * 86_400,
                              "an online purchase is located (where the owner is) when its "
                              "device has been the card's for this long"),
        "require_country_change": Param(bool, False, help="only hops between two countries"),
    },
    "amount_spike": {
        "category_typical_usd": Param(dict, {}, help="typical purchase (USD) per merchant "
                                      "category; amounts are compared in multiples of it"),
        "multiplier": Param(float, 4.0, 1, 1e6,
                            "alert at this many times the card's own typical amount"),
        "category_ratio": Param(float, 7.0, 1, 1e6, "a card without history: alert at this "
                                "many typical purchases of the category"),
        "min_history": Param(int, 5, 1, 10_000,
                             "amounts the card needs before its own baseline is used"),
        "prior_weight": Param(float, 2.0, 0, 1e6, "the baseline starts at the category's "
                              "typical amount, worth this many purchases"),
        "baseline_clip": Param(float, 8.0, 1, 1e6, "amounts enter the baseline clipped to "
                               "1/x .. x typical purchases of the category"),
        "min_amount": Param(float, 100, 0, 1e9, "never alert on amounts below this"),
    },
    "account_takeover": {
        "window_s": Param(float, 1800, 1, 7 * 86_400,
                          "a device is unknown for this long after the card first used it"),
        "spend_ratio": Param(float, 2.5, 1, 1e6,
                             "online spend from an unknown device (or none) at this many times "
                             "the card's own typical amount"),
        "min_amount": Param(float, 20, 0, 1e9, "never alert on amounts below this"),
        "cold_ratio": Param(float, 7.0, 1, 1e6,
                            "the bar for a card with fewer than min_history amounts (its "
                            "baseline is still mostly the category's typical purchase)"),
        "strong_ratio": Param(float, 1.5, 0, 1e6,
                              "the bar instead when there is no device, or the device is out "
                              "of the owner's reach (see far_km)"),
        "min_history": Param(int, 3, 1, 10_000,
                             "amounts the card needs before spend_ratio applies without "
                             "strong evidence"),
        "far_km": Param(float, 100, 0, 40_000,
                        "a new device at least this far from where the owner last used "
                        "another device, sooner than a trip could take, is out of reach"),
        "max_speed_kmh": Param(float, 900, 1, 1e6, "cruising speed of the quickest flight"),
        "airport_h": Param(float, 1.0, 0, 48, "hours a trip needs on top of the flight"),
    },
}

#: rules that look back over the card's recent transactions (others keep summaries)
WINDOWED_RULES = ("card_testing", "velocity")
RULE_KEYS = {"enabled", "severity", "cooldown_s", "params"}


class RulesError(ValueError):
    """An invalid rules file; ``errors`` holds ``"path: problem"`` strings."""

    def __init__(self, source: str, errors: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(errors))
        self.source = source
        self.errors = errors


@dataclass(frozen=True)
class Rule:
    name: str
    enabled: bool
    severity: str
    cooldown_s: float
    params: dict[str, Any] = field(default_factory=dict)

    def p(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class RuleSet:
    """The rules in force; ``version`` counts successful (re)loads, ``digest`` names the text."""

    rules: tuple[Rule, ...]
    version: int = 1
    digest: str = ""

    def enabled(self) -> dict[str, Rule]:
        return {r.name: r for r in self.rules if r.enabled}

    def max_window_ms(self) -> int:
        """The longest look-back any enabled rule needs, in ms (the recent-history horizon)."""
        windows = [r.params["window_s"] for r in self.rules
                   if r.enabled and r.name in WINDOWED_RULES]
        return int(max(windows, default=0) * 1000)

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest,
                "rules": [asdict(r) for r in self.rules]}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RuleSet:
        return cls(rules=tuple(Rule(**r) for r in doc["rules"]), version=int(doc["version"]),
                   digest=str(doc.get("digest", "")))


def parse_rules(text: str, source: str = "rules") -> RuleSet:
    """Parse and validate YAML text; raises :class:`RulesError` listing every problem."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RulesError(source, [f"(yaml) {where}{getattr(exc, 'problem', exc)}"]) from None
    errors: list[str] = []
    if not isinstance(doc, dict):
        raise RulesError(source, ["(root): must be a mapping with keys version and rules"])
    for key in doc:
        if key not in ("version", "rules"):
            errors.append(f"{key}: unknown key; allowed: version, rules")
    if doc.get("version") != SCHEMA_VERSION:
        errors.append(f"version: must be {SCHEMA_VERSION} (got {doc.get('version')!r})")
    raw_rules = doc.get("rules")
    rules: list[Rule] = []
    if not isinstance(raw_rules, dict) or not raw_rules:
        errors.append("rules: must be a non-empty mapping of rule name -> settings")
        raw_rules = {}
    for name, body in raw_rules.items():
        rule = _parse_rule(str(name), body, errors)
        if rule is not None:
            rules.append(rule)
    if errors:
        raise RulesError(source, errors)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return RuleSet(rules=tuple(sorted(rules, key=lambda r: SCENARIOS.index(r.name))),
                   digest=digest)


def _parse_rule(name: str, body: Any, errors: list[str]) -> Rule | None:
    path = f"rules.{name}"
    if name not in PARAMS:
        errors.append(f"{path}: unknown rule; known rules: {', '.join(PARAMS)}")
        return None
    if not isinstance(body, dict):
        errors.append(f"{path}: must be a mapping with keys {', '.join(sorted(RULE_KEYS))}")
        return None
    n_before = len(errors)
    for key in body:
        if key not in RULE_KEYS:
            errors.append(f"{path}.{key}: unknown key; allowed: {', '.join(sorted(RULE_KEYS))}")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append(f"{path}.enabled: must be true or false (got {enabled!r})")
    severity = body.get("severity")
    if severity not in SEVERITIES:
        errors.append(f"{path}.severity: must be one of {', '.join(SEVERITIES)} (got {severity!r})")
    cooldown = body.get("cooldown_s", 600)
    problem = Param(float, 600, 0, 7 * 86_400).check(cooldown)
    if problem:
        errors.append(f"{path}.cooldown_s: {problem}")
    raw_params = body.get("params", {})
    params: dict[str, Any] = {}
    if not isinstance(raw_params, dict):
        errors.append(f"{path}.params: must be a mapping")
        raw_params = {}
    schema = PARAMS[name]
    for key, value in raw_params.items():
        if key not in schema:
            errors.append(f"{path}.params.{key}: unknown parameter; "
                          f"{name} takes {', '.join(schema)}")
            continue
        problem = schema[key].check(value)
        if problem:
            errors.append(f"{path}.params.{key}: {problem}")
        else:
            params[key] = ({str(k): float(v) for k, v in value.items()}
                           if schema[key].kind is dict else schema[key].kind(value))
    for key, spec in schema.items():
        params.setdefault(key, spec.default)
    if len(errors) > n_before or not isinstance(severity, str):
        return None
    return Rule(name=name, enabled=enabled, severity=severity, cooldown_s=float(cooldown),
                params=params)


def default_rules_path() -> Path:
    return Path(str(resources.files("streamwatch.processor.fraud").joinpath("rules.yaml")))


def load_rules(path: str | os.PathLike[str]) -> RuleSet:
    """Read and validate a rules file; a missing file is a :class:`RulesError` too."""
    return parse_rules_bytes(_read_rules_file(path), str(path))


def _read_rules_file(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RulesError(str(path), [f"(file) cannot read: {exc.strerror or exc}"]) from None


def parse_rules_bytes(content: bytes, source: str) -> RuleSet:
    """:func:`parse_rules` for the raw file content; bad UTF-8 is a :class:`RulesError`."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulesError(source, [f"(file) not UTF-8 text: byte {exc.start}"]) from None
    return parse_rules(text, source)


def publish(directory: Path, rules: RuleSet, status: dict[str, Any]) -> None:
    """Write the snapshot atomically (write + rename), so a reader never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"rules": rules.to_json(), "status": status}
    write_atomically(directory / SNAPSHOT_NAME, json.dumps(doc).encode())


def read_published(directory: str) -> tuple[RuleSet, dict[str, Any]]:
    """The snapshot the driver published last: rules and status counters."""
    with open(os.path.join(directory, SNAPSHOT_NAME), encoding="utf-8") as fh:
        doc = json.load(fh)
    return RuleSet.from_json(doc["rules"]), doc["status"]


def _digest(content: bytes | RulesError) -> str | None:
    """The content's hash; None for a file that cannot be read."""
    return None if isinstance(content, RulesError) else hashlib.sha256(content).hexdigest()


@dataclass
class RulesWatcher:
    """Driver side of hot reload: re-read the file when it changes, keep the last good rules.

    ``status`` (published with the rules and reported by the job as observed
    metrics) holds ``version``, ``reloads_total``, ``reload_errors_total``,
    ``last_error`` and ``digest``.

    A new content is acted on once it has stayed unchanged for ``settle_s``
    (seen by two checks that far apart): a file rewritten in place passes
    through empty and partial states, and counting those as reload errors
    would make the error metric count keystrokes, not mistakes.
    """

    path: Path
    publish_dir: Path
    settle_s: float = 0.25
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    rules: RuleSet = field(init=False)
    reloads_total: int = 0
    reload_errors_total: int = 0
    last_error: str = ""
    _seen: str | None = field(default=None, repr=False)  # digest of the content acted on
    _pending: tuple[str | None, float] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # the first load must succeed: refusing to start beats running without rules
        content = self._read()
        self.rules = self._parse(content)
        self._seen = _digest(content)
        self._publish()

    def _read(self) -> bytes | RulesError:
        """The file's bytes, or the error that says why it cannot be read (kept, so that
        parsing reports it without reading the file a second time)."""
        try:
            return _read_rules_file(self.path)
        except RulesError as exc:
            return exc

    def _parse(self, content: bytes | RulesError) -> RuleSet:
        if isinstance(content, RulesError):
            raise content
        return parse_rules_bytes(content, str(self.path))

    @property
    def status(self) -> dict[str, Any]:
        return {"version": self.rules.version, "digest": self.rules.digest,
                "reloads_total": self.reloads_total,
                "reload_errors_total": self.reload_errors_total, "last_error": self.last_error}

    def _publish(self) -> None:
        publish(self.publish_dir, self.rules, self.status)

    def check(self) -> bool:
        """Reload if the file changed and settled; True when new rules became active."""
        content = self._read()
        digest = _digest(content)  # content, not mtime: `touch` is no change
        if digest == self._seen:
            self._pending = None  # changed and changed back: nothing to do
            return False
        now = self.clock()
        if self._pending is None or self._pending[0] != digest:
            self._pending = (digest, now)
        if now - self._pending[1] < self.settle_s:
            return False
        self._pending = None
        self._seen = digest
        try:
            new = self._parse(content)
        except RulesError as exc:
            self.reload_errors_total += 1
            self.last_error = str(exc)
            log.error("fraud rules file invalid; keeping version %d", self.rules.version,
                      extra={"path": str(self.path), "errors": exc.errors,
                             "reload_errors_total": self.reload_errors_total})
            self._publish()
            return False
        self.rules = RuleSet(rules=new.rules, version=self.rules.version + 1, digest=new.digest)
        self.reloads_total += 1
        self.last_error = ""
        log.info("fraud rules reloaded", extra={
            "path": str(self.path), "version": self.rules.version, "digest": self.rules.digest,
            "enabled": sorted(self.rules.enabled())})
        self._publish()
        return True
