"""Pure formatters of a :class:`CheckReport`: JSON (``advisor.check/1``), text, HTML."""

from __future__ import annotations

import html
from typing import Any

from advisor.check.model import CheckReport, ClientResult, Outcome, Status
from advisor.i18n import _
from advisor.models import Endpoint

SCHEMA = "advisor.check/1"

_CLIENT_NAMES = {
    "thunderbird": "Thunderbird",
    "thunderbird-android": "Thunderbird for Android",
    "outlook": "Outlook (classic)",
    "apple-mail": "Apple Mail / iOS",
}


def _endpoint(endpoint: Endpoint | None) -> dict[str, Any] | None:
    if endpoint is None:
        return None
    return {
        "protocol": endpoint.protocol.value,
        "hostname": endpoint.hostname,
        "port": endpoint.port,
        "security": endpoint.security.value,
    }


def _client_json(c: ClientResult) -> dict[str, Any]:
    return {
        "outcome": c.outcome.value,
        "incoming": _endpoint(c.incoming),
        "outgoing": _endpoint(c.outgoing),
        "exchange_url": c.exchange_url,
        "via": c.via,
        "step": c.step,
        "problems": [{"code": p.code, "message": p.message} for p in c.problems],
        "unknowable": list(c.unknowable),
    }


def to_json(report: CheckReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "domain": report.domain,
        "domain_ascii": report.domain_ascii,
        "clients": {c.client: _client_json(c) for c in report.clients},
        "publication": [
            {"check": p.check, "status": p.status.value, "detail": p.detail, "fix": p.fix}
            for p in report.publication
        ],
        "grade": report.grade,
        "points": report.points,
        "all_configured": report.all_configured,
        "live": report.live,
        "elapsed_ms": report.elapsed_ms,
    }


def error_json(domain: str, line: int, message: str) -> dict[str, Any]:
    """A batch line for a domain that could not be checked."""
    return {"schema": SCHEMA, "domain": domain, "line": line, "error": message}


def _outcome_word(outcome: Outcome) -> str:
    return {
        Outcome.CONFIGURED: _("configures by itself"),
        Outcome.PROMPTED: _("configures after a warning or prompt"),
        Outcome.MANUAL: _("the user must type the settings"),
    }[outcome]


def _servers(c: ClientResult) -> str:
    parts = []
    if c.exchange_url:
        parts.append(f"Exchange {c.exchange_url}")
    for e in (c.incoming, c.outgoing):
        if e is not None:
            parts.append(f"{e.protocol.value.upper()} {e.hostname}:{e.port} {e.security.value}")
    return ", ".join(parts) or "-"


def render_text(report: CheckReport) -> str:
    """The human report: one block per client, then the publication checks and the grade."""
    lines = [_("Mail clients and {domain}").format(domain=report.domain), ""]
    for c in report.clients:
        mark = {"configured": "✓", "prompted": "!", "manual": "✗"}[c.outcome.value]
        line = _("{client}: {outcome}").format(
            client=_CLIENT_NAMES[c.client], outcome=_outcome_word(c.outcome)
        )
        lines.append(f"{mark} {line}")
        lines.append("    " + _("servers: {servers}").format(servers=_servers(c)))
        lines.append("    " + _("decided by: {via}").format(via=c.via))
        for p in c.problems:
            lines.append("    - " + p.message)
        for u in c.unknowable:
            if all(u != p.message for p in c.problems):
                lines.append("    ? " + u)
    lines += ["", _("Publication checks:")]
    for check in report.publication:
        word = {Status.OK: "ok", Status.WARNING: _("warning"), Status.ERROR: _("error")}
        line = _("[{status}] {check}: {detail}").format(
            status=word[check.status], check=check.check, detail=check.detail
        )
        lines.append(f"  {line}")
        if check.fix and check.status is not Status.OK:
            lines.append("      " + _("fix: {fix}").format(fix=check.fix))
    lines += [
        "",
        _("Grade: {grade} ({points}/100; the rule is in docs/check.md)").format(
            grade=report.grade, points=report.points
        ),
    ]
    if not report.live:
        lines.append(_("note: nothing could be checked live (offline, or DNS unusable)"))
    return "\n".join(lines) + "\n"


_CSS = (
    "body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.3em;"
    "text-align:left;vertical-align:top}.configured,.ok{background:#dfd}"
    ".prompted,.warning{background:#ffd}.manual,.error{background:#fdd}"
)


def html_head() -> str:
    """The start of the page: self-contained (inline CSS, no script, nothing loaded)."""
    e = html.escape
    title = _("Mail client check")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html><head><meta charset="utf-8">',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
            " style-src 'unsafe-inline'\">",
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{e(title)}</h1>",
            "",
        ]
    )


def html_tail() -> str:
    return "</body></html>\n"


def html_section(report: CheckReport) -> str:
    """One domain's tables; pages of many domains are written section by section."""
    e = html.escape
    grade = _("grade")
    client_headers = (_("client"), _("outcome"), _("servers"), _("decided by"), _("problems"))
    check_headers = (_("check"), _("status"), _("detail"), _("fix"))
    out = [
        f"<h2>{e(report.domain)} — {e(grade)} {e(report.grade)} ({report.points}/100)</h2>",
        "<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in client_headers) + "</tr>",
    ]
    for c in report.clients:
        problems = "".join(f"<li>{e(p.message)}</li>" for p in c.problems)
        out.append(
            f'<tr class="{e(c.outcome.value)}"><td>{e(_CLIENT_NAMES[c.client])}</td>'
            f"<td>{e(_outcome_word(c.outcome))}</td><td>{e(_servers(c))}</td>"
            f"<td>{e(c.via)}</td><td><ul>{problems}</ul></td></tr>"
        )
    out.append("</table>")
    out.append(f"<h3>{e(_('Publication checks:'))}</h3>")
    out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in check_headers) + "</tr>")
    for p in report.publication:
        fix = p.fix if p.fix and p.status is not Status.OK else ""
        out.append(
            f'<tr class="{e(p.status.value)}"><td>{e(p.check)}</td><td>{e(p.status.value)}'
            f"</td><td>{e(p.detail)}</td><td>{e(fix)}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out) + "\n"


def render_html(reports: list[CheckReport]) -> str:
    """The whole page for ``reports``."""
    return html_head() + "".join(html_section(r) for r in reports) + html_tail()
