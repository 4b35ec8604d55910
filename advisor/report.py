"""Rendering a discovery report: JSON (the ``advisor.discovery/1`` contract) and text.

Pure functions from a report to data or text; the CLI decides where it goes.
The JSON keys listed in the README are a contract: later versions add keys,
never rename or remove them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from advisor import i18n
from advisor.errors import AdvisorError
from advisor.i18n import _
from advisor.models import (
    Candidate,
    CertificateFacts,
    DavEndpoint,
    DavFacts,
    DiscoveryReport,
    DnsHealth,
    Endpoint,
    ExchangeFacts,
    ProbeResult,
    ProbeStatus,
    Protocol,
    ProtocolFacts,
    ProviderFacts,
    Reach,
    Reachability,
    Security,
    Source,
    Step,
    StepStatus,
    TLSFacts,
    Unchecked,
    WebmailFacts,
)

if TYPE_CHECKING:
    from rich.console import Console

    from advisor.recommend import Choice, Recommendation

SCHEMA = "advisor.discovery/1"


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _certificate(cert: CertificateFacts | None) -> dict[str, Any] | None:
    if cert is None:
        return None
    return {
        "subject": cert.subject,
        "names": list(cert.names),
        "issuer": cert.issuer,
        "not_before": cert.not_before,
        "not_after": cert.not_after,
        "valid": cert.valid,
        "error": cert.error,
    }


def _probe(result: ProbeResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    facts = result.facts
    return {
        "status": str(result.status),
        "detail": result.detail,
        "address": result.address,
        "connect_ms": _ms(result.connect_ms),
        "elapsed_ms": _ms(result.elapsed_ms),
        "greeting": facts.greeting,
        "capabilities": list(facts.capabilities_after or facts.capabilities_before),
        "capabilities_before_starttls": list(facts.capabilities_before)
        if facts.capabilities_after
        else None,
        "login_disabled": facts.login_disabled,
        "tls": None
        if facts.tls is None
        else {
            "version": facts.tls.version,
            "cipher": facts.tls.cipher,
            "certificate": _certificate(facts.tls.certificate),
        },
    }


def candidate_json(c: Candidate) -> dict[str, Any]:
    return {
        "protocol": str(c.endpoint.protocol),
        "hostname": c.endpoint.hostname,
        "port": c.endpoint.port,
        "security": str(c.endpoint.security),
        "username": c.username,
        "auth": list(c.auth),
        "verified": c.verified,
        "sources": [str(s) for s in c.sources],
        "srv_priority": c.srv_priority,
        "stated_auth": list(c.stated_auth),
        "leave_on_server": c.leave_on_server,
        "probe": _probe(c.probe),
    }


def _exchange(e: ExchangeFacts | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "ews_url": e.ews_url,
        "activesync_url": e.activesync_url,
        "autodiscover_url": e.autodiscover_url,
        "auth": list(e.auth),
        "hosted": e.hosted,
    }


def _provider(p: ProviderFacts | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "id": p.id,
        "name": p.name,
        "hosted_by": p.hosted_by,
        "requires_oauth2": p.requires_oauth2,
    }


def reach_json(r: Reachability | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "dns": str(r.dns),
        "imap": str(r.imap),
        "pop3": str(r.pop3),
        "smtp": str(r.smtp),
        "exchange": str(r.exchange),
        "unchecked": [str(u) for u in r.unchecked],
    }


def step_json(s: Step) -> dict[str, Any]:
    return {
        "source": s.source,
        "target": s.target,
        "status": str(s.status),
        "trusted": s.trusted,
        "elapsed_ms": round(s.elapsed_ms, 1),
        "detail": s.detail,
    }


def to_json(report: DiscoveryReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "address": report.address,
        "domain": report.domain,
        "domain_ascii": report.domain_ascii,
        "incoming": [candidate_json(c) for c in report.incoming],
        "outgoing": [candidate_json(c) for c in report.outgoing],
        "exchange": _exchange(report.exchange),
        "provider": _provider(report.provider),
        "steps": [step_json(s) for s in report.steps],
        "warnings": list(report.warnings),
        "elapsed_ms": round(report.elapsed_ms, 1),
        "usable": report.usable,
        "live": report.live,
        "notes": list(report.notes),
        "reach": reach_json(report.reach),
        "home_domains": list(report.home_domains),
        "webmail": _webmail(report.webmail),
        "dav": {
            "caldav": [_dav(e) for e in report.dav.caldav],
            "carddav": [_dav(e) for e in report.dav.carddav],
        },
    }


def _dav(e: DavEndpoint) -> dict[str, Any]:
    return {
        "url": e.url,
        "sources": [str(s) for s in e.sources],
        "verified": e.verified,
        "detail": e.detail,
    }


def _webmail(w: WebmailFacts | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {"url": w.url, "sources": [str(s) for s in w.sources]}


# --------------------------------------------------------------- reading

# A saved report is handed around (a ticket, a colleague, a script): it is read
# as hostile input, once, into the frozen model, and nothing downstream sees
# the JSON. Limits are far above what discovery writes (tens of KB in all).
MAX_TEXT = 2000  # a step's detail, a server greeting, a warning
MAX_NAME = 320  # a user name (RFC 5321 §4.5.3.1: 64 + @ + 255), a provider's name
MAX_URL = 2048  # the de-facto URL limit of browsers and servers
MAX_SERVERS = 64  # candidates on each side
MAX_STEPS = 1000
MAX_ITEMS = 200  # capabilities, methods, certificate names, warnings, notes
MAX_MS = 1e9  # about 11 days: a timing, not a date

# RFC 4422 §3.1: SASL mechanism names (probes upper-case them).
_SASL = re.compile(r"[A-Z0-9_-]{1,20}")
# RFC 9110 §11.1: an authentication scheme is a token (Basic, NTLM, Negotiate, Bearer).
_HTTP_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,39}")
# Provider and hosting ids ("microsoft365", "gmx.com"): lower-case names.
_ID = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?")
# Mozilla autoconfig placeholders: a report names concrete logins, never templates.
_PLACEHOLDER = re.compile(r"%[A-Za-z]+%")
EXCHANGE_HOSTING = ("microsoft365", "on-premises")

_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")


class ReportError(AdvisorError):
    """A saved report that is not a valid ``advisor.discovery/1`` document."""


class WrongAddressError(AdvisorError):
    """The report was made for another address than the command's."""


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        from advisor.formats.text import short

        return f"the string {short(value)}"
    if isinstance(value, int | float):
        return f"the number {value!r}"[:60]
    return "a list" if isinstance(value, list) else "an object"


