"""Frozen values and string enums shared by every layer.

Data flows one way (address -> sources -> candidates -> report); nothing in
here does I/O. Enum values are the exact strings of the JSON contract
(``advisor.discovery/1``), so serialising is ``str(member)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Protocol(StrEnum):
    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"

    @property
    def incoming(self) -> bool:
        return self is not Protocol.SMTP


class Security(StrEnum):
    """How the session is protected. ``STARTTLS`` is an upgrade of a plain session."""

    SSL = "ssl"  # implicit TLS from the first byte (RFC 8314 prefers it)
    STARTTLS = "starttls"
    PLAIN = "plain"


class Source(StrEnum):
    """Where a fact came from. Order of declaration is not the ranking."""

    GIVEN = "given"  # typed by the person: --imap/--pop3/--smtp/--ews, answers, CSV
    LOCAL = "local"  # --config-dir override folder, like Thunderbird's isp/
    AUTOCONFIG = "autoconfig"
    ISPDB = "ispdb"
    MX = "mx"
    SRV = "srv"
    AUTODISCOVER = "autodiscover"
    GUESS = "guess"
    CATALOGUE = "catalogue"
    WELL_KNOWN = "well-known"  # RFC 6764: /.well-known/caldav|carddav on the domain
    PROBE = "probe"  # a live conversation with a server (steps only)
    DNS = "dns"  # plain record lookups: MX, TXT, CNAME (steps only)


class StepStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not-found"
    ERROR = "error"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


class ProbeStatus(StrEnum):
    """Outcome of one live conversation with one server. Only OK verifies."""

    OK = "ok"  # spoke the protocol with the stated security and a valid certificate
    CERT_INVALID = "cert-invalid"  # spoke the protocol, but the certificate failed
    NO_STARTTLS = "no-starttls"  # plain session works but STARTTLS is not offered
    DNS_ERROR = "dns-error"  # the host name has no address
    REFUSED = "refused"  # TCP RST: nothing listens
    FILTERED = "filtered"  # no TCP handshake at all: a firewall drops the packets
    TIMEOUT = "timeout"  # connected, but the server did not finish in time
    TLS_ERROR = "tls-error"  # the TLS handshake failed for a reason other than the certificate
    PROTOCOL_ERROR = "protocol-error"  # garbage, wrong protocol, reset, oversized reply
    CANCELLED = "cancelled"  # the answer was ready before this probe finished


@dataclass(frozen=True)
class CertificateFacts:
    """What the server's leaf certificate says, whether or not it validated."""

    subject: str  # RFC 4514 string of the subject
    names: tuple[str, ...]  # subjectAltName DNS names (or the CN if there are none)
    issuer: str
    not_before: str  # ISO 8601, UTC
    not_after: str
    valid: bool  # chain and host name validated against the trust store
    error: str | None = None  # validation error when not valid


@dataclass(frozen=True)
class TLSFacts:
    version: str  # e.g. "TLSv1.3"
    cipher: str
    certificate: CertificateFacts | None


@dataclass(frozen=True)
class Endpoint:
    """A server to reach: what the sources name and what the probes test."""

    protocol: Protocol
    hostname: str  # ASCII (punycode) host name, lower case, no trailing dot
    port: int
    security: Security

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.protocol.value, self.hostname, self.port, self.security.value)

    def __str__(self) -> str:
        return f"{self.protocol}://{self.hostname}:{self.port} ({self.security})"


@dataclass(frozen=True)
class ProtocolFacts:
    """What a protocol speaker learned from a server (no login is ever attempted)."""

    greeting: str = ""
    capabilities_before: tuple[str, ...] = ()  # plain session (or the only one with SSL)
    capabilities_after: tuple[str, ...] = ()  # after STARTTLS
    login_disabled: bool = False  # IMAP LOGINDISABLED on the session a client would log in on
    auth_mechanisms: tuple[str, ...] = ()  # SASL mechanisms offered on that session
    tls: TLSFacts | None = None


@dataclass(frozen=True)
class ProbeResult:
    endpoint: Endpoint
    status: ProbeStatus
    detail: str  # one human line: why, or what was found
    address: str | None = None  # the IP address that answered
    connect_ms: float | None = None  # TCP handshake time: the host's round trip
    elapsed_ms: float = 0.0
    facts: ProtocolFacts = field(default_factory=ProtocolFacts)

    @property
    def verified(self) -> bool:
        return self.status is ProbeStatus.OK

    @property
    def spoke_protocol(self) -> bool:
        """The server answered in the expected protocol, even if not verified."""
        return self.status in (ProbeStatus.OK, ProbeStatus.CERT_INVALID, ProbeStatus.NO_STARTTLS)


@dataclass(frozen=True)
class Step:
    """One line of the per-step report."""

    source: str
    target: str
    status: StepStatus
    elapsed_ms: float
    detail: str
    trusted: bool = False


