"""What the domain publishes, checked one item at a time, each problem with its fix.

The fixes reuse ``advisor autoconfig``: the command that writes the file to
publish (from the servers that verified live), the URLs to publish it at and
the DNS records.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from advisor.check.facts import Facts, Health
from advisor.check.model import PublicationCheck, Status
from advisor.i18n import _
from advisor.models import Candidate, Endpoint, Protocol, Security, Source
from advisor.sources.dnshints import registrable_domain

_SRV_LABEL = {
    (Protocol.IMAP, Security.SSL): "_imaps._tcp",
    (Protocol.IMAP, Security.STARTTLS): "_imap._tcp",
    (Protocol.POP3, Security.SSL): "_pop3s._tcp",
    (Protocol.POP3, Security.STARTTLS): "_pop3._tcp",
    (Protocol.SMTP, Security.SSL): "_submissions._tcp",
    (Protocol.SMTP, Security.STARTTLS): "_submission._tcp",
}


def _show(endpoint: Endpoint) -> str:
    return f"{endpoint.protocol.value.upper()} {endpoint.hostname}:{endpoint.port}"


def _verified(candidates: tuple[Candidate, ...]) -> list[Candidate]:
    return [c for c in candidates if c.verified and c.endpoint.security is not Security.PLAIN]


def autoconfig_command(facts: Facts, output_format: str = "mozilla") -> str:
    """The ``advisor autoconfig`` line that writes the file to publish."""
    d = facts.domain
    out = "config-v1.1.xml" if output_format == "mozilla" else "autodiscover.xml"
    parts = [f"advisor autoconfig {d} --out {out}"]
    if output_format != "mozilla":
        parts.append("--format autodiscover")
    incoming = _verified(facts.report.incoming)[:1]
    outgoing = _verified(facts.report.outgoing)[:1]
    if incoming and outgoing:
        for c in (*incoming, *outgoing):
            e = c.endpoint
            parts.append(f"--{e.protocol.value} {e.hostname}:{e.port}:{e.security.value}")
    else:
        parts.append(f"--imap imap.{d}:993:ssl --smtp smtp.{d}:465:ssl")
    return " ".join(parts)


def _publish_autoconfig(facts: Facts) -> str:
    d = facts.domain
    return _(
        "run `{command}` and publish the file at https://autoconfig.{domain}/mail/config-v1.1.xml"
        " (DNS: autoconfig.{domain}. IN CNAME <your web server>.) with a certificate valid for"
        " that name"
    ).format(command=autoconfig_command(facts), domain=d)


def _publish_autodiscover(facts: Facts) -> str:
    d = facts.domain
    return _(
        "run `{command}` and answer POST requests at"
        " https://autodiscover.{domain}/autodiscover/autodiscover.xml with it"
        " (DNS: autodiscover.{domain}. IN CNAME <your web server>.)"
    ).format(command=autoconfig_command(facts, "autodiscover"), domain=d)


def check_autoconfig(facts: Facts) -> list[PublicationCheck]:
    result = facts.source(Source.AUTOCONFIG)
    out: list[PublicationCheck] = []
    if result is None or not result.servers:
        failed = [
            s for s in facts.report.steps if s.source == "autoconfig" and s.status.value == "error"
        ]
        detail = _(
            "no autoconfig file at https://autoconfig.{domain}/mail/config-v1.1.xml nor"
            " at the .well-known location"
        ).format(domain=facts.domain)
        if failed:
            detail += "; " + "; ".join(f"{s.target}: {s.detail}" for s in failed[:2])
        out.append(PublicationCheck("autoconfig", Status.ERROR, detail, _publish_autoconfig(facts)))
        return out
    origin = result.origin or ""
    out.append(PublicationCheck("autoconfig", Status.OK, _("found at {url}").format(url=origin)))
    if origin.startswith("http://") or not result.trusted:
        https_errors = [
            s
            for s in facts.report.steps
            if s.source == "autoconfig"
            and s.target.startswith("GET https://")
            and "certificate" in s.detail.lower()
        ]
        detail = _("served without HTTPS all the way: anyone on the path can change the servers")
        if https_errors:
            detail += "; " + "; ".join(f"{s.target}: {s.detail}" for s in https_errors[:2])
        fix = _(
            "serve it over HTTPS with a certificate valid for autoconfig.{domain}"
            " (and redirect only to https:// URLs)"
        ).format(domain=facts.domain)
        out.append(PublicationCheck("autoconfig-https", Status.ERROR, detail, fix))
    else:
        out.append(
            PublicationCheck(
                "autoconfig-https", Status.OK, _("HTTPS with a valid certificate on every hop")
            )
        )
    lint = facts.lint
    if lint is not None:
        if lint.errors:
            detail = "; ".join(f"{f.where}: {f.message}" for f in lint.errors[:3])
            out.append(
                PublicationCheck(
                    "autoconfig-lint", Status.ERROR, detail, _publish_autoconfig(facts)
                )
            )
        elif lint.warnings:
            detail = "; ".join(f"{f.where}: {f.message}" for f in lint.warnings[:3])
            out.append(
                PublicationCheck(
                    "autoconfig-lint", Status.WARNING, detail, _publish_autoconfig(facts)
                )
            )
        else:
            out.append(
                PublicationCheck(
                    "autoconfig-lint", Status.OK, _("`advisor lint` finds nothing to fix")
                )
            )
    refetch = facts.refetch
    if refetch is not None and refetch.without_address_status != 200:
        detail = _(
            "without ?emailaddress= the URL answers {answer}: Thunderbird for Android"
            " (and anyone with the privacy option) gets nothing"
        ).format(
            answer=f"HTTP {refetch.without_address_status}"
            if refetch.without_address_status is not None
            else refetch.without_address_detail
        )
        fix = _(
            "answer the same file when the query string is missing (automx2: give the"
            " domain a default, or serve a static file)"
        )
        out.append(PublicationCheck("autoconfig-no-address", Status.WARNING, detail, fix))
    bad = []
    for named in result.servers:
        health, detail = facts.health(named.endpoint)
        if health not in (Health.OK, Health.UNKNOWN):
            bad.append(f"{_show(named.endpoint)}: {detail}")
    if bad:
        out.append(
            PublicationCheck(
                "autoconfig-servers", Status.ERROR, "; ".join(bad[:4]), _publish_autoconfig(facts)
            )
        )
    else:
        out.append(
            PublicationCheck(
                "autoconfig-servers",
                Status.OK,
                _("every server the file names answers with valid TLS"),
            )
        )
    return out


def check_autodiscover(facts: Facts) -> list[PublicationCheck]:
    result = facts.source(Source.AUTODISCOVER)
    exchange = facts.report.exchange
    out: list[PublicationCheck] = []
    if result is None or not (result.servers or result.origin or (exchange and exchange.ews_url)):
        detail = _("no Autodiscover answer: Outlook classic cannot set up IMAP or POP by itself")
        out.append(
            PublicationCheck("autodiscover", Status.WARNING, detail, _publish_autodiscover(facts))
        )
        return out
    out.append(
        PublicationCheck(
            "autodiscover",
            Status.OK,
            _("answered by {url}").format(url=result.origin or "Exchange"),
        )
    )
    host = urlsplit(result.origin or "").hostname or ""
    base = registrable_domain(host) if host else None
    if (
        base
        and base != registrable_domain(facts.domain)
        and base not in ("office365.com", "outlook.com")
    ):
        detail = _("the address is handed to {host}, outside {domain}").format(
            host=host, domain=facts.domain
        )
        fix = _("answer Autodiscover on autodiscover.{domain} itself").format(domain=facts.domain)
        out.append(PublicationCheck("autodiscover-leak", Status.WARNING, detail, fix))
    refused = [w for w in result.warnings if "not tried" in w or "refus" in w]
    if refused:
        out.append(
            PublicationCheck(
                "autodiscover-leak",
                Status.ERROR,
                "; ".join(refused[:2]),
                _publish_autodiscover(facts),
            )
        )
    return out


def check_srv(facts: Facts) -> list[PublicationCheck]:
    named = [c for c in (*facts.report.incoming, *facts.report.outgoing) if Source.SRV in c.sources]
    if not named:
        records = []
        for c in (*_verified(facts.report.incoming)[:1], *_verified(facts.report.outgoing)[:1]):
            label = _SRV_LABEL.get((c.endpoint.protocol, c.endpoint.security))
            if label:
                records.append(
                    f"{label}.{facts.domain}. IN SRV 0 1 {c.endpoint.port} {c.endpoint.hostname}."
                )
        fix = _("optional (RFC 6186); publish {records}").format(
            records="; ".join(records) or "_imaps._tcp / _submissions._tcp SRV records"
        )
        return [PublicationCheck("srv", Status.OK, _("no SRV records (optional)"), fix)]
    bad = []
    for c in named:
        probed = c.probe.endpoint if c.probe is not None else c.endpoint
        health, detail = facts.health(probed)
        if health not in (Health.OK, Health.UNKNOWN):
            bad.append(f"{_show(probed)}: {detail}")
    if bad:
        fix = _("point the SRV records at servers that answer with valid TLS, or remove them")
        return [PublicationCheck("srv", Status.ERROR, "; ".join(bad[:4]), fix)]
    return [PublicationCheck("srv", Status.OK, _("every SRV target answers with valid TLS"))]


def check_consistency(facts: Facts) -> list[PublicationCheck]:
    """Autoconfig, Autodiscover and SRV should name the same first servers."""
    firsts: dict[str, tuple[Endpoint | None, Endpoint | None]] = {}
    for source in (Source.AUTOCONFIG, Source.AUTODISCOVER):
        result = facts.source(source)
        if result is not None and result.servers:
            inc = next((n.endpoint for n in result.servers if n.endpoint.protocol.incoming), None)
            outg = next(
                (n.endpoint for n in result.servers if not n.endpoint.protocol.incoming), None
            )
            firsts[source.value] = (inc, outg)
    srv_in = sorted(
        (c for c in facts.report.incoming if c.srv_priority is not None),
        key=lambda c: c.srv_priority or 0,
    )
    srv_out = sorted(
        (c for c in facts.report.outgoing if c.srv_priority is not None),
        key=lambda c: c.srv_priority or 0,
    )
    if srv_in or srv_out:
        firsts["srv"] = (
            (srv_in[0].probe.endpoint if srv_in[0].probe else srv_in[0].endpoint)
            if srv_in
            else None,
            (srv_out[0].probe.endpoint if srv_out[0].probe else srv_out[0].endpoint)
            if srv_out
            else None,
        )
    if len(firsts) < 2:
        return []
    differences = []
    names = list(firsts)
    for side in (0, 1):
        seen = {n: firsts[n][side] for n in names if firsts[n][side] is not None}
        keys = {e.key for e in seen.values() if e is not None}
        if len(keys) > 1:
            differences.append(
                ", ".join(f"{n}: {_show(e)}" for n, e in seen.items() if e is not None)
            )
    if not differences:
        return [
            PublicationCheck(
                "consistency",
                Status.OK,
                _("{sources} name the same first servers").format(sources=", ".join(names)),
            )
        ]
    detail = _("the sources disagree, so clients end with different servers: {list}").format(
        list=" | ".join(differences)
    )
    fix = _(
        "publish one set of servers everywhere: {command}, then the matching"
        " Autodiscover answer (--format autodiscover) and SRV records"
    ).format(command=autoconfig_command(facts))
    return [PublicationCheck("consistency", Status.WARNING, detail, fix)]


def check_certificates(facts: Facts) -> list[PublicationCheck]:
    bad = []
    for c in (*facts.report.incoming, *facts.report.outgoing):
        if c.probe is None:
            continue
        health, detail = facts.health(c.probe.endpoint)
        if health in (Health.CERT_MISMATCH, Health.CERT_UNTRUSTED):
            bad.append(f"{_show(c.probe.endpoint)}: {detail}")
    if not bad:
        return [
            PublicationCheck(
                "certificates", Status.OK, _("every server that answered has a valid certificate")
            )
        ]
    fix = _(
        "install a certificate from a public CA whose names include each host name above"
        " (e.g. Let's Encrypt), with its intermediate certificates"
    )
    return [PublicationCheck("certificates", Status.ERROR, "; ".join(bad[:4]), fix)]


def check_plaintext(facts: Facts) -> list[PublicationCheck]:
    plain = [
        c
        for c in (*facts.report.incoming, *facts.report.outgoing)
        if c.endpoint.security is Security.PLAIN
    ]
    if not plain:
        return [PublicationCheck("plaintext", Status.OK, _("no server offers clear text only"))]
    tls = [
        c
        for c in plain
        if any(
            o.verified and o.endpoint.protocol is c.endpoint.protocol
            for o in (*facts.report.incoming, *facts.report.outgoing)
        )
    ]
    detail = _("clear text only: {servers}").format(
        servers=", ".join(_show(c.endpoint) for c in plain[:4])
    )
    fix = _(
        "enable implicit TLS (993, 995, 465) or STARTTLS with a valid certificate, and name"
        " only those in the published files (RFC 8314)"
    )
    status = Status.WARNING if len(tls) == len(plain) else Status.ERROR
    return [PublicationCheck("plaintext", status, detail, fix)]


CHECKS: tuple[Callable[[Facts], list[PublicationCheck]], ...] = (
    check_autoconfig,
    check_autodiscover,
    check_srv,
    check_consistency,
    check_certificates,
    check_plaintext,
)
"""Every publication check, in report order: adding one is adding a line here."""


def publication(facts: Facts) -> tuple[PublicationCheck, ...]:
    out: list[PublicationCheck] = []
    for check in CHECKS:
        out += check(facts)
    return tuple(out)