def _bad(where: str, expected: str, value: object) -> ReportError:
    return ReportError(f"{where}: expected {expected}, got {_kind(value)}")


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, "an object", value)
    return value


def _list(value: object, where: str, limit: int, *, null_ok: bool = True) -> list[Any]:
    if value is None and null_ok:
        return []
    if not isinstance(value, list):
        raise _bad(where, "a list", value)
    if len(value) > limit:
        raise ReportError(f"{where}: {len(value)} items; at most {limit}")
    return value


def _items(
    value: object, where: str, limit: int, read: Callable[[object, str], _T]
) -> tuple[_T, ...]:
    return tuple(read(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where, limit)))


def _text_or_none(value: object, where: str, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(where, "a string", value)
    if len(value) > limit:
        raise ReportError(f"{where}: {len(value)} characters long; at most {limit}")
    from advisor.formats.text import unsafe_char

    bad = unsafe_char(value)
    if bad is not None:
        raise ReportError(f"{where}: holds the control or bidi character {bad}")
    return value


def _text(value: object, where: str, limit: int = MAX_TEXT) -> str:
    text = _text_or_none(value, where, limit)
    if text is None:
        raise _bad(where, "a string", value)
    return text


def _line(value: object, where: str) -> str:
    return _text(value, where)


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, "true or false", value)
    return value


def _int(value: object, where: str, low: int, high: int) -> int:
    # bool is an int in Python and 993.7 a float: both are refused, never rounded.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(where, f"an integer from {low} to {high}", value)
    return value


def _duration(value: object, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_MS
    ):
        raise _bad(where, "a duration in milliseconds", value)
    return float(value)


def _enum(cls: type[_E], value: object, where: str) -> _E:
    if isinstance(value, str) and value in cls._value2member_map_:
        return cls(value)
    raise _bad(where, "one of " + ", ".join(m.value for m in cls), value)


def hostname(value: object, where: str) -> str:
    """A host name as discovery writes them (ASCII, lower case), or ReportError."""
    from advisor.formats.text import normalise_hostname

    text = _text(value, where, limit=300)
    name = normalise_hostname(text) if text.strip() == text else None
    if name is None:
        raise _bad(where, "a host name", value)
    return name