@dataclass(frozen=True)
class Candidate:
    """A server a client could be configured with, best first in the report."""

    endpoint: Endpoint
    username: str
    sources: tuple[Source, ...]
    verified: bool
    auth: tuple[str, ...] = ()
    probe: ProbeResult | None = None
    srv_priority: int | None = None  # RFC 6186 priority when an SRV record named it
    stated_auth: tuple[str, ...] = ()  # what the configuration sources say (Mozilla words)
    leave_on_server: bool | None = None  # POP3: a source's leave-messages-on-server choice


@dataclass(frozen=True)
class ExchangeFacts:
    ews_url: str | None = None
    activesync_url: str | None = None
    autodiscover_url: str | None = None
    auth: tuple[str, ...] = ()
    hosted: str | None = None  # "microsoft365" | "on-premises" | None


@dataclass(frozen=True)
class WebmailFacts:
    """The provider's webmail: an https URL, and the sources that name it (best first)."""

    url: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class DavEndpoint:
    """A CalDAV or CardDAV URL (RFC 6764 discovery starts there), with where it came from."""

    url: str
    sources: tuple[Source, ...]
    verified: bool = False  # answered as a DAV server without credentials
    detail: str = ""  # one line: what the check saw, or why it was not checked


@dataclass(frozen=True)
class DavFacts:
    """Calendars (CalDAV, RFC 4791) and contacts (CardDAV, RFC 6352), best first."""

    caldav: tuple[DavEndpoint, ...] = ()
    carddav: tuple[DavEndpoint, ...] = ()


@dataclass(frozen=True)
class ProviderFacts:
    id: str
    name: str
    hosted_by: str | None = None  # "microsoft365", "google", ... from cheap DNS signals
    requires_oauth2: bool = False  # password logins to IMAP/POP/SMTP are refused


class Reach(StrEnum):
    """What discovery knows about one way in (IMAP, POP3, SMTP, Exchange).

    Only ``ABSENT`` may exclude a protocol: a server a trusted source names but that
    could not be reached from here is ``UNVERIFIED``, not "not offered"; and when the
    network hid the provider (DNS down or filtered, ports dropped) nothing is absent,
    only ``UNKNOWN``.
    """

    VERIFIED = "verified"  # a live conversation with a server proved it
    UNVERIFIED = "unverified"  # named by a source (or half-answered), not verified from here
    ABSENT = "absent"  # missing, as seen by a discovery that could see the provider
    UNKNOWN = "unknown"  # neither found nor seen to be missing


class DnsHealth(StrEnum):
    """The resolver's view, judged before anything is concluded from its answers."""

    OK = "ok"  # it answers about the domain (or says so with a real top-level domain)
    FILTERED = "filtered"  # even the top-level domain "does not exist": a filtered view
    DOWN = "down"  # it answered no query
    UNKNOWN = "unknown"  # the domain "does not exist" and the TLD check got no answer
    OFFLINE = "offline"  # not asked (--offline)


class Unchecked(StrEnum):
    """Why something named could not be checked from this network."""

    DNS = "dns"  # the DNS server gives no usable answers (down, filtered, no answer)
    FILTERED = "filtered"  # no TCP handshake: a firewall drops the packets
    REFUSED = "refused"  # the connection was refused
    TIMEOUT = "timeout"  # connected or waited, but no answer in time
    OFFLINE = "offline"  # --offline: nothing was asked


@dataclass(frozen=True)
class Reachability:
    dns: DnsHealth
    imap: Reach
    pop3: Reach
    smtp: Reach
    exchange: Reach
    unchecked: tuple[Unchecked, ...] = ()  # reasons, in declaration order


@dataclass(frozen=True)
class DiscoveryReport:
    address: str  # as the user typed it, with the domain in Unicode
    domain: str  # Unicode form, for people
    domain_ascii: str  # punycode, what was looked up
    incoming: tuple[Candidate, ...]
    outgoing: tuple[Candidate, ...]
    exchange: ExchangeFacts | None
    provider: ProviderFacts | None
    steps: tuple[Step, ...]
    warnings: tuple[str, ...]
    elapsed_ms: float
    notes: tuple[str, ...] = ()  # provider facts that change the advice
    live: bool = True  # False when nothing could be checked live (--offline, DNS unusable)
    reach: Reachability | None = None  # what is verified, only named, absent or unknown
    # Registrable domains a password may go to without a warning: the address's, its
    # MX hosts', its known mail provider's (advisor.offdomain). Empty: not recorded.
    home_domains: tuple[str, ...] = ()
    webmail: WebmailFacts | None = None  # the provider's webmail, when a source names it
    dav: DavFacts = field(default_factory=DavFacts)  # calendars and contacts without Exchange

    @property
    def usable(self) -> bool:
        """A client could be set up: a verified incoming server, or Exchange endpoints;
        when nothing could be checked live, a known configuration (catalogue, local file)."""
        if any(c.verified for c in self.incoming):
            return True
        if self.exchange is not None and (
            self.exchange.ews_url is not None or self.exchange.activesync_url is not None
        ):
            return True
        return not self.live and bool(self.incoming)
