"""Each mail client's own order and rules, replayed over one discovery's facts.

One function per client, from the facts to a :class:`ClientResult`; no I/O.
The rules and their sources are written up per client in docs/check.md; every
rule below quotes the line of the client's code or specification it follows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from advisor.check.facts import Facts, Health
from advisor.check.model import ClientResult, Outcome, Problem
from advisor.i18n import _
from advisor.models import Endpoint, Protocol, Security, Source
from advisor.sources import NamedServer, SourceResult
from advisor.sources.dnshints import registrable_domain

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

_WORST = {Outcome.CONFIGURED: 0, Outcome.PROMPTED: 1, Outcome.MANUAL: 2}

# Apple's built-in account types ("iCloud, Microsoft Exchange, Google, Yahoo,
# AOL, Outlook.com" in iOS Settings > Mail > Accounts > Add Account; Apple
# support article "Add an email account to your iPhone or iPad").
_APPLE_BUILTIN = {
    "icloud.com": "iCloud",
    "me.com": "iCloud",
    "mac.com": "iCloud",
    "gmail.com": "Google",
    "googlemail.com": "Google",
    "yahoo.com": "Yahoo",
    "aol.com": "AOL",
    "outlook.com": "Outlook.com",
    "hotmail.com": "Outlook.com",
    "live.com": "Outlook.com",
    "msn.com": "Outlook.com",
}

# ExchangeAutoDiscover.sys.mjs: `const kSafeDomains = ["office365.com", "outlook.com"];`
_THUNDERBIRD_SAFE_REDIRECT = ("office365.com", "outlook.com")


def worst(*outcomes: Outcome) -> Outcome:
    return max(outcomes, key=_WORST.__getitem__, default=Outcome.CONFIGURED)


def _show(endpoint: Endpoint) -> str:
    return f"{endpoint.protocol.value.upper()} {endpoint.hostname}:{endpoint.port}"


def judge_server(facts: Facts, endpoint: Endpoint, *, client: str) -> tuple[Outcome, list[Problem]]:
    """What happens when ``client`` connects to a server a configuration named.

    Shared by the clients that take a configuration and then connect: Thunderbird
    verifies the login before saving (ConfigVerifier.sys.mjs) and shows its
    certificate-exception dialog on a bad certificate; a plaintext server gets
    its "insecure" warning; a server that does not answer fails the check and
    leaves the user in the manual form.
    """
    health, detail = facts.health(endpoint)
    shown = _show(endpoint)
    if health is Health.OK:
        return Outcome.CONFIGURED, []
    if health is Health.PLAIN:
        msg = _("{server} sends the password in clear text: {client} warns before using it")
        return Outcome.PROMPTED, [Problem("plaintext", msg.format(server=shown, client=client))]
    if health in (Health.CERT_UNTRUSTED, Health.CERT_MISMATCH):
        msg = _("{server}: {detail}; {client} shows a certificate warning")
        problem = Problem("certificate", msg.format(server=shown, detail=detail, client=client))
        return Outcome.PROMPTED, [problem]
    if health is Health.NO_STARTTLS:
        msg = _("{server} does not offer STARTTLS, which the configuration states: the login fails")
        return Outcome.MANUAL, [Problem("no-starttls", msg.format(server=shown))]
    if health is Health.UNKNOWN:
        msg = _("{server} could not be checked live")
        return Outcome.CONFIGURED, [Problem("not-checked", msg.format(server=shown))]
    msg = _("{server} does not answer ({detail}): the login fails")
    return Outcome.MANUAL, [Problem("unreachable", msg.format(server=shown, detail=detail))]


def _first(servers: Sequence[NamedServer], incoming: bool) -> Endpoint | None:
    for named in servers:
        if named.endpoint.protocol.incoming is incoming:
            return named.endpoint
    return None


def _take_config(
    facts: Facts,
    result: SourceResult,
    *,
    client: str,
    via: str,
    incoming_protocols: tuple[Protocol, ...] = (Protocol.IMAP, Protocol.POP3),
) -> tuple[Outcome, Endpoint | None, Endpoint | None, list[Problem]]:
    """A configuration file's first incoming (of ``incoming_protocols``) and first
    outgoing server, judged."""
    # readFromXML.sys.mjs: the first <incomingServer> becomes `config.incoming`,
    # the others `incomingAlternatives`; the same for <outgoingServer>.
    incoming = next(
        (n.endpoint for n in result.servers if n.endpoint.protocol in incoming_protocols), None
    )
    outgoing = _first(result.servers, False)
    outcome = Outcome.CONFIGURED
    problems: list[Problem] = []
    for endpoint, side in ((incoming, _("incoming")), (outgoing, _("outgoing"))):
        if endpoint is None:
            msg = _("{via} names no {side} server: the user must type it")
            problems.append(Problem("incomplete", msg.format(via=via, side=side)))
            outcome = Outcome.MANUAL
            continue
        judged, found = judge_server(facts, endpoint, client=client)
        outcome = worst(outcome, judged)
        problems += found
    return outcome, incoming, outgoing, problems


def _origin(result: SourceResult) -> str:
    return result.origin or str(result.source)


def _disagreements(facts: Facts, result: SourceResult, incoming: Endpoint | None) -> list[Problem]:
    """The chosen configuration names another first server than the domain's other
    publication (autoconfig vs Autodiscover): a stale ISPDB entry, or two files that
    drifted apart, so clients end with different servers."""
    problems: list[Problem] = []
    if incoming is None:
        return problems
    for other in (Source.AUTOCONFIG, Source.AUTODISCOVER):
        if other is result.source:
            continue
        theirs = facts.source(other)
        first = _first(theirs.servers, True) if theirs is not None else None
        if first is not None and first.key != incoming.key:
            msg = _("{source} names {server}, but {other} names {theirs}")
            problems.append(
                Problem(
                    "disagreement",
                    msg.format(
                        source=result.source.value,
                        server=_show(incoming),
                        other=other.value,
                        theirs=_show(first),
                    ),
                )
            )
    return problems


# --------------------------------------------------------------------- Thunderbird


def _guess_order_incoming(domain: str) -> list[tuple[Endpoint, bool]]:
    """GuessConfig.sys.mjs's tries, in its order: (endpoint probed, as plain?).

    `_hostnamesToTry`: "imap." (IMAP only), "pop3." and "pop." (POP only), "mail.",
    the domain; `sortTriesByPreference`: "Prefer SSL/STARTTLS above all else",
    then "Prefer IMAP over POP", then "Prefer SSL/TLS over STARTTLS", hosts in
    their order. A plain try uses the STARTTLS port (IMAP_PORTS[NONE] = 143).
    """
    hosts = {
        Protocol.IMAP: [f"imap.{domain}", f"mail.{domain}", domain],
        Protocol.POP3: [f"pop3.{domain}", f"pop.{domain}", f"mail.{domain}", domain],
    }
    ports = {Protocol.IMAP: (993, 143), Protocol.POP3: (995, 110)}
    tries: list[tuple[Endpoint, bool]] = []
    for protocol in (Protocol.IMAP, Protocol.POP3):
        ssl_port, starttls_port = ports[protocol]
        tries += [(Endpoint(protocol, h, ssl_port, Security.SSL), False) for h in hosts[protocol]]
        tries += [
            (Endpoint(protocol, h, starttls_port, Security.STARTTLS), False)
            for h in hosts[protocol]
        ]
    for protocol in (Protocol.IMAP, Protocol.POP3):
        tries += [
            (Endpoint(protocol, h, ports[protocol][1], Security.STARTTLS), True)
            for h in hosts[protocol]
        ]
    return tries


def _guess_order_outgoing(domain: str) -> list[tuple[Endpoint, bool]]:
    """`getOutgoingTryOrder`: STARTTLS 587, STARTTLS 25, SSL 465, NONE 587, NONE 25 per
    host ("smtp.", "mail.", the domain), then sorted as above (SSL first)."""
    hosts = [f"smtp.{domain}", f"mail.{domain}", domain]
    tries = [(Endpoint(Protocol.SMTP, h, 465, Security.SSL), False) for h in hosts]
    for h in hosts:
        tries += [(Endpoint(Protocol.SMTP, h, p, Security.STARTTLS), False) for p in (587, 25)]
    for h in hosts:
        tries += [(Endpoint(Protocol.SMTP, h, p, Security.STARTTLS), True) for p in (587, 25)]
    return tries


def _guess(
    facts: Facts, tries: list[tuple[Endpoint, bool]]
) -> tuple[Endpoint | None, Health | None]:
    """The first try that succeeds, as `_checkFinished` accepts it: "thisTry is good,
    and all higher preference tries failed, so use this"."""
    for endpoint, as_plain in tries:
        health, _detail = facts.health(endpoint)
        if as_plain:
            # A plain try succeeds wherever the protocol answers (STARTTLS or not).
            if health in (Health.OK, Health.NO_STARTTLS, Health.PLAIN):
                return Endpoint(
                    endpoint.protocol, endpoint.hostname, endpoint.port, Security.PLAIN
                ), Health.PLAIN
            continue
        if health is Health.OK:
            return endpoint, health
        # `_processResult`: ERROR_MISMATCH -> "thisTry.status = kFailed"; ERROR_UNTRUSTED
        # or ERROR_TIME -> "TRYING AGAIN, hopefully with exception recorded" (badCert).
        if health is Health.CERT_UNTRUSTED:
            return endpoint, health
        # `_hasSTARTTLS`: "STARTTLS wanted, but not offered" -> kFailed.
    return None, None