def https_url(value: object, where: str) -> str | None:
    """An ``https://`` URL with a valid host name, or None; ReportError otherwise."""
    from advisor.formats.text import url_problem

    text = _text_or_none(value, where, limit=MAX_URL)
    if not text:
        return None
    problem = url_problem(text)
    if problem is not None:
        raise _bad(where, problem, value)
    return text


def _sasl(value: object, where: str) -> str:
    text = _text(value, where, limit=20)
    if not _SASL.fullmatch(text):
        raise _bad(where, "a SASL mechanism name", value)
    return text


def _stated_auth(value: object, where: str) -> str:
    from advisor.formats.mozilla import AUTH_METHODS

    text = _text(value, where, limit=40)
    sasl = text.startswith("SASL ") and _SASL.fullmatch(text[5:])
    if text not in AUTH_METHODS and not sasl:
        raise _bad(
            where, "an autoconfig authentication method (password-cleartext, OAuth2...)", value
        )
    return text


def _http_scheme(value: object, where: str) -> str:
    text = _text(value, where, limit=40)
    if not _HTTP_SCHEME.fullmatch(text):
        raise _bad(where, "an HTTP authentication scheme", value)
    return text


def _id(value: object, where: str) -> str | None:
    text = _text_or_none(value, where, limit=100)
    if text is not None and not _ID.fullmatch(text):
        raise _bad(where, "a lower-case id such as microsoft365", value)
    return text


def _username(value: object, where: str) -> str:
    text = _text_or_none(value, where, limit=MAX_NAME) or ""
    if text != text.strip() or (text and not text.isprintable()):
        raise _bad(where, "a user name without spaces at the ends", value)
    if _PLACEHOLDER.search(text):
        raise _bad(where, "a user name (not a %PLACEHOLDER% of a configuration file)", value)
    return text


def _ip(value: object, where: str) -> str | None:
    import ipaddress

    text = _text_or_none(value, where, limit=64)
    if text is None:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _bad(where, "an IP address", value) from None


def _certificate_from(value: object, where: str) -> CertificateFacts | None:
    if value is None:
        return None
    c = _obj(value, where)
    return CertificateFacts(
        subject=_text(c.get("subject", ""), f"{where}.subject"),
        names=_items(c.get("names"), f"{where}.names", MAX_ITEMS, _line),
        issuer=_text(c.get("issuer", ""), f"{where}.issuer"),
        not_before=_text(c.get("not_before", ""), f"{where}.not_before", 64),
        not_after=_text(c.get("not_after", ""), f"{where}.not_after", 64),
        valid=_bool(c.get("valid", False), f"{where}.valid"),
        error=_text_or_none(c.get("error"), f"{where}.error"),
    )


def _probe_from(value: object, where: str, endpoint: Endpoint) -> ProbeResult | None:
    if value is None:
        return None
    p = _obj(value, where)
    caps = _items(p.get("capabilities"), f"{where}.capabilities", MAX_ITEMS, _line)
    before = p.get("capabilities_before_starttls")
    tls = None
    if p.get("tls") is not None:
        t = _obj(p["tls"], f"{where}.tls")
        tls = TLSFacts(
            version=_text(t.get("version", ""), f"{where}.tls.version", 64),
            cipher=_text(t.get("cipher", ""), f"{where}.tls.cipher", 200),
            certificate=_certificate_from(t.get("certificate"), f"{where}.tls.certificate"),
        )
    facts = ProtocolFacts(
        greeting=_text(p.get("greeting", ""), f"{where}.greeting"),
        capabilities_before=caps
        if before is None
        else _items(before, f"{where}.capabilities_before_starttls", MAX_ITEMS, _line),
        capabilities_after=() if before is None else caps,
        login_disabled=_bool(p.get("login_disabled", False), f"{where}.login_disabled"),
        tls=tls,
    )
    connect = p.get("connect_ms")
    return ProbeResult(
        endpoint=endpoint,
        status=_enum(ProbeStatus, p.get("status"), f"{where}.status"),
        detail=_text(p.get("detail", ""), f"{where}.detail"),
        address=_ip(p.get("address"), f"{where}.address"),
        connect_ms=None if connect is None else _duration(connect, f"{where}.connect_ms"),
        elapsed_ms=_duration(p.get("elapsed_ms", 0), f"{where}.elapsed_ms"),
        facts=facts,
    )


