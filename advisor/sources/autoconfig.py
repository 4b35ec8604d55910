"""Mozilla autoconfig, the ISPDB, MX-derived lookups, the local folder, the catalogue.

Lookup order and URLs follow Thunderbird (comm-central
``mail/components/accountcreation/modules/FetchConfig.sys.mjs``) and
draft-ietf-mailmaint-autoconfig:

- local folder ``<dir>/<domain>.xml`` (Thunderbird's ``isp/`` folder): trusted;
- provider: ``https://autoconfig.D/mail/config-v1.1.xml`` and
  ``https://D/.well-known/autoconfig/mail/config-v1.1.xml`` together; only when
  both have failed, the same two over plain HTTP (untrusted: anyone on the path
  can rewrite them), and never with the address;
- ISPDB ``<base>/D``; the address is never sent there;
- MX-derived: the most-preferred MX host reduced to its registrable domain
  (Public Suffix List) and the "next subdomain" (the MX host minus its first
  label, which tells Microsoft 365's ``*.mail.protection.outlook.com`` from
  outlook.com), each tried as provider autoconfig then ISPDB. Untrusted
  unless the MX answer was DNSSEC-validated and every fetch was HTTPS.

Privacy: ``?emailaddress=`` goes only to the domain's own hosts over HTTPS, and
not at all with ``send_address=False`` (Thunderbird for Android's default).
Thunderbird desktop asks the plain-HTTP URLs at the same time as the HTTPS
ones, address included, so the address crosses the network in clear on every
lookup; here a plain-HTTP URL carries no address, is asked only after every
HTTPS URL failed, and an HTTPS answer that redirects to plain HTTP with the
address in the new URL is not followed.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from advisor.address import EmailAddress
from advisor.errors import AdvisorError
from advisor.formats.mozilla import (
    MAX_CONFIG_BYTES,
    ClientConfig,
    ConfigError,
    EmailProvider,
    parse_client_config,
)
from advisor.i18n import _
from advisor.models import (
    DavEndpoint,
    DavFacts,
    ExchangeFacts,
    Protocol,
    ProviderFacts,
    Source,
    Step,
    StepStatus,
)
from advisor.sources import NamedServer, SourceResult
from advisor.sources.dnshints import registrable_domain

if TYPE_CHECKING:
    from advisor.catalogue import CatalogueEntry
    from advisor.net.http import HttpClient

# Thunderbird's timeouts: 5 s for a provider's own server, 10 s for the ISPDB.
AUTOCONFIG_TIMEOUT = 5.0
ISPDB_TIMEOUT = 10.0
DEFAULT_ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/"
# Server kinds of the draft that carry Exchange endpoints as URLs.
_EWS_KINDS = {"ews", "exchange"}  # "exchange": Thunderbird's legacy section, <ewsURL>
_ACTIVESYNC_KINDS = {"activeSync"}


@dataclass(frozen=True)
class Fetched:
    """One fetch of one autoconfig document."""

    step: Step
    config: ClientConfig | None
    trusted: bool
    url: str


def provider_urls(address: EmailAddress, *, send_address: bool) -> list[str]:
    """The provider's own locations, best first (Thunderbird's order): HTTPS, then
    plain HTTP. Only HTTPS URLs carry ``?emailaddress=``: over plain HTTP anyone on
    the path reads it."""
    return [*_https_urls(address, send_address=send_address), *_http_urls(address)]


def _paths(domain: str) -> tuple[str, str]:
    return (
        f"autoconfig.{domain}/mail/config-v1.1.xml",
        f"{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
    )


def _https_urls(address: EmailAddress, *, send_address: bool) -> list[str]:
    query = f"?emailaddress={quote(address.address_ascii, safe='@')}" if send_address else ""
    return [f"https://{path}{query}" for path in _paths(address.domain_ascii)]


def _http_urls(address: EmailAddress) -> list[str]:
    return [f"http://{path}" for path in _paths(address.domain_ascii)]


def _no_address_in_clear(address: EmailAddress) -> Callable[[str, str], str | None]:
    """A redirect check: never follow a hop to plain HTTP whose URL holds the address."""
    forms = {address.address_ascii.lower(), address.address.lower()}

    def check(_from_url: str, to_url: str) -> str | None:
        if not to_url.lower().startswith("http:"):
            return None
        shown = unquote(to_url).lower()
        if any(form in shown for form in forms):
            return "redirect to plain HTTP with the address in the URL: not followed"
        return None

    return check


def fetch(
    http: HttpClient,
    url: str,
    *,
    source: Source,
    deadline: float,
    timeout: float,
    redirect_check: Callable[[str, str], str | None] | None = None,
) -> Fetched:
    """GET one autoconfig URL and parse it; every outcome is a step, never an exception."""
    from advisor.net.http import FetchStatus

    result = http.request(
        "GET", url, deadline=deadline, timeout=timeout, redirect_check=redirect_check
    )
    shown = _strip_query(url)
    if result.status is not FetchStatus.OK:
        status = StepStatus.TIMEOUT if result.status is FetchStatus.TIMEOUT else StepStatus.ERROR
        if result.status in (FetchStatus.DNS_ERROR, FetchStatus.CONNECT_ERROR):
            status = StepStatus.NOT_FOUND
        step = Step(str(source), f"GET {shown}", status, result.elapsed_ms, result.detail)
        return Fetched(step, None, False, url)
    if result.http_status != 200:
        step = Step(
            str(source),
            f"GET {shown}",
            StepStatus.NOT_FOUND,
            result.elapsed_ms,
            f"HTTP {result.http_status}",
            result.trusted,
        )
        return Fetched(step, None, False, url)
    try:
        config = parse_client_config(result.body, source_name=_strip_query(result.url))
    except ConfigError as exc:
        step = Step(
            str(source),
            f"GET {shown}",
            StepStatus.ERROR,
            result.elapsed_ms,
            str(exc),
            result.trusted,
        )
        return Fetched(step, None, False, url)
    trust = (
        "HTTPS with valid certificates"
        if result.trusted
        else "not trusted: plain HTTP somewhere on the way"
    )
    via = f" via {_strip_query(result.url)}" if _strip_query(result.url) != shown else ""
    detail = f"clientConfig {config.version or '?'}{via}; {trust}"
    if config.ignored:
        detail += f"; {len(config.ignored) + config.more_ignored} unknown item(s) ignored"
    step = Step(
        str(source), f"GET {shown}", StepStatus.FOUND, result.elapsed_ms, detail, result.trusted
    )
    return Fetched(step, config, result.trusted, result.url)


def first_success(
    tasks: list[Callable[[], Fetched]], *, deadline: float
) -> tuple[list[Fetched], Fetched | None]:
    """Run fetches concurrently; the best-ranked success wins (list order is rank)."""
    results: list[Fetched | None] = [None] * len(tasks)
    threads = []
    for index, task in enumerate(tasks):

        def run(i: int = index, t: Callable[[], Fetched] = task) -> None:
            results[i] = t()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 0.5)
    done = [r for r in results if r is not None]
    winner = next((r for r in results if r is not None and r.config is not None), None)
    return done, winner


def provider_autoconfig(
    address: EmailAddress, *, http: HttpClient, deadline: float, send_address: bool = True
) -> SourceResult:
    """The HTTPS URLs together; the plain-HTTP ones (without the address) only if both fail."""
    check = _no_address_in_clear(address)

    def tasks(urls: list[str]) -> list[Callable[[], Fetched]]:
        return [
            functools.partial(
                fetch,
                http,
                url,
                source=Source.AUTOCONFIG,
                deadline=deadline,
                timeout=AUTOCONFIG_TIMEOUT,
                redirect_check=check,
            )
            for url in urls
        ]

    done, winner = first_success(
        tasks(_https_urls(address, send_address=send_address)), deadline=deadline
    )
    if winner is None and time.monotonic() < deadline:
        more, winner = first_success(tasks(_http_urls(address)), deadline=deadline)
        done += more
    return _result(Source.AUTOCONFIG, address, done, winner)


def ispdb(
    address: EmailAddress, *, http: HttpClient, deadline: float, base_url: str = DEFAULT_ISPDB_URL
) -> SourceResult:
    url = base_url.rstrip("/") + "/" + address.domain_ascii
    fetched = fetch(http, url, source=Source.ISPDB, deadline=deadline, timeout=ISPDB_TIMEOUT)
    return _result(Source.ISPDB, address, [fetched], fetched if fetched.config else None)


def mx_bases(domain: str, mx_host: str) -> list[str]:
    """Domains to look up for an MX host, most specific first; never ``domain`` itself."""
    bases: list[str] = []
    labels = mx_host.lower().rstrip(".").split(".")
    if len(labels) > 2:
        bases.append(".".join(labels[1:]))  # the "next subdomain"
    base = registrable_domain(mx_host)
    if base:
        bases.append(base)
    out: list[str] = []
    for b in bases:
        registrable = registrable_domain(b)
        # Never a bare public suffix, never the user's own domain (already asked).
        if registrable and b != domain and b not in out:
            out.append(b)
    return out


def mx_derived(
    address: EmailAddress,
    mx_host: str,
    *,
    mx_dnssec: bool,
    http: HttpClient,
    deadline: float,
    base_url: str = DEFAULT_ISPDB_URL,
) -> SourceResult:
    tasks: list[Callable[[], Fetched]] = []
    for base in mx_bases(address.domain_ascii, mx_host):
        # Another domain's server: the address is not sent there.
        url = f"https://autoconfig.{base}/mail/config-v1.1.xml"
        ispdb_url = base_url.rstrip("/") + "/" + base
        for each, timeout in ((url, AUTOCONFIG_TIMEOUT), (ispdb_url, ISPDB_TIMEOUT)):
            tasks.append(
                functools.partial(
                    fetch, http, each, source=Source.MX, deadline=deadline, timeout=timeout
                )
            )
    if not tasks:
        step = Step(
            "mx",
            f"MX {mx_host}",
            StepStatus.SKIPPED,
            0.0,
            "the MX host is in the user's own domain: nothing more to learn from it",
        )
        return SourceResult(Source.MX, (step,))
    done, winner = first_success(tasks, deadline=deadline)
    result = _result(Source.MX, address, done, winner)
    # Draft: a configuration found via MX needs DNSSEC as well as HTTPS to be trusted.
    trusted = result.trusted and mx_dnssec
    warnings = result.warnings
    if winner is not None and not trusted:
        warnings += (
            f"the configuration found through the MX host {mx_host} is not trusted"
            " (no DNSSEC-validated MX answer): its servers count only once a live probe"
            " verifies them",
        )
    return SourceResult(
        Source.MX,
        result.steps,
        result.servers,
        trusted,
        result.exchange,
        result.provider,
        result.oauth2_required,
        warnings,
        result.origin,
        result.webmail,
    )


def local_config(address: EmailAddress, *, config_dir: Path) -> SourceResult:
    """``<config_dir>/<domain>.xml``: the administrator's own answer, trusted."""
    path = config_dir / f"{address.domain_ascii}.xml"
    if not path.exists() and address.domain != address.domain_ascii:
        path = config_dir / f"{address.domain}.xml"
    target = str(path)
    if not path.is_file():
        step = Step("local", target, StepStatus.NOT_FOUND, 0.0, "no such file")
        return SourceResult(Source.LOCAL, (step,))
    from advisor.fsutil import read_bounded

    try:
        data = read_bounded(path, MAX_CONFIG_BYTES, what=_("an autoconfig file"))
        config = parse_client_config(data, source_name=path.name)
    except AdvisorError as exc:  # unreadable, too large (ConfigError: not autoconfig XML)
        step = Step("local", target, StepStatus.ERROR, 0.0, str(exc))
        return SourceResult(Source.LOCAL, (step,))
    step = Step("local", target, StepStatus.FOUND, 0.0, "local override file", trusted=True)
    fetched = Fetched(step, config, True, target)
    return _result(Source.LOCAL, address, [fetched], fetched)