def thunderbird(facts: Facts) -> ClientResult:
    """Thunderbird desktop (comm-central mail/components/accountcreation/modules)."""
    client = "Thunderbird"
    # FindConfig.sys.mjs: `const lookups = ["fromDisk", "fromISP", "fromDB", "forMX"];`
    # "These are in order of importance" -- the highest-priority success wins.
    for source, name, step in (
        (Source.LOCAL, _("the isp/ folder"), "isp-folder"),
        (Source.AUTOCONFIG, "autoconfig", "autoconfig"),
        (Source.ISPDB, "ISPDB", "ispdb"),
        (Source.MX, _("MX lookup"), "mx"),
    ):
        result = facts.source(source)
        if result is None or not result.servers:
            continue
        via = f"{name} {_origin(result)}"
        outcome, incoming, outgoing, problems = _take_config(facts, result, client=client, via=via)
        if source is not Source.LOCAL and (result.origin or "").startswith("http://"):
            # FetchConfig.sys.mjs: `call.foundMsg = url.startsWith("https") ? "https" : "http"`
            # -- an http:// answer is used like an https:// one, without a word to the user.
            msg = _(
                "Thunderbird takes the file from plain HTTP without a warning: anyone on"
                " the path can replace the servers"
            )
            problems.append(Problem("autoconfig-http", msg))
        if source is not Source.LOCAL:
            problems += _disagreements(facts, result, incoming)
        return ClientResult(
            "thunderbird", outcome, incoming, outgoing, via, tuple(problems), step=step
        )
    # "Microsoft Autodiscover is outside the priority ordering" and is used when
    # "All priority-ordered config fetching mechanisms failed".
    found = _thunderbird_exchange(facts)
    if found is not None:
        return found
    # Guessing (GuessConfig.sys.mjs) runs when nothing was found; it needs both sides:
    # `checkDone`: an incoming or outgoing error calls errorCallback.
    return _thunderbird_guess(facts)