def _candidate_from(value: object, where: str, *, incoming: bool) -> Candidate:
    c = _obj(value, where)
    protocol = _enum(Protocol, c.get("protocol"), f"{where}.protocol")
    if protocol.incoming != incoming:
        side = "an incoming" if incoming else "an outgoing"
        raise ReportError(f"{where}.protocol: {protocol.value} is not {side} protocol")
    endpoint = Endpoint(
        protocol=protocol,
        hostname=hostname(c.get("hostname"), f"{where}.hostname"),
        port=_int(c.get("port"), f"{where}.port", 1, 65535),
        security=_enum(Security, c.get("security"), f"{where}.security"),
    )
    priority = c.get("srv_priority")
    leave = c.get("leave_on_server")
    return Candidate(
        endpoint=endpoint,
        username=_username(c.get("username"), f"{where}.username"),
        sources=_items(
            c.get("sources"), f"{where}.sources", len(Source), lambda v, w: _enum(Source, v, w)
        ),
        verified=_bool(c.get("verified", False), f"{where}.verified"),
        auth=_items(c.get("auth"), f"{where}.auth", MAX_ITEMS, _sasl),
        probe=_probe_from(c.get("probe"), f"{where}.probe", endpoint),
        srv_priority=None
        if priority is None
        else _int(priority, f"{where}.srv_priority", 0, 65535),
        stated_auth=_items(c.get("stated_auth"), f"{where}.stated_auth", 20, _stated_auth),
        leave_on_server=None if leave is None else _bool(leave, f"{where}.leave_on_server"),
    )


def _exchange_from(value: object) -> ExchangeFacts | None:
    if value is None:
        return None
    e = _obj(value, "exchange")
    hosted = e.get("hosted")
    if hosted is not None and hosted not in EXCHANGE_HOSTING:
        raise _bad("exchange.hosted", "microsoft365, on-premises or null", hosted)
    return ExchangeFacts(
        ews_url=https_url(e.get("ews_url"), "exchange.ews_url"),
        activesync_url=https_url(e.get("activesync_url"), "exchange.activesync_url"),
        autodiscover_url=https_url(e.get("autodiscover_url"), "exchange.autodiscover_url"),
        auth=_items(e.get("auth"), "exchange.auth", 20, _http_scheme),
        hosted=hosted,
    )


def _provider_from(value: object) -> ProviderFacts | None:
    if value is None:
        return None
    p = _obj(value, "provider")
    return ProviderFacts(
        # A domain's own autoconfig may name its provider freely: shown, never a file name.
        id=_text_or_none(p.get("id"), "provider.id", 100) or "",
        name=_text_or_none(p.get("name"), "provider.name", MAX_NAME) or "",
        hosted_by=_id(p.get("hosted_by"), "provider.hosted_by"),
        requires_oauth2=_bool(p.get("requires_oauth2", False), "provider.requires_oauth2"),
    )


def _step_from(value: object, where: str) -> Step:
    s = _obj(value, where)
    return Step(
        source=_text(s.get("source"), f"{where}.source", 40),
        target=_text(s.get("target", ""), f"{where}.target", MAX_URL),
        status=_enum(StepStatus, s.get("status"), f"{where}.status"),
        elapsed_ms=_duration(s.get("elapsed_ms", 0), f"{where}.elapsed_ms"),
        detail=_text(s.get("detail", ""), f"{where}.detail"),
        trusted=_bool(s.get("trusted", False), f"{where}.trusted"),
    )


def _reach_from(value: object) -> Reachability | None:
    if value is None:
        return None  # a report saved before the key existed
    r = _obj(value, "reach")
    unchecked = {
        _enum(Unchecked, u, "reach.unchecked[]")
        for u in _list(r.get("unchecked"), "reach.unchecked", len(Unchecked))
    }
    return Reachability(
        dns=_enum(DnsHealth, r.get("dns"), "reach.dns"),
        imap=_enum(Reach, r.get("imap"), "reach.imap"),
        pop3=_enum(Reach, r.get("pop3"), "reach.pop3"),
        smtp=_enum(Reach, r.get("smtp"), "reach.smtp"),
        exchange=_enum(Reach, r.get("exchange"), "reach.exchange"),
        unchecked=tuple(u for u in Unchecked if u in unchecked),
    )


