"""From an address and answers to a recommendation: what `recommend`, `export`,
the wizard and onboarding share.

Needs come from the defaults, then the answers file, then the flags; facts
from a fresh discovery or a saved report (``--from-json``); rules from the
shipped folder plus ``--rules`` folders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import AdvisorError
from advisor.i18n import _
from advisor.manual import ManualServers
from advisor.models import DiscoveryReport
from advisor.needs import Needs, apply, load_answers
from advisor.recommend import NAMES, Recommendation, facts_from_report, recommend
from advisor.rules.loader import RuleSet, load

MAX_REPORT_BYTES = 16 * 1024 * 1024  # a discovery report is tens of KB


@dataclass(frozen=True)
class Plan:
    address: str
    lang: str
    needs: Needs
    report: DiscoveryReport  # fresh, or a saved advisor.discovery/1 document, checked
    recommendation: Recommendation
    rules: RuleSet
    manual: ManualServers = field(default_factory=ManualServers)  # what the person gave


def build_needs(answers: Path | None, need_flags: Mapping[str, object]) -> Needs:
    needs = load_answers(answers) if answers is not None else Needs()
    return apply(needs, dict(need_flags), where="command line: ")


def build_manual(answers: Path | None, flags: ManualServers | None) -> ManualServers:
    """The servers given: the answers file's ``[servers]``, then the flags over them."""
    from advisor.manual import load_servers

    base = load_servers(answers) if answers is not None else ManualServers()
    return flags.over(base) if flags is not None else base


def read_report(path: Path, address: str) -> DiscoveryReport:
    """A saved ``advisor discover --json`` document for ``address``, every value
    checked (:func:`advisor.report.from_json`); one-line errors naming the file."""
    from advisor.fsutil import read_bounded, too_deep
    from advisor.report import ReportError, from_json

    data = read_bounded(path, MAX_REPORT_BYTES, what=_("a discovery report"))
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        # ValueError: bad JSON, or a number too long to convert (Python 3.11's int limit).
        raise AdvisorError(f"{path}: not a JSON document ({exc})") from None
    except RecursionError:
        raise AdvisorError(too_deep(path, _("a discovery report"))) from None
    try:
        return from_json(doc, address=address)
    except ReportError as exc:
        raise AdvisorError(
            _("{path}: not a usable discovery report: {problem}").format(path=path, problem=exc)
        ) from None


def plan(
    address: str,
    *,
    answers: Path | None = None,
    need_flags: Mapping[str, object] | None = None,
    rules_dirs: Sequence[Path] = (),
    from_json: Path | None = None,
    report: DiscoveryReport | None = None,
    lang: str = "en",
    nameservers: Sequence[str] = (),
    ca_file: Path | None = None,
    timeout: float = 10.0,
    offline: bool = False,
    manual: ManualServers | None = None,
) -> Plan:
    needs = build_needs(answers, need_flags or {})
    given = build_manual(answers, manual)
    ruleset = load(rules_dirs, names=NAMES)  # bad rules fail before any network use
    if from_json is not None:
        report = given.add_to_report(read_report(from_json, address))
    elif report is None:
        from advisor.discovery import Options
        from advisor.runner import run_discovery

        report = run_discovery(
            address,
            nameservers=nameservers,
            ca_file=ca_file,
            options=Options(
                timeout=timeout, offline=offline, config_dir=given.config_dir, given=given
            ),
        )
    rec = recommend(needs, facts_from_report(report), ruleset)
    return Plan(report.address, lang, needs, report, rec, ruleset, given)


@dataclass(frozen=True)
class Setup:
    """What an export of this plan would set up, or why it cannot yet."""

    protocol: str | None
    instead_of: str | None = None  # the recommended protocol, when it could not be set up
    note: str = ""  # why not the recommended one
    problem: str = ""  # why nothing can be set up, and what to give

    def text(self) -> str:
        if self.problem:
            return _("Cannot be set up yet: {problem}").format(problem=self.problem)
        return self.note

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "instead_of": self.instead_of,
            "note": self.note,
            "problem": self.problem,
        }


def setup_choice(result: Plan) -> Setup:
    """The protocol ``advisor export`` would set up for this plan (see choose_protocol)."""
    from advisor.export import NotConfigurable, choose_protocol

    try:
        choice = choose_protocol(
            result.recommendation, result.report, forced=result.manual.protocol
        )
    except NotConfigurable as exc:
        return Setup(None, problem=str(exc))
    return Setup(choice.protocol, choice.instead_of, choice.note())