def _thunderbird_guess(facts: Facts) -> ClientResult:
    incoming, in_health = _guess(facts, _guess_order_incoming(facts.domain))
    outgoing, out_health = _guess(facts, _guess_order_outgoing(facts.domain))
    problems: list[Problem] = []
    outcome = Outcome.CONFIGURED
    for endpoint, health in ((incoming, in_health), (outgoing, out_health)):
        if endpoint is None:
            outcome = Outcome.MANUAL
            continue
        if health is Health.PLAIN:
            outcome = worst(outcome, Outcome.PROMPTED)
            msg = _(
                "guessing found only {server} without TLS: Thunderbird warns that the"
                " password goes in clear text"
            )
            problems.append(Problem("plaintext", msg.format(server=_show(endpoint))))
        elif health is Health.CERT_UNTRUSTED:
            outcome = worst(outcome, Outcome.PROMPTED)
            msg = _(
                "{server} has an untrusted or expired certificate: Thunderbird asks for a"
                " security exception"
            )
            problems.append(Problem("certificate", msg.format(server=_show(endpoint))))
    if outcome is Outcome.MANUAL:
        msg = _("no configuration published and guessing found no complete set of servers")
        problems.insert(0, Problem("nothing-found", msg))
        return ClientResult(
            "thunderbird", outcome, incoming, outgoing, _("manual"), tuple(problems)
        )
    return ClientResult(
        "thunderbird", outcome, incoming, outgoing, _("guessing"), tuple(problems), step="guess"
    )