def catalogue_source(address: EmailAddress, *, mx_host: str | None) -> SourceResult:
    """The built-in catalogue: by domain, else by MX host. Facts, never verified."""
    from advisor.catalogue import Catalogue

    catalogue = Catalogue.load()
    entry: CatalogueEntry | None = catalogue.by_domain(address.domain_ascii)
    how = f"domain {address.domain_ascii}"
    if entry is None and mx_host:
        entry = catalogue.by_mx(mx_host)
        how = f"MX host {mx_host}"
    target = f"built-in catalogue: {address.domain_ascii}"
    if entry is None:
        step = Step("catalogue", target, StepStatus.NOT_FOUND, 0.0, "not a known provider")
        return SourceResult(Source.CATALOGUE, (step,))
    origin = "curated list" if entry.origin == "curated" else "ISPDB"
    detail = f"{entry.name} (by {how}; from the {origin})"
    step = Step("catalogue", target, StepStatus.FOUND, 0.0, detail)
    config = ClientConfig("1.1", (entry.provider,))
    fetched = Fetched(step, config, False, f"catalogue:{entry.id}")
    result = _result(Source.CATALOGUE, address, [fetched], fetched)
    from advisor.catalogue import dav_endpoints

    caldav, carddav, reference = dav_endpoints(entry.id)
    detail = f"from the built-in catalogue ({reference}); not checked" if reference else ""
    dav = DavFacts(
        tuple(DavEndpoint(u, (Source.CATALOGUE,), False, detail) for u in (caldav,) if u),
        tuple(DavEndpoint(u, (Source.CATALOGUE,), False, detail) for u in (carddav,) if u),
    )
    exchange = result.exchange
    if exchange is not None and entry.origin == "curated" and exchange.hosted is None:
        # The curated Exchange platform (Microsoft 365) hosts what it names.
        exchange = replace(exchange, hosted=entry.id)
    return SourceResult(
        Source.CATALOGUE,
        result.steps,
        result.servers,
        False,
        exchange,
        # A curated entry is a hosting platform (microsoft365, google): say so, and
        # let advisor.facts, the one home of such facts, phrase what follows from it.
        ProviderFacts(entry.id, entry.name, entry.id if entry.origin == "curated" else None),
        # The catalogue knows what a file cannot say: the provider refuses every
        # password (Outlook.com). Where an app password works (Google), a password
        # login is not ruled out (verify may send one); the exported files still
        # sign in with OAuth2 first (advisor.signin reads the catalogue itself).
        result.oauth2_required or (entry.requires_oauth2 and entry.app_passwords is None),
        (),
        result.origin,
        result.webmail,
        dav,
    )


