"""Rendering a discovery report: JSON (the ``advisor.discovery/1`` contract) and text.

Pure functions from a report to data or text; the CLI decides where it goes.
The JSON keys listed in the README are a contract: later versions add keys,
never rename or remove them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advisor import i18n
from advisor.i18n import _
from advisor.models import (
    Candidate,
    CertificateFacts,
    DiscoveryReport,
    ExchangeFacts,
    ProbeResult,
    ProviderFacts,
    Step,
    StepStatus,
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
    }


# ------------------------------------------------------------------- text

_STATUS_STYLE = {
    StepStatus.FOUND: "green",
    StepStatus.NOT_FOUND: "dim",
    StepStatus.ERROR: "red",
    StepStatus.TIMEOUT: "yellow",
    StepStatus.SKIPPED: "dim",
}
_STEP_ORDER = {
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


def render_text(report: DiscoveryReport, console: Console, *, all_steps: bool = False) -> None:
    """The human report: steps, chosen servers, warnings. Fits 80 columns.

    Written in the current language (:func:`advisor.i18n.set_language`).
    """
    from rich.markup import escape
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
    from rich.markup import escape

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


def render_recommendation(
    rec: Recommendation, console: Console, *, lang: str, address: str, explain: bool = False
) -> None:
    """The human recommendation: choice, reasons, alternatives, caveats. Fits 80 columns.

    ``lang`` becomes the process language (:func:`advisor.i18n.set_language`) when it
    is not already; rule explanations come from the rules in that language. Without
    ``explain`` (home users) the reasons are plain sentences; with it (``--explain``,
    IT staff) each carries its points and rule id, and alternatives their scores.
    """
    from rich.markup import escape

    if lang != i18n.current_language():
        i18n.set_language(lang)
    title = _("Recommendation for {address}").format(address=address).rstrip()
    console.print(f"[bold]{escape(title)}[/bold]")
    if rec.recommended is None:
        none = _("No protocol can be recommended: every one is excluded.")
        console.print(f"[red]{escape(none)}[/red]")
    else:
        label = _confidence_label(rec.confidence_label)
        protocol = _PROTOCOL_NAMES[rec.recommended]
        if explain:
            recommended = _("Recommended: {protocol} (confidence {label}, {confidence:.0%})")
        else:
            recommended = _("Recommended: {protocol} (confidence {label})")
        recommended = recommended.format(protocol=protocol, label=label, confidence=rec.confidence)
        console.print(f"[green]{escape(recommended)}[/green]")
    best = rec.ranking[0] if rec.recommended else None
    reasons = sorted(best.reasons, key=lambda item: -item[1]) if best is not None else []
    if not explain:  # a home user reads why it fits; the points against are --explain's
        reasons = [(rule, points) for rule, points in reasons if points > 0]
    if reasons:
        console.print(escape(_("Why:")))
        for rule, points in reasons:
            text = escape(rule.explanation(lang))
            if explain:
                sign = "+" if points > 0 else ""
                _item(console, f"{sign}{points}", f"{text} [dim]({rule.id})[/dim]")
            else:
                _item(console, "-", text)
    others = [c for c in rec.ranking if c is not best]
    if others:
        console.print(escape(_("Alternatives:")))
        for choice in others:
            _alternative(console, choice, lang=lang, explain=explain)
    if best is not None and best.caveats:
        caveats = _("Caveats:")
        console.print(f"[yellow]{escape(caveats)}[/yellow]")
        for rule in best.caveats:
            _item(console, "-", escape(rule.explanation(lang)))
    if rec.recommended == "pop3":
        if rec.leave_on_server:
            keep = _("POP3 set-up: leave mail on the server for {days} days")
            console.print(escape(keep.format(days=rec.keep_days)))
        else:
            delete = _("POP3 set-up: download and delete from the server (one backed-up computer)")
            console.print(escape(delete))