def autodiscover_path(facts: Facts, result: SourceResult) -> str:
    """How the Autodiscover answer was reached: "direct" (the domain's own two https
    URLs), "redirect" (the http://autodiscover.D redirect), "srv" (an
    _autodiscover._tcp record) or "other" (a redirectUrl/redirectAddr chain)."""
    host = urlsplit(result.origin or "").hostname or ""
    if host in (facts.domain, f"autodiscover.{facts.domain}"):
        return "direct"
    for step in result.steps:
        if step.status.value != "found" or host not in step.detail:
            continue
        if step.target.startswith(f"GET http://autodiscover.{facts.domain}/"):
            return "redirect"
        if step.target.startswith("SRV "):
            return "srv"
    return "other"


def _thunderbird_exchange(facts: Facts) -> ClientResult | None:
    result = facts.source(Source.AUTODISCOVER)
    exchange = facts.report.exchange
    if result is None or (not result.servers and (exchange is None or not exchange.ews_url)):
        return None
    if autodiscover_path(facts, result) == "srv":
        # ExchangeAutoDiscover.sys.mjs asks url1 (https://autodiscover.D), url2
        # (https://D) and url3 (the http://autodiscover.D redirect) only: no SRV lookup.
        return None
    via = f"Autodiscover {_origin(result)}"
    problems: list[Problem] = []
    outcome = Outcome.CONFIGURED
    host = urlsplit(result.origin or "").hostname or ""
    base = registrable_domain(host) if host else None
    if base and base != registrable_domain(facts.domain) and base not in _THUNDERBIRD_SAFE_REDIRECT:
        # ExchangeAutoDiscover.sys.mjs: "Given that we received the redirect URL from an
        # insecure HTTP call, we ask the user whether he trusts the redirect domain."
        outcome = Outcome.PROMPTED
        msg = _(
            "Autodiscover sends Thunderbird to {host}, another domain: it asks the user"
            " before sending the password there"
        )
        problems.append(Problem("autodiscover-redirect", msg.format(host=host)))
    if result.servers:
        judged, incoming, outgoing, found = _take_config(
            facts, result, client="Thunderbird", via=via
        )
        return ClientResult(
            "thunderbird",
            worst(outcome, judged),
            incoming,
            outgoing,
            via,
            tuple(problems + found),
            step="autodiscover",
        )
    assert exchange is not None
    return ClientResult(
        "thunderbird",
        outcome,
        None,
        None,
        via,
        tuple(problems),
        exchange_url=exchange.ews_url,
        step="autodiscover",
    )


# ----------------------------------------------------------- Thunderbird for Android


def android_parser_refusal(body: bytes, address_domain: str) -> str | None:
    """Why Thunderbird for Android's autoconfig parser refuses ``body``, or None.

    RealAutoconfigParser.kt rejects the *whole file* (``parserError``) where
    Thunderbird desktop skips one server: a ``socketType`` other than SSL or
    STARTTLS ("Unknown 'socketType' value"), a server with no authentication it
    knows ("No usable 'authentication' element found": only OAuth2,
    password-cleartext, password-encrypted -- not the deprecated "plain"), a
    missing hostname, port or username, an ``emailProvider id`` that is not a
    host name, no valid ``domain``; and it reads only ``incomingServer
    type="imap"`` (`parseServer("imap", ...)`) and ``outgoingServer type="smtp"``.
    """
    import defusedxml.ElementTree as DET

    try:
        root = DET.fromstring(body)
    except Exception:  # defusedxml raises several types for hostile or broken XML
        return "Error parsing Autoconfig XML"
    if _local(root.tag) != "clientConfig":
        return "Missing 'clientConfig' element"
    provider = next((e for e in root if _local(e.tag) == "emailProvider"), None)
    if provider is None:
        return "Missing 'emailProvider' element"
    provider_id = provider.get("id")
    if provider_id is None or not _hostname_ok(provider_id):
        return "Invalid 'emailProvider.id' attribute"
    found = {"incomingServer": False, "outgoingServer": False}
    domain_found = False
    for child in provider:
        tag = _local(child.tag)
        if tag == "domain":
            domain_found = domain_found or _hostname_ok(
                (child.text or "").strip().replace("%EMAILDOMAIN%", address_domain)
            )
        elif tag in found:
            wanted = "imap" if tag == "incomingServer" else "smtp"
            if child.get("type") != wanted:
                continue  # `Unsupported '%s[type]' value` -- skipped, not an error
            refusal = _android_server(child, address_domain)
            if refusal is not None:
                return refusal
            found[tag] = True
    if not domain_found:
        return "Valid 'domain' element required"
    if not found["incomingServer"]:
        return "Missing 'incomingServer' element (only IMAP is read)"
    if not found["outgoingServer"]:
        return "Missing 'outgoingServer' element"
    return None


