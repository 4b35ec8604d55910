"""Calendars and contacts without Exchange: CalDAV/CardDAV per RFC 6764, checked
without credentials.

For each kind: the ``_caldavs._tcp`` / ``_carddavs._tcp`` SRV record (TLS) with its
TXT ``path=`` (RFC 6764 §4), else ``/.well-known/caldav`` on the SRV target; and
``/.well-known/caldav`` / ``/.well-known/carddav`` on the domain (§5). The plain
``_caldav._tcp`` / ``_carddav._tcp`` records are reported as insecure and never
used: the password would cross the network in clear.

A URL is *verified* when it answers as a DAV server without any credential:
``OPTIONS`` with a ``DAV:`` header naming ``calendar-access`` (RFC 4791 §5.1) or
``addressbook`` (RFC 6352 §6.1), or a ``PROPFIND`` answered ``401`` with a
``WWW-Authenticate`` challenge (what servers do before sign-in). Redirects are
followed as for autoconfig, and further bounded: https only, within the start
host's registrable domain (a redirect elsewhere would take the password there),
no loops, at most a few hops, bodies capped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from advisor.i18n import _
from advisor.models import DavEndpoint, DavFacts, Source, Step, StepStatus
from advisor.sources import SourceResult
from advisor.sources.dnshints import registrable_domain
from advisor.sources.srv import rfc2782_order

if TYPE_CHECKING:
    from advisor.net.http import HttpClient, HttpResult
    from advisor.net.resolver import DnsClient

DAV_TIMEOUT = 5.0
MAX_DAV_HOPS = 5
MAX_DAV_BODY = 64 * 1024  # an OPTIONS or PROPFIND answer is a few hundred bytes
KINDS = {"caldav": "calendar-access", "carddav": "addressbook"}
PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop>'
    b"<current-user-principal/></prop></propfind>"
)


def _txt_path(dns: DnsClient, name: str, *, deadline: float) -> str | None:
    """RFC 6764 §4: a TXT record ``path=/context`` beside the SRV record."""
    answer = dns.query(name, "TXT", deadline=deadline)
    for record in answer.records:
        text = b"".join(record.strings).decode("ascii", "replace")
        if text.startswith("path="):
            path = text[5:]
            if path.startswith("/") and all(32 < ord(c) < 127 for c in path):
                return path
    return None


def same_site(start: str) -> str | None:
    return registrable_domain(urlsplit(start).hostname or "") or urlsplit(start).hostname


def redirect_rule(start: str) -> Callable[[str, str], str | None]:
    home = same_site(start)

    def check(_from_url: str, to_url: str) -> str | None:
        parts = urlsplit(to_url)
        if parts.scheme != "https":
            return f"redirect to {parts.scheme}:// not followed: a DAV password needs https"
        if same_site(to_url) != home:
            return (
                f"redirect to another domain ({parts.hostname}) not followed:"
                " the password would go there"
            )
        return None

    return check


def check_url(http: HttpClient, url: str, kind: str, *, deadline: float) -> tuple[bool, str, str]:
    """(verified, detail, final URL) for one candidate URL, without credentials."""
    from advisor.net.http import FetchStatus

    check = redirect_rule(url)

    def ask(method: str, at: str, headers: dict[str, str] | None = None) -> HttpResult:
        return http.request(
            method,
            at,
            deadline=deadline,
            timeout=DAV_TIMEOUT,
            headers=headers,
            content=PROPFIND_BODY if method == "PROPFIND" else None,
            redirect_check=check,
            keep_method=True,
            max_body=MAX_DAV_BODY,
            max_hops=MAX_DAV_HOPS,
        )

    result = ask("OPTIONS", url)
    if result.status is not FetchStatus.OK:
        return False, result.detail, url
    if not result.trusted:
        return False, "not trusted: no valid https all the way", url
    dav = ",".join(result.headers_named("dav")).lower()
    token = KINDS[kind]
    if token in [t.strip() for t in dav.split(",")]:
        return True, f"OPTIONS: DAV {token}", result.url
    found = ask(
        "PROPFIND",
        result.url,
        {"Depth": "0", "Content-Type": "application/xml; charset=utf-8"},
    )
    challenged = found.http_status == 401 and found.headers_named("www-authenticate")
    if found.status is FetchStatus.OK and found.trusted and challenged:
        return True, "PROPFIND: 401 with a sign-in challenge", found.url
    if found.status is not FetchStatus.OK:
        return False, found.detail, url
    return False, f"not a {kind} server (OPTIONS DAV: {dav or 'none'})", url


def discover(domain: str, *, dns: DnsClient, http: HttpClient, deadline: float) -> SourceResult:
    steps: list[Step] = []
    warnings: list[str] = []
    found: dict[str, list[DavEndpoint]] = {"caldav": [], "carddav": []}
    for kind in KINDS:
        candidates: list[tuple[str, Source]] = []
        name = f"_{kind}s._tcp.{domain}"
        answer = dns.query(name, "SRV", deadline=deadline)
        raw = [
            (int(r.priority), int(r.weight), int(r.port), r.target.to_text(True).lower())
            for r in answer.records
        ]
        usable = [r for r in raw if r[3] not in ("", ".") and 0 < r[2] < 65536]
        ordered = rfc2782_order(usable, random.Random(name))
        status = StepStatus.FOUND if usable else StepStatus.NOT_FOUND
        steps.append(
            Step("dav", f"{name} SRV", status, answer.elapsed_ms, answer.detail, answer.ad)
        )
        if ordered:
            path = _txt_path(dns, name, deadline=deadline)
            for _p, _w, port, target in ordered[:3]:
                host = target if port == 443 else f"{target}:{port}"
                candidates.append((f"https://{host}{path or f'/.well-known/{kind}'}", Source.SRV))
        plain = dns.query(f"_{kind}._tcp.{domain}", "SRV", deadline=deadline)
        if any(r.target.to_text(True) not in ("", ".") for r in plain.records):
            warnings.append(
                _(
                    "{name} names a {kind} server without TLS: not used (the password would"
                    " cross the network in clear)"
                ).format(name=f"_{kind}._tcp.{domain}", kind=kind)
            )
        candidates.append((f"https://{domain}/.well-known/{kind}", Source.WELL_KNOWN))
        seen: set[str] = set()
        for url, source in candidates:
            if url in seen:
                continue
            seen.add(url)
            started = time.monotonic()
            verified, detail, final = check_url(http, url, kind, deadline=deadline)
            elapsed = (time.monotonic() - started) * 1000
            status = StepStatus.FOUND if verified else StepStatus.NOT_FOUND
            steps.append(Step("dav", f"{kind} {url}", status, elapsed, detail, verified))
            if verified:
                found[kind].append(DavEndpoint(final, (source,), True, detail))
                break
    return SourceResult(
        Source.WELL_KNOWN,
        tuple(steps),
        warnings=tuple(warnings),
        dav=DavFacts(tuple(found["caldav"]), tuple(found["carddav"])),
    )
