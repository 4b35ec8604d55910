"""Recommendation rules as data: TOML files, checked before use.

A rule file holds ``[[rule]]`` tables::

    [[rule]]
    id = "pop3-one-backed-up-computer"        # lower case, digits, hyphens; unique
    when = "devices.total == 1 and backed_up"  # the condition language of advisor.rules.expr
    score = { pop3 = 3, imap = 1 }             # points for (or, negative, against) a protocol
    exclude = ["exchange"]                     # protocols this rule rules out
    caveat = ["pop3"]                          # attach the explanation to these choices
    webmail = 2                                # points for (or against) "webmail suffices"
    explain.en = "One backed-up computer: POP3's local copy is safe."
    explain.fr = "Un seul ordinateur sauvegardé : la copie locale de POP3 ne risque rien."
    reference = "RFC 1939 §1"
    # enabled = false                         # in an override file: switch a shipped rule off

A rule needs ``id``, ``when``, ``explain.en``, ``explain.fr`` and at least one
of ``score``, ``exclude``, ``caveat``, ``webmail``. Webmail is not a protocol: its
points add up apart, and the advice says "you may not need a mail program" when
they reach :data:`advisor.recommend.WEBMAIL_SUFFICES`. Protocols are ``exchange``, ``imap``,
``pop3``. Later folders (``--rules DIR``) override earlier ones rule by rule
(same ``id``); within one folder an ``id`` may appear once.

Every error names the file, the line and the rule id, in one line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from advisor.errors import AdvisorError
from advisor.i18n import _
from advisor.rules.expr import Expr, ExprError, check_types, parse

PROTOCOLS = ("exchange", "imap", "pop3")
LANGUAGES = ("en", "fr")
MAX_RULE_FILE_BYTES = 1024 * 1024  # thousands of rules; a bigger file is a mistake
MAX_SCORE = 100  # keeps one rule from silently drowning all others
_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_FIELDS = {
    "id",
    "when",
    "score",
    "exclude",
    "caveat",
    "webmail",
    "explain",
    "reference",
    "enabled",
}


class RuleError(AdvisorError):
    """A rule file is wrong; the message names file, line and rule id.

    ``errors`` holds every problem found (``advisor rules check`` prints them all);
    the message is the first, with a count of the others.
    """

    def __init__(self, message: str, errors: tuple[str, ...] = ()) -> None:
        self.errors = errors or (message,)
        more = len(self.errors) - 1
        super().__init__(
            message if more == 0 else f"{message} (and {more} more: see advisor rules check)"
        )

    @classmethod
    def of(cls, errors: list[str]) -> RuleError:
        return cls(errors[0], tuple(errors))


@dataclass(frozen=True)
class Rule:
    id: str
    when: Expr
    score: tuple[tuple[str, int], ...]
    exclude: tuple[str, ...]
    caveat: tuple[str, ...]
    explain: Mapping[str, str]
    reference: str
    origin: str  # "file:line", for people
    enabled: bool = True
    webmail: int = 0  # points for (or against) "webmail is enough"

    def explanation(self, lang: str) -> str:
        text = self.explain.get(lang)
        if text is None:
            return self.explain["en"]
        if lang == "fr":  # the same typography as the catalog's French
            from advisor.i18n import french_typography

            return french_typography(text)
        return text

    def effect_text(self) -> str:
        parts = [f"{p} {'+' if n > 0 else ''}{n}" for p, n in self.score]
        parts += [f"exclude {p}" for p in self.exclude]
        parts += [f"caveat on {p}" for p in self.caveat]
        if self.webmail:
            parts.append(f"webmail {'+' if self.webmail > 0 else ''}{self.webmail}")
        return ", ".join(parts)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    sources: tuple[str, ...]  # folders read, in order

    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)


def shipped_rules_dir() -> Path:
    """The rules shipped with advisor (the repository's ``rules/``)."""
    return Path(str(resources.files("advisor_rules")))


def load(
    extra_dirs: Iterable[Path] = (),
    *,
    names: Mapping[str, type | tuple[type, ...]],
    include_shipped: bool = True,
) -> RuleSet:
    """Shipped rules, then each ``--rules DIR`` overriding by id."""
    folders = ([shipped_rules_dir()] if include_shipped else []) + list(extra_dirs)
    by_id: dict[str, Rule] = {}
    for folder in folders:
        for rule in load_dir(folder, names=names):
            by_id[rule.id] = rule  # a later folder replaces the rule with the same id
    return RuleSet(tuple(by_id.values()), tuple(str(f) for f in folders))


def load_dir(folder: Path, *, names: Mapping[str, type | tuple[type, ...]]) -> list[Rule]:
    if not folder.is_dir():
        raise RuleError(f"{folder}: not a folder of rule files")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise RuleError(f"{folder}: no *.toml rule files")
    rules: list[Rule] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            loaded = load_file(path, names=names)
        except RuleError as exc:
            errors.extend(exc.errors)
            continue
        for rule in loaded:
            if rule.id in seen:
                errors.append(
                    f"{rule.origin}: rule {rule.id!r}: duplicate id (also at {seen[rule.id]})"
                )
                continue
            seen[rule.id] = rule.origin
            rules.append(rule)
    if errors:
        raise RuleError.of(errors)
    return rules


def load_file(path: Path, *, names: Mapping[str, type | tuple[type, ...]]) -> list[Rule]:
    from advisor.fsutil import read_bounded, too_deep

    raw = read_bounded(path, MAX_RULE_FILE_BYTES, what=_("a rule file"), error=RuleError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 7)": lift the line into our format.
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{found.group(1)}" if found else str(path)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        col = f" (column {found.group(2)})" if found else ""
        raise RuleError(f"{where}: TOML syntax error: {reason}{col}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise RuleError(too_deep(path, _("a rule file"))) from None
    unknown_top = set(doc) - {"rule"}
    if unknown_top:
        key = sorted(unknown_top)[0]
        raise RuleError(
            f"{path}:{_line_of(text, key, 0)}: unknown table {key!r}; expected [[rule]]"
        )
    tables = doc.get("rule", [])
    if not isinstance(tables, list):
        raise RuleError(f"{path}:1: 'rule' must be an array of tables: write [[rule]]")
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[rule]]"]
    rules = []
    errors: list[str] = []
    for index, table in enumerate(tables):
        start = starts[index] if index < len(starts) else 1
        try:
            rules.append(_rule(path, text, start, table, names))
        except RuleError as exc:  # one message per rule: its first problem
            errors.extend(exc.errors)
    if errors:
        raise RuleError.of(errors)
    return rules


def _line_of(text: str, key: str, after: int) -> int:
    """The line (1-based) where ``key`` is set, at or after line ``after``."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*[.=]")
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= after and pattern.match(line):
            return number
    return max(after, 1)


def _rule(
    path: Path,
    text: str,
    start: int,
    table: dict[str, Any],
    names: Mapping[str, type | tuple[type, ...]],
) -> Rule:
    rule_id = table.get("id")
    label = f"rule {rule_id!r}" if isinstance(rule_id, str) else f"rule #{start}"

    def fail(key: str, message: str) -> RuleError:
        return RuleError(f"{path}:{_line_of(text, key, start)}: {label}: {message}")

    if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
        raise fail("id", "'id' must be lower-case words joined by hyphens, e.g. 'forbid-pop3'")
    for key in table:
        if key not in _FIELDS:
            raise fail(key, f"unknown field {key!r} (fields: {', '.join(sorted(_FIELDS))})")
    if table.get("enabled") is False and set(table) <= {"id", "enabled"}:
        # An override that only switches a shipped rule off.
        return Rule(
            id=rule_id,
            when=parse("false"),
            score=(),
            exclude=(),
            caveat=(),
            explain={"en": "disabled", "fr": "désactivée"},
            reference="",
            origin=f"{path}:{start}",
            enabled=False,
        )
    when_text = table.get("when")
    if not isinstance(when_text, str):
        raise fail("id", "'when' is missing (use when = \"true\" for an unconditional rule)")
    try:
        when = parse(when_text)
        check_types(when, names)
    except ExprError as exc:  # its message already says the column
        raise fail("when", f"when: {exc}") from None
    score = table.get("score", {})
    if not isinstance(score, dict):
        raise fail("score", "'score' must be a table such as { imap = 2, pop3 = -1 }")
    for protocol, points in score.items():
        if protocol not in PROTOCOLS:
            raise fail("score", f"score: unknown protocol {protocol!r} ({', '.join(PROTOCOLS)})")
        if isinstance(points, bool) or not isinstance(points, int) or abs(points) > MAX_SCORE:
            raise fail("score", f"score.{protocol} must be a whole number from -100 to 100")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("exclude", "caveat"):
        value = table.get(key, [])
        if not isinstance(value, list) or any(v not in PROTOCOLS for v in value):
            raise fail(key, f"'{key}' must be a list of {', '.join(PROTOCOLS)}")
        lists[key] = tuple(value)
    webmail = table.get("webmail", 0)
    if isinstance(webmail, bool) or not isinstance(webmail, int) or abs(webmail) > MAX_SCORE:
        raise fail("webmail", "'webmail' must be a whole number from -100 to 100")
    if not score and not lists["exclude"] and not lists["caveat"] and not webmail:
        raise fail("id", "no effect: give score, exclude, caveat or webmail")
    explain = table.get("explain")
    if not isinstance(explain, dict):
        raise fail("id", "'explain.en' and 'explain.fr' are missing")
    for lang in LANGUAGES:
        if not isinstance(explain.get(lang), str) or not explain[lang].strip():
            raise fail("explain", f"'explain.{lang}' is missing or empty")
    for lang in explain:
        if lang not in LANGUAGES:
            raise fail("explain", f"explain.{lang}: unknown language ({', '.join(LANGUAGES)})")
    reference = table.get("reference", "")
    enabled = table.get("enabled", True)
    if not isinstance(reference, str) or not isinstance(enabled, bool):
        raise fail("reference", "'reference' is text and 'enabled' true or false")
    return Rule(
        id=rule_id,
        when=when,
        score=tuple(sorted(score.items())),
        exclude=lists["exclude"],
        caveat=lists["caveat"],
        explain={lang: " ".join(explain[lang].split()) for lang in LANGUAGES},
        reference=reference,
        origin=f"{path}:{start}",
        enabled=enabled,
        webmail=webmail,
    )