def _android_server(server: Element, domain: str) -> str | None:
    values: dict[str, list[str]] = {}
    for child in server:
        values.setdefault(_local(child.tag), []).append((child.text or "").strip())
    hostname = values["hostname"][-1] if values.get("hostname") else None
    port = values["port"][-1] if values.get("port") else None
    sockets = values.get("socketType") or []
    if any(s not in ("SSL", "STARTTLS") for s in sockets):
        bad = next(s for s in sockets if s not in ("SSL", "STARTTLS"))
        return f"Unknown 'socketType' value: '{bad}'"
    if hostname is None:
        return "Missing 'hostname' element"
    if not _hostname_ok(hostname.replace("%EMAILDOMAIN%", domain)):
        return f"Invalid 'hostname' value: '{hostname}'"
    if port is None:
        return "Missing 'port' element"
    if not port.isdigit() or int(port) > 65535:
        return f"Invalid 'port' value: '{port}'"
    if "username" not in values:
        return "Missing 'username' element"
    known = {"OAuth2", "password-cleartext", "password-encrypted"}
    if not any(a in known for a in values.get("authentication", [])):
        return "No usable 'authentication' element found"
    if not sockets:
        return "Missing 'socketType' element"
    return None


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def _hostname_ok(name: str) -> bool:
    name = name.strip().rstrip(".")
    if not name or len(name) > 253:
        return False
    return all(
        0 < len(label) <= 63
        and label.replace("-", "").isalnum()
        and label.isascii()
        and not label.startswith("-")
        and not label.endswith("-")
        for label in name.split(".")
    )


def _android_servers_refusal(result: SourceResult) -> str | None:
    """The parser's rules over a configuration known only through our own parser (the
    ISPDB, MX): a plaintext server or no IMAP server refuses the whole file."""
    if any(n.endpoint.security is Security.PLAIN for n in result.servers):
        return "Unknown 'socketType' value: 'plain'"
    if not any(n.endpoint.protocol is Protocol.IMAP for n in result.servers):
        return "Missing 'incomingServer' element (only IMAP is read)"
    return None


