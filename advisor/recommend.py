"""Exchange, IMAP or POP3 for this person: rules (data) over needs and discovery facts.

Pure: a :class:`Needs`, the facts of a discovery report and a rule set in, a
:class:`Recommendation` out. Each protocol starts at 0; every rule whose
condition holds adds its points, excludes protocols, or attaches caveats.
The highest-scoring protocol not excluded wins (ties: IMAP, then Exchange,
then POP3 — the choice that loses least if the guess is wrong). Confidence
grows with the lead over the runner-up: ``0.5 + lead / 10``, capped at 1, and
then by what discovery knows of the winner (:data:`CONFIDENCE_CAP`): advice for
a protocol nobody could verify from here is never "high", and advice resting on
the needs alone (nothing found) is at most "low".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from advisor.models import (
    Candidate,
    DiscoveryReport,
    DnsHealth,
    ExchangeFacts,
    Protocol,
    Reach,
    Reachability,
    Unchecked,
)
from advisor.needs import Needs
from advisor.rules.loader import PROTOCOLS, Rule, RuleSet

SCHEMA = "advisor.recommendation/1"
TIE_ORDER = ("imap", "exchange", "pop3")
# A POP3 client that leaves mail on the server this many days keeps a safety
# copy without filling the quota (Thunderbird's daysToLeaveMessagesOnServer).
POP3_KEEP_DAYS = 14

# The most confidence a recommendation may claim, by what discovery knows of the
# recommended protocol (``seen.<protocol>``): named but not verified from this
# network -> at most medium; not found at all -> at most low.
CONFIDENCE_CAP = {"unverified": 0.7, "unknown": 0.5, "absent": 0.5}

# Webmail is enough ("you may not need a mail program") when the rules' webmail
# points reach this; the protocol advice is still given, for when a program is wanted.
WEBMAIL_SUFFICES = 3

# The facts the rules may use, with their types (checked when rules load).
FACT_TYPES: dict[str, type | tuple[type, ...]] = {
    "offers.imap": bool,
    "offers.pop3": bool,
    "offers.exchange": bool,
    "offers.activesync": bool,
    "seen.imap": str,
    "seen.pop3": str,
    "seen.smtp": str,
    "seen.exchange": str,
    "discovery.known": str,
    "discovery.unchecked": str,
    "discovery.conclusive": bool,
    "discovery.live": bool,
    "exchange.hosted": str,
    "provider.hosted_by": str,
    "provider.requires_oauth2": bool,
    "webmail.known": bool,
    "webmail.url": str,
    "offers.caldav": bool,
    "offers.carddav": bool,
    "dav.caldav_url": str,
    "dav.carddav_url": str,
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
    "occasional": bool,
    "backed_up": bool,
    "data_residency": bool,
    "clients": tuple,
}
NAMES: dict[str, type | tuple[type, ...]] = {**NEED_TYPES, **FACT_TYPES}
FACT_DEFAULTS: dict[str, object] = {
    "webmail.known": False,
    "webmail.url": "",
    "offers.caldav": False,
    "offers.carddav": False,
    "dav.caldav_url": "",
    "dav.carddav_url": "",
}


def facts_from_report(report: DiscoveryReport) -> dict[str, object]:
    """The facts the rules may use, from a discovery report (fresh, or a saved one
    read with :func:`advisor.report.from_json`).

    ``seen.<protocol>`` is ``verified`` (live), ``unverified`` (named by a source, not
    reachable from here), ``absent`` (missing, seen by a discovery that could see the
    provider) or ``unknown``; only ``absent`` lets a rule exclude a protocol. Reports
    saved before ``reach`` existed are read the old way.
    """
    live = report.live
    exchange = report.exchange or ExchangeFacts()
    provider = report.provider
    on_m365 = exchange.hosted == "microsoft365"
    has_exchange = bool(exchange.ews_url or exchange.activesync_url or on_m365)
    found_any = bool(report.incoming) or has_exchange
    reach = report.reach or _old_reach(report, has_exchange)
    seen = {
        "imap": reach.imap.value,
        "pop3": reach.pop3.value,
        "smtp": reach.smtp.value,
        "exchange": reach.exchange.value,
    }
    states = set(seen.values())
    known = next((s for s in ("verified", "unverified") if s in states), "nothing")
    return {
        "offers.imap": reach.imap in (Reach.VERIFIED, Reach.UNVERIFIED),
        "offers.pop3": reach.pop3 in (Reach.VERIFIED, Reach.UNVERIFIED),
        "offers.exchange": has_exchange,
        "offers.activesync": bool(exchange.activesync_url) or on_m365,
        "seen.imap": seen["imap"],
        "seen.pop3": seen["pop3"],
        "seen.smtp": seen["smtp"],
        "seen.exchange": seen["exchange"],
        "discovery.known": known,
        "discovery.unchecked": ",".join(u.value for u in reach.unchecked),
        # "Not offered" means something only when discovery saw the provider.
        "discovery.conclusive": live and found_any,
        "discovery.live": live,
        "exchange.hosted": exchange.hosted or "none",
        "provider.hosted_by": (provider.hosted_by if provider else None) or "none",
        "provider.requires_oauth2": bool(provider and provider.requires_oauth2),
        "webmail.known": report.webmail is not None,
        "webmail.url": report.webmail.url if report.webmail is not None else "",
        "offers.caldav": bool(report.dav.caldav),
        "offers.carddav": bool(report.dav.carddav),
        "dav.caldav_url": report.dav.caldav[0].url if report.dav.caldav else "",
        "dav.carddav_url": report.dav.carddav[0].url if report.dav.carddav else "",
    }


def _old_reach(report: DiscoveryReport, has_exchange: bool) -> Reachability:
    """A report saved without ``reach``: live and verified, only named, or missing."""
    live = report.live
    conclusive = live and (bool(report.incoming) or has_exchange)

    def state(servers: tuple[Candidate, ...], protocol: Protocol) -> Reach:
        named = [c for c in servers if c.endpoint.protocol is protocol]
        if live and any(c.verified for c in named):
            return Reach.VERIFIED
        if named:
            return Reach.UNVERIFIED
        return Reach.ABSENT if conclusive else Reach.UNKNOWN

    if has_exchange:
        exchange = Reach.VERIFIED if live else Reach.UNVERIFIED
    else:
        exchange = Reach.ABSENT if conclusive else Reach.UNKNOWN
    return Reachability(
        dns=DnsHealth.OK if live else DnsHealth.UNKNOWN,
        imap=state(report.incoming, Protocol.IMAP),
        pop3=state(report.incoming, Protocol.POP3),
        smtp=state(report.outgoing, Protocol.SMTP),
        exchange=exchange,
        unchecked=() if live else (Unchecked.DNS,),
    )


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
    webmail_score: int = 0
    webmail_reasons: tuple[tuple[Rule, int], ...] = ()  # rules that weighed on webmail

    @property
    def webmail_suffices(self) -> bool:
        return self.webmail_score >= WEBMAIL_SUFFICES

    @property
    def calendars(self) -> str:
        """How calendars will sync: exchange, caldav, none (not wanted) or unavailable."""
        return self._groupware(self.needs.calendars.value, "offers.caldav", "caldav")

    @property
    def contacts(self) -> str:
        """How contacts will sync: exchange, carddav, none (not wanted) or unavailable."""
        return self._groupware(self.needs.contacts.value, "offers.carddav", "carddav")

    def _groupware(self, need: str, offered: str, dav: str) -> str:
        if need == "none":
            return "none"
        facts = {**FACT_DEFAULTS, **self.facts}
        exchange_open = any(c.protocol == "exchange" and not c.excluded for c in self.ranking)
        if self.recommended == "exchange" or (facts.get("offers.exchange") and exchange_open):
            return "exchange"
        if facts.get(offered):
            return dav
        return "unavailable"

    @property
    def webmail_url(self) -> str | None:
        url = self.facts.get("webmail.url")
        return url if isinstance(url, str) and url else None

    @property
    def confidence_label(self) -> str:
        if self.confidence >= 0.8:
            return "high"
        return "medium" if self.confidence >= 0.6 else "low"


def recommend(needs: Needs, facts: Mapping[str, object], rules: RuleSet) -> Recommendation:
    # Facts newer than a caller's fact table read as "not known".
    values: dict[str, object] = {**FACT_DEFAULTS, **needs.values(), **facts}
    scores = dict.fromkeys(PROTOCOLS, 0)
    reasons: dict[str, list[tuple[Rule, int]]] = {p: [] for p in PROTOCOLS}
    excluded: dict[str, list[Rule]] = {p: [] for p in PROTOCOLS}
    caveats: dict[str, list[Rule]] = {p: [] for p in PROTOCOLS}
    fired: list[Rule] = []
    webmail: list[tuple[Rule, int]] = []
    for rule in rules.active():
        if not rule.when.evaluate(values):
            continue
        fired.append(rule)
        if rule.webmail:
            webmail.append((rule, rule.webmail))
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
    if best is not None:
        # Only as sure as what discovery knows of the winner (a network failure on
        # our side lowers confidence; it never empties the recommendation).
        state = facts.get(f"seen.{best.protocol}")
        if isinstance(state, str) and state in CONFIDENCE_CAP:
            confidence = min(confidence, CONFIDENCE_CAP[state])
    # POP3: keep a safety copy on the server unless one backed-up computer is all;
    # webmail and phone apps show only what stays there, so they need it too.
    leave = not (
        needs.backed_up
        and needs.devices == 1
        and needs.desktops + needs.laptops == 1
        and not needs.webmail_too
    )
    return Recommendation(
        recommended=best.protocol if best else None,
        confidence=round(confidence, 2),
        ranking=tuple(choices),
        fired=tuple(fired),
        needs=needs,
        facts=dict(facts),
        leave_on_server=leave,
        keep_days=POP3_KEEP_DAYS if leave else None,
        webmail_score=sum(points for _, points in webmail),
        webmail_reasons=tuple(webmail),
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
        "webmail": {
            "suffices": rec.webmail_suffices,
            "url": rec.webmail_url,
            "reasons": [
                {**rule_ref(r), "points": n}
                for r, n in rec.webmail_reasons
                if (n > 0) == rec.webmail_suffices
            ],
        },
        "groupware": {"calendars": rec.calendars, "contacts": rec.contacts},
        "needs": {k: list(v) if isinstance(v, tuple) else v for k, v in rec.needs.values().items()},
        "facts": dict(rec.facts),
    }
