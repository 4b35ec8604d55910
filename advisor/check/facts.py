"""The facts ``advisor check`` replays the clients' rules over, and how each server fared.

One discovery (every source, every probe) gives a :class:`DiscoveryReport` plus
what each source said in its own order (:attr:`Discovery.source_results`).
Two things no discovery fact answers are fetched once more, and only when the
domain publishes an autoconfig file: the file's bytes (for ``lint``), and
whether the same URL answers *without* ``?emailaddress=``, as Thunderbird for
Android asks it (``RealAutoDiscoveryRegistry``: ``includeEmailAddress = false``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from advisor.models import (
    Candidate,
    DiscoveryReport,
    Endpoint,
    ProbeResult,
    ProbeStatus,
    Security,
    Source,
)

if TYPE_CHECKING:
    from advisor.formats.lint import LintReport
    from advisor.sources import SourceResult


class Health(StrEnum):
    """What a client meets when it connects to one server, from the live probe."""

    OK = "ok"  # TLS with a valid certificate
    PLAIN = "plain"  # answers, but only in clear text
    CERT_UNTRUSTED = "cert-untrusted"  # TLS, certificate expired or from an unknown CA
    CERT_MISMATCH = "cert-mismatch"  # TLS, certificate for other host names
    NO_STARTTLS = "no-starttls"  # STARTTLS stated, not offered
    UNREACHABLE = "unreachable"  # no address, refused, filtered, wrong protocol...
    UNKNOWN = "unknown"  # not probed (offline, or abandoned at the budget)


@dataclass(frozen=True)
class Refetch:
    """The autoconfig URL asked again: the bytes, and the answer without the address."""

    url: str  # without the query string
    body: bytes | None  # the document as served (None: not fetched)
    without_address_status: int | None  # HTTP status without ?emailaddress= (None: failed)
    without_address_detail: str
    without_address_trusted: bool


@dataclass(frozen=True)
class Facts:
    """Everything one discovery learned about a domain, indexed for the simulations."""

    domain: str  # ASCII
    domain_unicode: str
    report: DiscoveryReport
    results: tuple[SourceResult, ...]
    refetch: Refetch | None = None
    lint: LintReport | None = None

    def source(self, source: Source) -> SourceResult | None:
        """The result of ``source`` that named servers or Exchange facts, else any."""
        fallback = None
        for result in self.results:
            if result.source is source:
                if result.servers or result.exchange is not None:
                    return result
                fallback = fallback or result
        return fallback

    def candidate(self, endpoint: Endpoint) -> Candidate | None:
        """The report's entry for the server a source named (a STARTTLS port found
        plaintext-only is listed as ``plain``: its probe is the one asked)."""
        for c in (*self.report.incoming, *self.report.outgoing):
            probed = c.probe.endpoint if c.probe is not None else c.endpoint
            if endpoint.key in (probed.key, c.endpoint.key):
                return c
        return None

    def probe(self, endpoint: Endpoint) -> ProbeResult | None:
        c = self.candidate(endpoint)
        return c.probe if c is not None else None

    def health(self, endpoint: Endpoint) -> tuple[Health, str]:
        """How a client connecting to ``endpoint`` as stated fares, and why."""
        result = self.probe(endpoint)
        if result is None:
            return Health.UNKNOWN, "not probed"
        status = result.status
        if status is ProbeStatus.OK:
            if endpoint.security is Security.PLAIN:
                return Health.PLAIN, result.detail
            return Health.OK, result.detail
        if status is ProbeStatus.NO_STARTTLS:
            if endpoint.security is Security.PLAIN:
                return Health.PLAIN, result.detail
            return Health.NO_STARTTLS, result.detail
        if status is ProbeStatus.CERT_INVALID:
            tls = result.facts.tls
            cert = tls.certificate if tls is not None else None
            error = (cert.error or "") if cert is not None else ""
            if "mismatch" in error.lower() or "not valid for" in error.lower():
                return Health.CERT_MISMATCH, result.detail
            if cert is not None and cert.names and not _covers(cert.names, endpoint.hostname):
                return Health.CERT_MISMATCH, result.detail
            return Health.CERT_UNTRUSTED, result.detail
        if status is ProbeStatus.CANCELLED:
            return Health.UNKNOWN, result.detail
        return Health.UNREACHABLE, result.detail


def _covers(names: tuple[str, ...], host: str) -> bool:
    """RFC 6125 §6.4.3: one wildcard, in the left-most label only."""
    host = host.lower().rstrip(".")
    for given in names:
        name = given.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False