def from_json(doc: object, *, address: str | None = None) -> DiscoveryReport:
    """The report of an ``advisor.discovery/1`` document, every value checked.

    ``address`` is the command's ADDRESS: a report made for anyone else is
    refused (:class:`WrongAddressError`), so that a password or a person's files
    never go to another mailbox's servers. Anything else wrong raises
    :class:`ReportError` naming the field, e.g. ``incoming[0].port``.
    """
    from advisor.address import parse_address
    from advisor.errors import AddressError

    d = _obj(doc, "the document")
    if d.get("schema") != SCHEMA:
        raise ReportError(
            f"not a discovery report (schema {_kind(d.get('schema'))}); make one with"
            " advisor discover ADDRESS --json"
        )
    text = _text(d.get("address"), "address", MAX_NAME)
    try:
        parsed = parse_address(text)
    except AddressError as exc:
        raise ReportError(f"address: {exc}") from None
    if address is not None:
        wanted = parse_address(address)
        if wanted.address_ascii != parsed.address_ascii:
            raise WrongAddressError(
                _(
                    "the report is for {report}, not {address}: make one for {address}"
                    " with advisor discover {address} --json"
                ).format(report=parsed.address, address=wanted.address)
            )
    for key, expected in (("domain_ascii", parsed.domain_ascii), ("domain", parsed.domain)):
        value = d.get(key, expected)
        if value not in (expected, parsed.domain_ascii):
            raise _bad(key, f"{expected!r}, the domain of the address", value)
    return DiscoveryReport(
        address=parsed.address,
        domain=parsed.domain,
        domain_ascii=parsed.domain_ascii,
        incoming=_items(
            d.get("incoming"),
            "incoming",
            MAX_SERVERS,
            lambda v, w: _candidate_from(v, w, incoming=True),
        ),
        outgoing=_items(
            d.get("outgoing"),
            "outgoing",
            MAX_SERVERS,
            lambda v, w: _candidate_from(v, w, incoming=False),
        ),
        exchange=_exchange_from(d.get("exchange")),
        provider=_provider_from(d.get("provider")),
        steps=_items(d.get("steps"), "steps", MAX_STEPS, _step_from),
        warnings=_items(d.get("warnings"), "warnings", MAX_ITEMS, _line),
        elapsed_ms=_duration(d.get("elapsed_ms", 0), "elapsed_ms"),
        notes=_items(d.get("notes"), "notes", MAX_ITEMS, _line),
        live=_bool(d.get("live", True), "live"),
        reach=_reach_from(d.get("reach")),
        home_domains=_items(d.get("home_domains"), "home_domains", MAX_ITEMS, hostname),
        webmail=_webmail_from(d.get("webmail")),
        dav=_dav_from(d.get("dav")),
    )


def _dav_from(value: object) -> DavFacts:
    if value is None:
        return DavFacts()
    d = _obj(value, "dav")

    def endpoint(item: object, where: str) -> DavEndpoint:
        e = _obj(item, where)
        url = https_url(e.get("url"), f"{where}.url")
        if url is None:
            raise _bad(f"{where}.url", "an https:// URL", e.get("url"))
        sources = _items(
            e.get("sources"), f"{where}.sources", len(Source), lambda v, w: _enum(Source, v, w)
        )
        return DavEndpoint(
            url,
            tuple(dict.fromkeys(sources)),
            _bool(e.get("verified", False), f"{where}.verified"),
            _line(e.get("detail", ""), f"{where}.detail"),
        )

    return DavFacts(
        _items(d.get("caldav"), "dav.caldav", MAX_SERVERS, endpoint),
        _items(d.get("carddav"), "dav.carddav", MAX_SERVERS, endpoint),
    )


def _webmail_from(value: object) -> WebmailFacts | None:
    if value is None:
        return None
    w = _obj(value, "webmail")
    url = https_url(w.get("url"), "webmail.url")
    if url is None:
        raise _bad("webmail.url", "an https:// URL", w.get("url"))
    sources = _items(
        w.get("sources"), "webmail.sources", len(Source), lambda v, where: _enum(Source, v, where)
    )
    return WebmailFacts(url, tuple(dict.fromkeys(sources)))


# ------------------------------------------------------------------- text

_STATUS_STYLE = {
    StepStatus.FOUND: "green",
    StepStatus.NOT_FOUND: "dim",
    StepStatus.ERROR: "red",
    StepStatus.TIMEOUT: "yellow",
    StepStatus.SKIPPED: "dim",
}
_STEP_ORDER = {
    "given": -1,
    "local": 0,
    "autoconfig": 1,
    "ispdb": 2,
    "mx": 3,
    "srv": 4,
    "autodiscover": 5,
    "dns": 6,
    "catalogue": 7,
    "probe": 9,
}


