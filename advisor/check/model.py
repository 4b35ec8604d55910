"""What ``advisor check`` answers: per client, per publication check, and a grade.

The grade (documented in docs/check.md, and here because the code is the rule)::

    points = 100
           - 20 per client that leaves the user to type the settings ("manual"),
                except Apple Mail on a domain that is neither Exchange nor a
                built-in Apple provider: nothing a domain publishes changes it
           - 10 per client that configures only after a warning or a question
           - 15 per publication check in error
           -  5 per publication check with a warning
    A >= 90, B >= 80, C >= 65, D >= 50, E >= 30, else F;
    F whenever no client configures at all (with or without a prompt).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from advisor.models import Endpoint


class Outcome(StrEnum):
    CONFIGURED = "configured"  # the client sets the account up by itself
    PROMPTED = "prompted"  # ... after a warning or a question the user must answer
    MANUAL = "manual"  # the user must type the settings


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


STEPS: tuple[str, ...] = (
    "isp-folder",  # Thunderbird's isp/ folder (--config-dir)
    "autoconfig",  # the domain's own autoconfig file
    "ispdb",
    "mx",  # a configuration found through the MX host's domain
    "autodiscover",  # Microsoft Autodiscover (POX)
    "guess",  # Thunderbird's guessing
    "microsoft365",  # Outlook's direct connection to Microsoft 365
    "builtin",  # an Apple built-in account type
    "exchange",  # Apple's Exchange account (Autodiscover)
    "none",  # nothing found: the user types the settings
)
"""The values of ``ClientResult.step`` (``step`` in the JSON), whatever the language."""

CLIENTS: tuple[str, ...] = ("thunderbird", "thunderbird-android", "outlook", "apple-mail")
"""The simulated clients, in the order of the report (the keys of ``clients``)."""


@dataclass(frozen=True)
class Problem:
    code: str  # stable, kebab-case
    message: str  # one line for people, in the report's language


@dataclass(frozen=True)
class ClientResult:
    client: str  # one of CLIENTS
    outcome: Outcome
    incoming: Endpoint | None  # the server the client would end with
    outgoing: Endpoint | None
    via: str  # the step that decided it, e.g. "autoconfig https://autoconfig.D/..."
    problems: tuple[Problem, ...] = ()
    exchange_url: str | None = None  # an Exchange account instead of IMAP/POP
    unknowable: tuple[str, ...] = ()  # what no outside check can tell
    publication_bound: bool = True  # False: nothing the domain publishes changes it
    step: str = "none"  # `via` as a stable token: see STEPS


@dataclass(frozen=True)
class PublicationCheck:
    check: str  # stable id, e.g. "autoconfig-https"
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class CheckReport:
    domain: str  # Unicode, for people
    domain_ascii: str
    clients: tuple[ClientResult, ...]
    publication: tuple[PublicationCheck, ...]
    elapsed_ms: float
    live: bool = True

    @property
    def points(self) -> int:
        points = 100
        for c in self.clients:
            if c.outcome is Outcome.MANUAL and c.publication_bound:
                points -= 20
            elif c.outcome is Outcome.PROMPTED:
                points -= 10
        for p in self.publication:
            points -= {Status.ERROR: 15, Status.WARNING: 5, Status.OK: 0}[p.status]
        return max(points, 0)

    @property
    def grade(self) -> str:
        if all(c.outcome is Outcome.MANUAL for c in self.clients):
            return "F"
        points = self.points
        for letter, floor in (("A", 90), ("B", 80), ("C", 65), ("D", 50), ("E", 30)):
            if points >= floor:
                return letter
        return "F"

    @property
    def all_configured(self) -> bool:
        return all(c.outcome is Outcome.CONFIGURED for c in self.clients)