# ------------------------------------------------------------------ helpers


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def pick_provider(config: ClientConfig, domain: str) -> EmailProvider | None:
    """The emailProvider that lists the domain, else the first one."""
    for provider in config.providers:
        if domain in provider.domains:
            return provider
    return config.providers[0] if config.providers else None


def servers_of(
    provider: EmailProvider,
) -> tuple[tuple[NamedServer, ...], ExchangeFacts | None, bool]:
    """Named servers (incoming then outgoing, in the file's order), Exchange URLs, OAuth2-only."""
    named: list[NamedServer] = []
    ews = activesync = None
    password_possible = False
    oauth_seen = False
    for server in (*provider.incoming, *provider.outgoing):
        if server.kind in _EWS_KINDS and server.url:
            ews = ews or server.url
        if server.kind in _ACTIVESYNC_KINDS and server.url:
            activesync = activesync or server.url
        if server.activesync_url:  # the legacy type="exchange" section's <easURL>
            activesync = activesync or server.activesync_url
        endpoint = server.endpoint
        if endpoint is None:
            continue
        if "OAuth2" in server.auth:
            oauth_seen = True
        if endpoint.protocol in (Protocol.IMAP, Protocol.POP3) and any(
            a != "OAuth2" for a in server.auth
        ):
            password_possible = True
        leave = None
        if server.pop3 is not None:
            leave = server.pop3.leave_messages_on_server
        named.append(NamedServer(endpoint, server.username, server.auth, leave))
    exchange = None
    if ews or activesync:
        exchange = ExchangeFacts(ews_url=ews, activesync_url=activesync)
    return tuple(named), exchange, oauth_seen and not password_possible