def _server_line(c: Candidate) -> str:
    mark = _("verified") if c.verified else _("NOT verified")
    auth = ", " + _("auth {methods}").format(methods=" ".join(c.auth)) if c.auth else ""
    origin = _("(from {sources})").format(sources="/".join(str(s) for s in c.sources))
    return (
        f"{c.endpoint.protocol.name} {c.endpoint.hostname}:{c.endpoint.port}"
        f" {c.endpoint.security.name} - {mark}{auth} {origin}"
    )


def _markup_escape() -> Callable[[str], str]:
    """rich's markup escaping, plus ours: rich passes ESC, C1 controls and bidi
    overrides to the terminal, so text from servers, reports or rule files is shown
    with them escaped (``\\x1b``, ``\\u202e``)."""
    from rich.markup import escape

    from advisor.formats.text import escape_controls

    return lambda text: escape(escape_controls(text))


def render_text(report: DiscoveryReport, console: Console, *, all_steps: bool = False) -> None:
    """The human report: steps, chosen servers, warnings. Fits 80 columns.

    Written in the current language (:func:`advisor.i18n.set_language`).
    """
    escape = _markup_escape()
    from rich.table import Table

    title = _("Discovery for {address}").format(address=report.address)
    console.print(f"[bold]{escape(title)}[/bold]")
    table = Table(show_header=True, header_style="bold", expand=False, pad_edge=False)
    table.add_column(_("source"), no_wrap=True)
    table.add_column(_("target"), overflow="fold")
    table.add_column(_("status"), no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column(_("detail"), overflow="fold")
    hidden = 0
    for step in sorted(report.steps, key=lambda s: (_STEP_ORDER.get(s.source, 5), s.target)):
        boring = step.status in (StepStatus.NOT_FOUND, StepStatus.SKIPPED)
        if boring and not all_steps:
            hidden += 1
            continue
        style = _STATUS_STYLE[step.status]
        status = f"[{style}]{step.status}[/{style}]" + (" *" if step.trusted else "")
        table.add_row(
            step.source, escape(step.target), status, f"{step.elapsed_ms:.0f}", escape(step.detail)
        )
    console.print(table)
    notes = [_("* trusted: DNSSEC-validated or TLS with a valid certificate")]
    if hidden:
        notes.append(
            _("{hidden} more steps found nothing or were not needed (--all-steps)").format(
                hidden=hidden
            )
        )
    console.print("[dim]" + escape("; ".join(notes)) + "[/dim]")

    if report.provider is not None:
        hosted = report.provider.hosted_by
        extra = ""
        if hosted and hosted != report.provider.id:
            extra = " " + escape(_("(mail hosted by {hosted})").format(hosted=hosted))
        name = f"[bold]{escape(report.provider.name)}[/bold]"
        console.print(escape(_("Provider: {name}")).format(name=name) + extra)
    if report.exchange is not None:
        e = report.exchange
        where = {"microsoft365": "Microsoft 365", "on-premises": _("on-premises")}.get(
            e.hosted or "", _("unknown hosting")
        )
        hosting = f"[bold]{escape(where)}[/bold]"
        console.print(escape(_("Exchange: {hosting}")).format(hosting=hosting))
        for label, value in (
            ("EWS", e.ews_url),
            ("ActiveSync", e.activesync_url),
            ("Autodiscover", e.autodiscover_url),
        ):
            if value:
                console.print(f"  {label}: {escape(value)}")
        if e.auth:
            sign_in = _("sign-in: {methods}").format(methods=" ".join(e.auth))
            console.print("  " + escape(sign_in))
    if report.webmail is not None:
        line = _("Webmail: {url} (from {sources})").format(
            url=report.webmail.url, sources=", ".join(report.webmail.sources)
        )
        console.print(escape(line))
    for kind, endpoints in (("CalDAV", report.dav.caldav), ("CardDAV", report.dav.carddav)):
        for dav in endpoints:
            state = _("verified") if dav.verified else _("not checked")
            line = _("{kind}: {url} (from {sources}; {state})").format(
                kind=kind, url=dav.url, sources=", ".join(dav.sources), state=state
            )
            console.print(escape(line))
    nothing = escape(_("nothing found"))
    for title, candidates in (
        (_("Incoming:"), report.incoming),
        (_("Outgoing:"), report.outgoing),
    ):
        if not candidates:
            console.print(f"{escape(title)} [red]{nothing}[/red]")
            continue
        best, rest = candidates[0], candidates[1:]
        colour = "green" if best.verified else "yellow"
        console.print(f"{escape(title)} [{colour}]{escape(_server_line(best))}[/{colour}]")
        console.print("  " + escape(_("username: {username}").format(username=best.username)))
        for other in rest:
            also = _("also: {server}").format(server=_server_line(other))
            console.print("  " + escape(also), style="dim")
    warning_label = escape(_("warning:"))
    for warning in report.warnings:
        console.print(f"[yellow]{warning_label}[/yellow] {escape(warning)}")
    note_label = escape(_("note:"))
    for note in report.notes:
        console.print(f"[cyan]{note_label}[/cyan] {escape(note)}")
    seconds = f"{report.elapsed_ms / 1000:.2f}"
    if report.usable and not report.live:
        verdict = _("configuration known, not verified live, in {seconds} s")
    elif report.usable:
        verdict = _("usable configuration found in {seconds} s")
    else:
        verdict = _("no usable configuration found in {seconds} s")
    console.print(escape(verdict.format(seconds=seconds)))


# --------------------------------------------------------- recommendation

_PROTOCOL_NAMES = {"exchange": "Exchange", "imap": "IMAP", "pop3": "POP3"}


def _confidence_label(label: str) -> str:
    labels = {"high": _("high"), "medium": _("medium"), "low": _("low")}
    return labels.get(label, label)


def unchecked_text(reason: Unchecked) -> str:
    """Why something could not be checked from this network, in the user's language."""
    return {
        Unchecked.DNS: _("the DNS server gives no usable answer"),
        Unchecked.FILTERED: _("ports filtered (no answer to a connection)"),
        Unchecked.REFUSED: _("connections refused"),
        Unchecked.TIMEOUT: _("no answer in time"),
        Unchecked.OFFLINE: _("offline: nothing was asked"),
    }[reason]


def unchecked_caveat(facts: Mapping[str, object]) -> str | None:
    """ "Could not be checked from this network: ..." from ``discovery.unchecked``, or None."""
    value = facts.get("discovery.unchecked")
    if not isinstance(value, str) or not value:
        return None
    codes = {u.value for u in Unchecked}
    reasons = [unchecked_text(Unchecked(code)) for code in value.split(",") if code in codes]
    if not reasons:
        return None
    if facts.get("discovery.known") == "nothing":
        return _("Could not be checked from this network: {reasons}.").format(
            reasons="; ".join(reasons)
        )
    return _(
        "Could not be checked from this network: {reasons}. The advice keeps the servers"
        " the sources name; it is less sure than it would be with a live check."
    ).format(reasons="; ".join(reasons))


def _item(
    console: Console, marker: str, markup: str, *, indent: int = 2, style: str | None = None
) -> None:
    """``  marker text`` with the wrapped lines of ``text`` aligned under its first word."""
    from rich.table import Table

    grid = Table.grid()
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row("", marker + " ", markup, style=style)
    console.print(grid)


def _alternative(console: Console, choice: Choice, *, lang: str, explain: bool) -> None:
    escape = _markup_escape()

    name = _PROTOCOL_NAMES[choice.protocol]
    if choice.excluded:
        why = "; ".join(r.explanation(lang) for r in choice.excluded_by)
        excluded = _("excluded: {reasons}").format(reasons=why)
        console.print(f"  {name}: " + escape(excluded), style="dim")
        return
    if explain:
        console.print(f"  {name}: " + escape(_("score {score}").format(score=choice.score)))
    else:
        console.print(f"  {name}: " + escape(_("possible, but less suited")))
    for rule, points in sorted(choice.reasons, key=lambda item: item[1]):
        if points < 0:
            marker = str(points) if explain else "-"
            _item(console, marker, escape(rule.explanation(lang)), indent=4, style="dim")


def groupware_lines(rec: Recommendation) -> list[str]:
    """How calendars and contacts will sync, one line each (none when not wanted)."""
    lines = []
    texts = {
        ("calendars", "exchange"): _("Calendars: synced by Exchange, on every device."),
        ("calendars", "caldav"): _("Calendars: synced over CalDAV, apart from the mail: {url}"),
        ("calendars", "unavailable"): _(
            "Calendars: discovery found no way to sync them here (neither Exchange nor"
            " CalDAV); ask the provider."
        ),
        ("contacts", "exchange"): _("Contacts: synced by Exchange, on every device."),
        ("contacts", "carddav"): _("Contacts: synced over CardDAV, apart from the mail: {url}"),
        ("contacts", "unavailable"): _(
            "Contacts: discovery found no way to sync them here (neither Exchange nor"
            " CardDAV); ask the provider."
        ),
    }
    for kind, state, fact in (
        ("calendars", rec.calendars, "dav.caldav_url"),
        ("contacts", rec.contacts, "dav.carddav_url"),
    ):
        text = texts.get((kind, state))
        if text is not None:
            lines.append(text.format(url=rec.facts.get(fact, "")))
    return lines


def _webmail_first(rec: Recommendation, console: Console, *, lang: str, explain: bool) -> None:
    """ "You may not need a mail program", with the reasons, before the protocol."""
    escape = _markup_escape()
    first = _(
        "You may not need a mail program: your provider's webmail, {url}, in a browser"
        " does what you need."
    ).format(url=rec.webmail_url or "")
    console.print(f"[green]{escape(first)}[/green]")
    for rule, points in rec.webmail_reasons:
        if points > 0:
            text = escape(rule.explanation(lang))
            _item(console, f"+{points}" if explain else "-", text)
    if rec.recommended is not None:
        console.print(escape(_("If you want a mail program all the same:")))


def _verdict(rec: Recommendation, console: Console, *, explain: bool) -> None:
    """The recommended protocol and the confidence (in percent with ``explain``)."""
    escape = _markup_escape()
    if rec.recommended is None:
        none = _("No protocol can be recommended: every one is excluded.")
        console.print(f"[red]{escape(none)}[/red]")
        return
    if explain:
        recommended = _("Recommended: {protocol} (confidence {label}, {percent})")
    else:
        recommended = _("Recommended: {protocol} (confidence {label})")
    recommended = recommended.format(
        protocol=_PROTOCOL_NAMES[rec.recommended],
        label=_confidence_label(rec.confidence_label),
        percent=i18n.percent(rec.confidence),
    )
    console.print(f"[green]{escape(recommended)}[/green]")


def _why(best: Choice, console: Console, *, lang: str, explain: bool) -> None:
    """Why it fits: a home user reads the reasons for it; the points against, the
    points and the rule ids are ``--explain``'s."""
    escape = _markup_escape()
    reasons = sorted(best.reasons, key=lambda item: -item[1])
    if not explain:
        reasons = [(rule, points) for rule, points in reasons if points > 0]
    if not reasons:
        return
    console.print(escape(_("Why:")))
    for rule, points in reasons:
        text = escape(rule.explanation(lang))
        if explain:
            sign = "+" if points > 0 else ""
            _item(console, f"{sign}{points}", f"{text} [dim]({rule.id})[/dim]")
        else:
            _item(console, "-", text)


def render_recommendation(
    rec: Recommendation, console: Console, *, lang: str, address: str, explain: bool = False
) -> None:
    """The human recommendation: choice, reasons, alternatives, caveats. Fits 80 columns.

    ``lang`` becomes the process language (:func:`advisor.i18n.set_language`) when it
    is not already; rule explanations come from the rules in that language. Without
    ``explain`` (home users) the reasons are plain sentences; with it (``--explain``,
    IT staff) each carries its points and rule id, and alternatives their scores.
    """
    escape = _markup_escape()

    if lang != i18n.current_language():
        i18n.set_language(lang)
    title = _("Recommendation for {address}").format(address=address).rstrip()
    console.print(f"[bold]{escape(title)}[/bold]")
    if rec.webmail_suffices:
        _webmail_first(rec, console, lang=lang, explain=explain)
    _verdict(rec, console, explain=explain)
    best = rec.ranking[0] if rec.recommended else None
    if best is not None:
        _why(best, console, lang=lang, explain=explain)
    others = [c for c in rec.ranking if c is not best]
    if others:
        console.print(escape(_("Alternatives:")))
        for choice in others:
            _alternative(console, choice, lang=lang, explain=explain)
    unchecked = unchecked_caveat(rec.facts) if best is not None else None
    if best is not None and (best.caveats or unchecked):
        caveats = _("Caveats:")
        console.print(f"[yellow]{escape(caveats)}[/yellow]")
        for rule in best.caveats:
            _item(console, "-", escape(rule.explanation(lang)))
        if unchecked:
            _item(console, "-", escape(unchecked))
    for line in groupware_lines(rec):
        console.print(escape(line))
    if rec.recommended == "pop3":
        if rec.leave_on_server:
            keep = _("POP3 set-up: leave mail on the server for {days} days")
            console.print(escape(keep.format(days=rec.keep_days)))
        else:
            delete = _("POP3 set-up: download and delete from the server (one backed-up computer)")
            console.print(escape(delete))