def thunderbird_android(facts: Facts) -> ClientResult:
    """Thunderbird for Android / K-9 (thunderbird-android feature/autodiscovery)."""
    client = "Thunderbird for Android"
    # RealAutoDiscoveryRegistry.createDefaultAutoDiscoveries: provider autoconfig,
    # ISPDB, MX lookup -- in that priority (PriorityParallelRunner). No guessing,
    # no SRV, no Autodiscover: the srvrecords module is not in the default list.
    candidates: list[tuple[SourceResult, str, bool, str]] = []
    refused: list[Problem] = []
    provider = facts.source(Source.AUTOCONFIG)
    refetch = facts.refetch
    if provider is not None and provider.servers:
        # `defaultAutoconfigUrlConfig = AutoconfigUrlConfig(httpsOnly = false,
        # includeEmailAddress = false)`: the file must answer without ?emailaddress=.
        if refetch is not None and refetch.without_address_status != 200:
            msg = _(
                "the autoconfig file does not answer without ?emailaddress= (HTTP {status}),"
                " and Thunderbird for Android does not send the address"
            )
            status = refetch.without_address_status
            refused.append(Problem("needs-address", msg.format(status=status or "-")))
        else:
            why = (
                android_parser_refusal(refetch.body, facts.domain)
                if refetch is not None and refetch.body is not None
                else _android_servers_refusal(provider)
            )
            if why is not None:
                refused.append(_parser_problem(_origin(provider), why))
            else:
                trusted = (
                    refetch.without_address_trusted if refetch is not None else provider.trusted
                )
                via = f"autoconfig {_origin(provider)}"
                candidates.append((provider, via, trusted, "autoconfig"))
    ispdb = facts.source(Source.ISPDB)
    mx = facts.source(Source.MX)
    # MxLookupAutoconfigDiscovery: `urlProvider = IspDbAutoconfigUrlProvider()` -- only the
    # ISPDB is asked for the MX host's domains, never autoconfig.<mx domain>.
    mx_usable = mx is not None and not (mx.origin or "").startswith("https://autoconfig.")
    for result, name, usable, token in (
        (ispdb, "ISPDB", True, "ispdb"),
        (mx, "MX lookup", mx_usable, "mx"),
    ):
        if result is None or not result.servers or not usable:
            continue
        why = _android_servers_refusal(result)
        if why is not None:
            refused.append(_parser_problem(_origin(result), why))
            continue
        # REFERENCE.md / draft-ietf-mailmaint-autoconfig: via MX needs DNSSEC too;
        # `mx.trusted` already requires HTTPS and a DNSSEC-validated MX answer.
        candidates.append((result, f"{name} {_origin(result)}", result.trusted, token))
    if not candidates:
        problems = [
            Problem(
                "nothing-found",
                _(
                    "Thunderbird for Android finds no configuration: it does not guess, nor"
                    " read SRV or Autodiscover"
                ),
            ),
            *refused,
        ]
        return ClientResult(
            "thunderbird-android", Outcome.MANUAL, None, None, _("manual"), tuple(problems)
        )
    result, via, trusted, step = candidates[0]
    # `parseServer("imap", ...)`: the first IMAP server, whatever comes before it.
    outcome, incoming, outgoing, problems = _take_config(
        facts, result, client=client, via=via, incoming_protocols=(Protocol.IMAP,)
    )
    problems += _disagreements(facts, result, incoming)
    if not trusted:
        # RealAutoconfigFetcher: `isTrusted = fetchResult.isTrusted` -- an untrusted result
        # is shown for the user's explicit approval before it is used.
        outcome = worst(outcome, Outcome.PROMPTED)
        msg = _(
            "found over a channel Thunderbird for Android does not trust (plain HTTP, or an"
            " MX answer without DNSSEC): the user must approve the settings"
        )
        problems.insert(0, Problem("untrusted", msg))
    return ClientResult(
        "thunderbird-android",
        outcome,
        incoming,
        outgoing,
        via,
        tuple(problems + refused),
        step=step,
    )


def _parser_problem(origin: str, why: str) -> Problem:
    msg = _("Thunderbird for Android's parser refuses {origin} as a whole: {reason}")
    return Problem("android-parser", msg.format(origin=origin, reason=why))


# ------------------------------------------------------------------- Outlook classic


def _microsoft365(facts: Facts) -> bool:
    exchange = facts.report.exchange
    provider = facts.report.provider
    return (exchange is not None and exchange.hosted == "microsoft365") or (
        provider is not None and provider.hosted_by == "microsoft365"
    )


def outlook(facts: Facts) -> ClientResult:
    """Outlook classic for Windows (MS-OXDSCLI / MS-OXDISCO Autodiscover order)."""
    client = "Outlook"
    cloud = _(
        "for IMAP and POP, Outlook asks Microsoft's cloud service for settings, which"
        " no outside check can see; only the PRF or registry files of `advisor export`"
        " make it deterministic"
    )
    if _microsoft365(facts):
        # Outlook 2016 and later try Microsoft 365 first ("direct connect") whatever DNS
        # says (REFERENCE.md §2, "Cheap Microsoft 365 signals").
        m365_url = (facts.report.exchange.ews_url if facts.report.exchange else None) or (
            "https://outlook.office365.com/EWS/Exchange.asmx"
        )
        return ClientResult(
            "outlook",
            Outcome.CONFIGURED,
            None,
            None,
            _("Microsoft 365 (direct connect)"),
            (),
            exchange_url=m365_url,
            step="microsoft365",
        )
    result = facts.source(Source.AUTODISCOVER)
    exchange = facts.report.exchange
    problems = _autodiscover_certificate_problems(facts)
    base = Outcome.PROMPTED if problems else Outcome.CONFIGURED
    answered = result is not None and (result.servers or result.origin)
    if result is not None and answered:
        via = f"Autodiscover {_origin(result)}"
        host = urlsplit(result.origin or "").hostname or ""
        if host and host not in (facts.domain, f"autodiscover.{facts.domain}"):
            # MS-OXDISCO 3.1.5.x: "If this URI results in an HTTP 302 redirect, prompt the
            # user to warn them of the redirection." Outlook shows the same "Allow this
            # website to configure ... server settings?" for an SRV-named host.
            base = worst(base, Outcome.PROMPTED)
            msg = _(
                "Autodiscover is answered by {host}, reached through a redirect or an SRV"
                ' record: Outlook asks "Allow this website to configure server settings?"'
            )
            problems.append(Problem("autodiscover-redirect", msg.format(host=host)))
        if result.servers:
            outcome, incoming, outgoing, found = _take_config(facts, result, client=client, via=via)
            found += _disagreements(facts, result, incoming)
            return ClientResult(
                "outlook",
                worst(base, outcome),
                incoming,
                outgoing,
                via,
                tuple(problems + found),
                step="autodiscover",
            )
        url = exchange.ews_url if exchange is not None else None
        # MS-OXDSCLI 2.2.4.1.1.2.x: EXCH / EXPR protocols carry the Exchange settings;
        # a 401 proves the endpoint, the settings come after Outlook's own login.
        return ClientResult(
            "outlook",
            base,
            None,
            None,
            via,
            tuple(problems),
            exchange_url=url or result.origin,
            unknowable=(_("the Exchange settings Autodiscover gives after the user's login"),),
            step="autodiscover",
        )
    problems.append(Problem("not-deterministic", cloud))
    return ClientResult(
        "outlook", Outcome.MANUAL, None, None, _("manual"), tuple(problems), unknowable=(cloud,)
    )