def _result(
    source: Source, address: EmailAddress, done: list[Fetched], winner: Fetched | None
) -> SourceResult:
    steps = tuple(f.step for f in done)
    if winner is None or winner.config is None:
        return SourceResult(source, steps)
    config = winner.config.for_address(address)
    provider = pick_provider(config, address.domain_ascii)
    if provider is None:
        return SourceResult(source, steps, warnings=(f"{winner.url}: no emailProvider",))
    if provider.refusal is not None:
        # What Thunderbird refuses, we do not use either: a file that gives Thunderbird
        # nothing is a broken file to report, not a source (advisor lint says why).
        reason = f"Thunderbird refuses this file ({provider.refusal}): not used"
        return SourceResult(source, steps, warnings=(f"{_strip_query(winner.url)}: {reason}",))
    servers, exchange, oauth_only = servers_of(provider)
    warnings: list[str] = []
    if not winner.trusted and source is not Source.CATALOGUE:
        warnings.append(
            f"the configuration from {_strip_query(winner.url)} came without HTTPS all the way:"
            " its servers count only once a live probe verifies them"
        )
    facts = ProviderFacts(provider.id, provider.display_name or provider.id, None)
    return SourceResult(
        source,
        steps,
        servers,
        winner.trusted,
        exchange,
        facts,
        oauth_only,
        tuple(warnings),
        _strip_query(winner.url),
        # A page to type a password into: only from a source trusted all the way.
        webmail_url(provider.web_mail_url)
        if winner.trusted or source is Source.CATALOGUE
        else None,
        _dav_of(config.dav, source) if winner.trusted else None,
    )


def _dav_of(named: tuple[tuple[str, str], ...], source: Source) -> DavFacts | None:
    """A file's CalDAV/CardDAV sections (draft autoconfig), named, not yet checked."""
    if not named:
        return None
    detail = f"named by {source}; not checked"

    def of(kind: str) -> tuple[DavEndpoint, ...]:
        return tuple(DavEndpoint(u, (source,), False, detail) for k, u in named if k == kind)

    return DavFacts(of("caldav"), of("carddav"))


def webmail_url(url: str | None) -> str | None:
    """A webmail login page fit to show a person: https, a valid host, no placeholder left.

    A person types their password there, so a plain-http page is not offered.
    """
    from advisor.formats.text import url_problem

    if not url or "%" in url.split("?", 1)[0] or url_problem(url) is not None:
        return None
    return url
