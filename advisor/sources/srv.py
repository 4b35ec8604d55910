"""RFC 6186 / RFC 8314 SRV records for mail submission and access.

RFC 6186 §3 names the services; RFC 8314 §5.1 adds ``_submissions`` and asks
clients to prefer implicit TLS. RFC 2782 orders targets: lowest priority
first, then a weighted random pick among equal priorities. A single record
whose target is ``.`` means the service is decidedly not offered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from advisor.models import Endpoint, Protocol, Security
from advisor.net.resolver import DnsAnswer, DnsClient

# (service label, protocol, security) in RFC 8314 preference order.
SERVICES: tuple[tuple[str, Protocol, Security], ...] = (
    ("_imaps._tcp", Protocol.IMAP, Security.SSL),
    ("_imap._tcp", Protocol.IMAP, Security.STARTTLS),
    ("_pop3s._tcp", Protocol.POP3, Security.SSL),
    ("_pop3._tcp", Protocol.POP3, Security.STARTTLS),
    ("_submissions._tcp", Protocol.SMTP, Security.SSL),
    ("_submission._tcp", Protocol.SMTP, Security.STARTTLS),
)


@dataclass(frozen=True)
class SrvTarget:
    endpoint: Endpoint
    priority: int
    weight: int


@dataclass(frozen=True)
class SrvLookup:
    service: str  # e.g. "_imaps._tcp"
    query_name: str
    protocol: Protocol
    security: Security
    answer: DnsAnswer
    targets: tuple[SrvTarget, ...]  # RFC 2782 order
    not_offered: bool  # a lone "." target

    @property
    def best_priority(self) -> int | None:
        return min((t.priority for t in self.targets), default=None)


def rfc2782_order(
    records: list[tuple[int, int, int, str]], rng: random.Random
) -> list[tuple[int, int, int, str]]:
    """Order ``(priority, weight, port, target)`` as RFC 2782 §"Usage rules" says."""
    out: list[tuple[int, int, int, str]] = []
    for priority in sorted({r[0] for r in records}):
        # Zero-weight records first in the running sum, so they are picked rarely.
        group = sorted((r for r in records if r[0] == priority), key=lambda r: r[1] != 0)
        while group:
            total = sum(r[1] for r in group)
            pick = rng.randint(0, total)
            running = 0
            for index, record in enumerate(group):
                running += record[1]
                if running >= pick:
                    out.append(group.pop(index))
                    break
    return out


def lookup(
    dns: DnsClient,
    domain: str,
    service: str,
    protocol: Protocol,
    security: Security,
    *,
    deadline: float,
    rng: random.Random | None = None,
) -> SrvLookup:
    name = f"{service}.{domain}"
    answer = dns.query(name, "SRV", deadline=deadline)
    raw = [
        (
            int(r.priority),
            int(r.weight),
            int(r.port),
            r.target.to_text(omit_final_dot=True).lower(),
        )
        for r in answer.records
    ]
    not_offered = len(raw) == 1 and raw[0][3] in ("", ".")
    usable = [r for r in raw if r[3] not in ("", ".") and 0 < r[2] < 65536]
    # Stable per domain, so two runs print the same report; still weighted.
    ordered = rfc2782_order(usable, rng or random.Random(name))
    targets = tuple(
        SrvTarget(Endpoint(protocol, target, port, security), priority, weight)
        for priority, weight, port, target in ordered
    )
    return SrvLookup(service, name, protocol, security, answer, targets, not_offered)


def preferred_incoming(lookups: list[SrvLookup]) -> Protocol | None:
    """RFC 6186 §3.4: priorities across IMAP and POP3 records state the preference."""
    best: dict[Protocol, int] = {}
    for item in lookups:
        if item.protocol.incoming and item.best_priority is not None:
            current = best.get(item.protocol)
            if current is None or item.best_priority < current:
                best[item.protocol] = item.best_priority
    if Protocol.IMAP in best and Protocol.POP3 in best:
        return Protocol.POP3 if best[Protocol.POP3] < best[Protocol.IMAP] else Protocol.IMAP
    return None