def _autodiscover_certificate_problems(facts: Facts) -> list[Problem]:
    """An https Autodiscover URL Outlook tries whose certificate fails: Outlook shows
    its "The name of the security certificate is invalid" warning."""
    out: list[Problem] = []
    for step in facts.report.steps:
        if (
            step.source == "autodiscover"
            and step.target.startswith("POST https://")
            and "certificate" in step.detail.lower()
            and "valid" in step.detail.lower()
        ):
            url = step.target.removeprefix("POST ")
            msg = _("{url}: {detail}; Outlook shows a certificate warning")
            out.append(Problem("certificate", msg.format(url=url, detail=step.detail)))
    return out


# ------------------------------------------------------------- Apple Mail / iOS Mail


def apple_mail(facts: Facts) -> ClientResult:
    """Apple Mail on macOS, iOS and iPadOS: what Apple documents, nothing more."""
    provider = facts.report.provider
    hosted = provider.hosted_by if provider is not None else None
    builtin = _APPLE_BUILTIN.get(facts.domain) or ("Google" if hosted == "google" else None)
    if builtin is not None:
        via = _("built-in account type: {name}").format(name=builtin)
        return ClientResult(
            "apple-mail",
            Outcome.CONFIGURED,
            None,
            None,
            via,
            (),
            publication_bound=False,
            step="builtin",
        )
    exchange = facts.report.exchange
    if _microsoft365(facts) or (exchange is not None and exchange.activesync_url):
        # Apple: "Set up Exchange ActiveSync on your iPhone": the device uses Autodiscover
        # to find the Exchange server once the user picks "Microsoft Exchange".
        url = exchange.activesync_url if exchange is not None else None
        return ClientResult(
            "apple-mail",
            Outcome.CONFIGURED,
            None,
            None,
            _("Microsoft Exchange account (Autodiscover)"),
            (),
            exchange_url=url,
            step="exchange",
        )
    unknown = _(
        'Apple documents that Mail "tries to find" the settings of other domains,'
        " not how: the outcome cannot be known from outside"
    )
    fix = _(
        "a configuration profile (`advisor export ADDRESS --client apple`) sets the account"
        " up without typing"
    )
    return ClientResult(
        "apple-mail",
        Outcome.MANUAL,
        None,
        None,
        _("manual"),
        (Problem("profile-needed", fix),),
        unknowable=(unknown,),
        publication_bound=False,
    )


SIMULATIONS: tuple[tuple[str, Callable[[Facts], ClientResult]], ...] = (
    ("thunderbird", thunderbird),
    ("thunderbird-android", thunderbird_android),
    ("outlook", outlook),
    ("apple-mail", apple_mail),
)
"""One entry per simulated client: adding a client is adding a line here."""


def simulate(facts: Facts) -> tuple[ClientResult, ...]:
    return tuple(run(facts) for _name, run in SIMULATIONS)
