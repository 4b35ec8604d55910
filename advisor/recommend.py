"""Exchange, IMAP or POP3 for this person: rules (data) over needs and discovery facts.

Pure: a :class:`Needs`, the facts of a discovery report and a rule set in, a
:class:`Recommendation` out. Each protocol starts at 0; every rule whose
condition holds adds its points, excludes protocols, or attaches caveats.
The highest-scoring protocol not excluded wins (ties: IMAP, then Exchange,
then POP3 — the choice that loses least if the guess is wrong). Confidence
grows with the lead over the runner-up: ``0.5 + lead / 10``, capped at 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from advisor.models import DiscoveryReport, ExchangeFacts, Protocol, Source
from advisor.needs import Needs
from advisor.rules.loader import PROTOCOLS, Rule, RuleSet

SCHEMA = "advisor.recommendation/1"
TIE_ORDER = ("imap", "exchange", "pop3")
# A POP3 client that leaves mail on the server this many days keeps a safety
# copy without filling the quota (Thunderbird's daysToLeaveMessagesOnServer).
POP3_KEEP_DAYS = 14

# The facts the rules may use, with their types (checked when rules load).
FACT_TYPES: dict[str, type | tuple[type, ...]] = {
    "offers.imap": bool,
    "offers.pop3": bool,
    "offers.exchange": bool,
    "offers.activesync": bool,
    "discovery.conclusive": bool,
    "discovery.live": bool,
    "exchange.hosted": str,
    "provider.hosted_by": str,
    "provider.requires_oauth2": bool,
}
NEED_TYPES: dict[str, type | tuple[type, ...]] = {
    "devices.total": int,
    "devices.desktop": int,
    "devices.laptop": int,
    "devices.phone": int,
    "devices.tablet": int,
    "devices.computers": int,
    "devices.mobile": int,
    "devices.shared": bool,
    "calendars": str,
    "contacts": str,
    "tasks": str,
    "groupware": bool,
    "sharing": bool,
    "collaborative": bool,
    "remote_work": bool,
    "organisation": str,
    "organisation_size": int,
    "microsoft": str,
    "mailbox_size_gb": float,
    "quota_gb": float,
    "over_quota": bool,
    "near_quota": bool,
    "offline": bool,
    "backed_up": bool,
    "data_residency": bool,
    "clients": tuple,
}
NAMES: dict[str, type | tuple[type, ...]] = {**NEED_TYPES, **FACT_TYPES}


def facts_from_report(report: DiscoveryReport) -> dict[str, object]:
    """The facts the rules may use, from a discovery report (fresh, or a saved one
    read with :func:`advisor.report.from_json`)."""
    live = report.live

    def offered(protocol: Protocol) -> bool:
        # A server the person gave is offered on their word, reachable from here or not.
        return any(
            c.endpoint.protocol is protocol
            and (c.verified or not live or Source.GIVEN in c.sources)
            for c in report.incoming
        )

    exchange = report.exchange or ExchangeFacts()
    provider = report.provider
    on_m365 = exchange.hosted == "microsoft365"
    has_exchange = bool(exchange.ews_url or exchange.activesync_url or on_m365)
    found_any = bool(report.incoming) or has_exchange
    return {
        "offers.imap": offered(Protocol.IMAP),
        "offers.pop3": offered(Protocol.POP3),
        "offers.exchange": has_exchange,
        "offers.activesync": bool(exchange.activesync_url) or on_m365,
        # "Not offered" means something only when discovery saw the provider.
        "discovery.conclusive": live and found_any,
        "discovery.live": live,
        "exchange.hosted": exchange.hosted or "none",
        "provider.hosted_by": (provider.hosted_by if provider else None) or "none",
        "provider.requires_oauth2": bool(provider and provider.requires_oauth2),
    }


@dataclass(frozen=True)
class Choice:
    protocol: str
    score: int
    excluded_by: tuple[Rule, ...]
    reasons: tuple[tuple[Rule, int], ...]  # rules that scored it, with their points
    caveats: tuple[Rule, ...]

    @property
    def excluded(self) -> bool:
        return bool(self.excluded_by)


@dataclass(frozen=True)
class Recommendation:
    recommended: str | None
    confidence: float
    ranking: tuple[Choice, ...]  # best first; excluded last
    fired: tuple[Rule, ...]
    needs: Needs
    facts: Mapping[str, object]
    leave_on_server: bool  # for a POP3 set-up
    keep_days: int | None

    @property
    def confidence_label(self) -> str:
        if self.confidence >= 0.8:
            return "high"
        return "medium" if self.confidence >= 0.6 else "low"


def recommend(needs: Needs, facts: Mapping[str, object], rules: RuleSet) -> Recommendation:
    values: dict[str, object] = {**needs.values(), **facts}
    scores = dict.fromkeys(PROTOCOLS, 0)
    reasons: dict[str, list[tuple[Rule, int]]] = {p: [] for p in PROTOCOLS}
    excluded: dict[str, list[Rule]] = {p: [] for p in PROTOCOLS}
    caveats: dict[str, list[Rule]] = {p: [] for p in PROTOCOLS}
    fired: list[Rule] = []
    for rule in rules.active():
        if not rule.when.evaluate(values):
            continue
        fired.append(rule)
        for protocol, points in rule.score:
            scores[protocol] += points
            reasons[protocol].append((rule, points))
        for protocol in rule.exclude:
            excluded[protocol].append(rule)
        for protocol in rule.caveat:
            caveats[protocol].append(rule)
    choices = [
        Choice(p, scores[p], tuple(excluded[p]), tuple(reasons[p]), tuple(caveats[p]))
        for p in PROTOCOLS
    ]
    choices.sort(key=lambda c: (c.excluded, -c.score, TIE_ORDER.index(c.protocol)))
    open_choices = [c for c in choices if not c.excluded]
    best = open_choices[0] if open_choices else None
    if best is None:
        confidence = 0.0
    elif len(open_choices) == 1:
        confidence = 1.0
    else:
        lead = best.score - open_choices[1].score
        confidence = min(1.0, 0.5 + lead / 10)
    # POP3: keep a safety copy on the server unless one backed-up computer is all.
    leave = not (needs.backed_up and needs.devices == 1)
    return Recommendation(
        recommended=best.protocol if best else None,
        confidence=round(confidence, 2),
        ranking=tuple(choices),
        fired=tuple(fired),
        needs=needs,
        facts=dict(facts),
        leave_on_server=leave,
        keep_days=POP3_KEEP_DAYS if leave else None,
    )


def to_json(rec: Recommendation, *, address: str, lang: str) -> dict[str, Any]:
    def rule_ref(rule: Rule) -> dict[str, Any]:
        return {
            "id": rule.id,
            "effect": rule.effect_text(),
            "explanation": rule.explanation(lang),
            "reference": rule.reference,
        }

    return {
        "schema": SCHEMA,
        "address": address,
        "lang": lang,
        "recommended": rec.recommended,
        "confidence": rec.confidence,
        "confidence_label": rec.confidence_label,
        "ranking": [
            {
                "protocol": c.protocol,
                "score": c.score,
                "excluded": c.excluded,
                "excluded_by": [r.id for r in c.excluded_by],
                "reasons": [{"rule": r.id, "points": n} for r, n in c.reasons],
                "caveats": [rule_ref(r) for r in c.caveats],
            }
            for c in rec.ranking
        ],
        "rules": [rule_ref(r) for r in rec.fired],
        "caveats": [
            rule_ref(r) for c in rec.ranking if c.protocol == rec.recommended for r in c.caveats
        ],
        "pop3": {"leave_on_server": rec.leave_on_server, "keep_days": rec.keep_days},
        "needs": {k: list(v) if isinstance(v, tuple) else v for k, v in rec.needs.values().items()},
        "facts": dict(rec.facts),
    }
