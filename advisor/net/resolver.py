"""The one resolver every name lookup goes through.

DNS records (MX, SRV, TXT, CNAME) *and* the addresses of every server the
probes connect to are looked up here, with dnspython, so that ``--dns`` shows
a domain exactly as a given (e.g. internal) DNS server sees it. The system's
``getaddrinfo`` is never used for mail hosts.

A lookup never raises for a DNS outcome: NXDOMAIN, no data, SERVFAIL and
timeouts are values of :class:`DnsStatus` (a timeout is "unknown", not "no").
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from advisor.errors import AdvisorError

if TYPE_CHECKING:
    import dns.resolver

# One query's lifetime. A healthy recursive resolver answers in well under
# 100 ms; 3 s leaves room for one UDP retransmission (dnspython retries after
# its per-try timeout) without letting one dead server eat the whole budget.
DNS_QUERY_TIMEOUT = 3.0
# Per-try timeout inside that lifetime, so a lost UDP packet is re-sent soon.
DNS_TRY_TIMEOUT = 1.0
# EDNS0 payload size recommended by DNS Flag Day 2020 to avoid fragmentation.
EDNS_PAYLOAD = 1232
DNS_PORT = 53


class DnsStatus(StrEnum):
    FOUND = "found"
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists, without records of this type
    TIMEOUT = "timeout"  # no answer in time: unknown
    ERROR = "error"  # SERVFAIL, REFUSED, unreachable resolver, malformed reply


@dataclass(frozen=True)
class DnsAnswer:
    name: str
    rdtype: str
    status: DnsStatus
    records: tuple[Any, ...]  # dnspython rdata objects, in the order received
    ad: bool  # the resolver said the answer was DNSSEC-validated (AD bit)
    elapsed_ms: float
    detail: str
    canonical_name: str | None = None  # where CNAMEs led, if anywhere else

    @property
    def found(self) -> bool:
        return self.status is DnsStatus.FOUND


@dataclass(frozen=True)
class AddressAnswer:
    host: str
    addresses: tuple[str, ...]  # connect order: IPv6 and IPv4 interleaved, IPv6 first
    status: DnsStatus  # FOUND if any address; otherwise the more telling of A / AAAA
    ad: bool
    elapsed_ms: float
    detail: str


@dataclass(frozen=True)
class Nameserver:
    host: str  # an IP address
    port: int = DNS_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_INET_ATON_NUMBER = re.compile(r"0x[0-9a-f]*")


def parse_nameserver(spec: str) -> Nameserver:
    """Parse ``HOST[:PORT]`` (``[v6]:port`` for IPv6 with a port) or raise AdvisorError."""
    text = spec.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise AdvisorError(f"--dns {spec!r}: expected [IPv6]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    port = DNS_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise AdvisorError(f"--dns {spec!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    if not host:
        raise AdvisorError(f"--dns {spec!r}: no host")
    try:
        return Nameserver(str(ipaddress.ip_address(host)), port)
    except ValueError:
        pass
    # getaddrinfo() still reads inet_aton's shorthand ("1.2.3" is 1.2.0.3, "0x7f.1"
    # is 127.0.0.1): a host name never ends in a numeric label, so refuse it.
    last_label = host.rstrip(".").rsplit(".", 1)[-1].lower()
    if last_label.isdigit() or _INET_ATON_NUMBER.fullmatch(last_label):
        raise AdvisorError(f"--dns {spec!r}: {host!r} is not an IP address")
    # A name: locating the DNS server itself is the one job left to the system.
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise AdvisorError(f"--dns {spec!r}: cannot resolve {host!r}: {exc}") from None
    return Nameserver(str(info[0][4][0]), port)


def parse_nameservers(specs: Sequence[str]) -> list[Nameserver]:
    """Parse ``--dns`` values; each may also hold several, separated by commas or spaces."""
    out: list[Nameserver] = []
    for spec in specs:
        for part in spec.replace(",", " ").split():
            out.append(parse_nameserver(part))
    return out


class DnsClient:
    """Thread-safe wrapper around one dnspython resolver.

    ``nameservers`` empty means the system configuration (/etc/resolv.conf);
    ``cache_size`` > 0 keeps that many answers for their TTL. No I/O happens in the
    constructor beyond reading that file.
    """

    def __init__(
        self,
        nameservers: Sequence[Nameserver] = (),
        *,
        resolver: dns.resolver.Resolver | None = None,
        cache_size: int = 0,
    ) -> None:
        import dns.flags
        import dns.resolver

        if resolver is None:
            if nameservers:
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = [ns.host for ns in nameservers]
                resolver.nameserver_ports = {ns.host: ns.port for ns in nameservers}
            else:
                try:
                    resolver = dns.resolver.Resolver()
                except dns.resolver.NoResolverConfiguration:
                    raise AdvisorError(
                        "no DNS server is configured on this machine; use --dns HOST"
                    ) from None
            # RFC 6840 §5.7: setting AD in the query asks a validating resolver
            # to report whether it validated the answer.
            resolver.flags = dns.flags.RD | dns.flags.AD
            resolver.use_edns(0, 0, EDNS_PAYLOAD)
            resolver.timeout = DNS_TRY_TIMEOUT
        if cache_size:
            # Answers (negative ones too) kept for their TTL: a batch over thousands of
            # domains asks the same shared names (the hoster's servers, the TLD) once.
            resolver.cache = dns.resolver.LRUCache(cache_size)
        self._resolver = resolver

    def describe(self) -> str:
        ports = getattr(self._resolver, "nameserver_ports", {})
        parts = []
        for ns in self._resolver.nameservers:
            host = str(ns)
            port = ports.get(host, DNS_PORT)
            parts.append(str(Nameserver(host, port)) if port != DNS_PORT else host)
        return ", ".join(parts) or "none"

    def query(self, name: str, rdtype: str, *, deadline: float) -> DnsAnswer:
        import dns.exception
        import dns.flags
        import dns.name
        import dns.resolver

        started = time.monotonic()
        lifetime = min(DNS_QUERY_TIMEOUT, deadline - started)

        def done(
            status: DnsStatus,
            detail: str,
            records: tuple[Any, ...] = (),
            ad: bool = False,
            canonical: str | None = None,
        ) -> DnsAnswer:
            return DnsAnswer(
                name=name,
                rdtype=rdtype,
                status=status,
                records=records,
                ad=ad,
                elapsed_ms=(time.monotonic() - started) * 1000,
                detail=detail,
                canonical_name=canonical,
            )

        if lifetime <= 0:
            return done(DnsStatus.TIMEOUT, "no time left in the budget")
        try:
            answer = self._resolver.resolve(
                name, rdtype, lifetime=lifetime, search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return done(DnsStatus.NXDOMAIN, "no such name (NXDOMAIN)")
        except dns.resolver.LifetimeTimeout:
            return done(DnsStatus.TIMEOUT, f"no answer from {self.describe()} in {lifetime:.1f} s")
        except dns.resolver.NoNameservers as exc:
            return done(DnsStatus.ERROR, _no_nameservers_reason(exc))
        except dns.exception.DNSException as exc:
            return done(DnsStatus.ERROR, f"DNS error: {exc}")
        ad = bool(answer.response.flags & dns.flags.AD)
        canonical: str | None = answer.canonical_name.to_text(omit_final_dot=True).lower()
        if canonical == name.rstrip(".").lower():
            canonical = None
        if answer.rrset is None:
            return done(DnsStatus.NODATA, f"no {rdtype} record", ad=ad, canonical=canonical)
        records = tuple(answer.rrset)
        return done(
            DnsStatus.FOUND,
            f"{len(records)} {rdtype} record{'s' if len(records) != 1 else ''}",
            records,
            ad,
            canonical,
        )

    def addresses(self, host: str, *, deadline: float) -> AddressAnswer:
        """A and AAAA at the same time; addresses interleaved, IPv6 first (RFC 8305 §4)."""
        started = time.monotonic()
        box: list[DnsAnswer] = []
        thread = threading.Thread(
            target=lambda: box.append(self.query(host, "AAAA", deadline=deadline)),
            name=f"aaaa-{host}",
            daemon=True,
        )
        thread.start()
        v4 = self.query(host, "A", deadline=deadline)
        thread.join(max(0.0, deadline - time.monotonic()) + 0.5)
        v6 = box[0] if box else None
        v4_list = [r.address for r in v4.records]
        v6_list = [r.address for r in v6.records] if v6 is not None else []
        ordered: list[str] = []
        for i in range(max(len(v4_list), len(v6_list))):
            if i < len(v6_list):
                ordered.append(v6_list[i])
            if i < len(v4_list):
                ordered.append(v4_list[i])
        elapsed = (time.monotonic() - started) * 1000
        if ordered:
            ad = v4.ad and (v6 is None or not v6.found or v6.ad)
            return AddressAnswer(host, tuple(ordered), DnsStatus.FOUND, ad, elapsed, "")
        # No address: the most telling reason, NXDOMAIN first, then a failure.
        answers = [a for a in (v4, v6) if a is not None]
        for status in (DnsStatus.NXDOMAIN, DnsStatus.ERROR, DnsStatus.TIMEOUT, DnsStatus.NODATA):
            for a in answers:
                if a.status is status:
                    detail = a.detail if status is not DnsStatus.NODATA else "no address record"
                    return AddressAnswer(host, (), status, False, elapsed, detail)
        return AddressAnswer(host, (), DnsStatus.TIMEOUT, False, elapsed, "no answer")


def _no_nameservers_reason(exc: Exception) -> str:
    """Say which server failed how, without dnspython's long multi-part text."""
    errors = getattr(exc, "kwargs", {}).get("errors", [])
    reasons = []
    for err in errors[:3]:
        try:
            server, _tcp, _port, what, *_rest = err
        except ValueError:
            continue
        reasons.append(f"{server}: {what}")
    if reasons:
        return "DNS servers failed: " + "; ".join(str(r) for r in reasons)
    return "every DNS server failed (SERVFAIL or refused)"
