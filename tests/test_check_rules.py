"""The pure rules of `advisor check`: the grade, Thunderbird's guess order, Android's parser.

No network: these are the tables and functions the lab tests (tests/test_check.py)
exercise end to end; here each rule is pinned to the line of the client's code it
follows, so a change of rule shows up as a failing line, not as a vague scenario.
"""

from __future__ import annotations

import pytest

from advisor.check.clients import (
    SIMULATIONS,
    _guess_order_incoming,
    _guess_order_outgoing,
    android_parser_refusal,
)
from advisor.check.model import (
    CLIENTS,
    CheckReport,
    ClientResult,
    Outcome,
    PublicationCheck,
    Status,
)
from advisor.models import Security


def report(
    outcomes: list[Outcome], statuses: list[Status], *, apple_bound: bool = False
) -> CheckReport:
    clients = tuple(
        ClientResult(
            name, outcome, None, None, "x", publication_bound=apple_bound or name != "apple-mail"
        )
        for name, outcome in zip(CLIENTS, outcomes, strict=True)
    )
    checks = tuple(PublicationCheck(f"c{i}", s, "d") for i, s in enumerate(statuses))
    return CheckReport("d.test", "d.test", clients, checks, 1.0)


C, P, M = Outcome.CONFIGURED, Outcome.PROMPTED, Outcome.MANUAL


@pytest.mark.parametrize(
    ("outcomes", "statuses", "grade", "points"),
    [
        ([C, C, C, C], [Status.OK], "A", 100),
        # Apple Mail on an IMAP domain: nothing the domain publishes changes it.
        ([C, C, C, M], [Status.OK], "A", 100),
        ([C, C, M, M], [Status.OK, Status.WARNING], "C", 75),
        ([C, P, M, M], [Status.ERROR], "D", 55),
        ([P, P, P, M], [Status.ERROR, Status.ERROR], "E", 40),
        # No client configures at all: F whatever the points.
        ([M, M, M, M], [Status.OK], "F", 40),
    ],
)
def test_grade_rule(
    outcomes: list[Outcome], statuses: list[Status], grade: str, points: int
) -> None:
    r = report(outcomes, statuses)
    assert (r.grade, r.points) == (grade, points)


def test_exit_rule_wants_every_client_configured() -> None:
    assert report([C, C, C, C], []).all_configured
    assert not report([C, C, C, P], []).all_configured


def test_every_client_has_one_simulation() -> None:
    assert tuple(name for name, _run in SIMULATIONS) == CLIENTS


def test_thunderbird_guess_order_follows_sort_tries_by_preference() -> None:
    # GuessConfig.sys.mjs sortTriesByPreference: "Prefer SSL/STARTTLS above all else",
    # "Prefer IMAP over POP", "Prefer SSL/TLS over STARTTLS"; hosts as _hostnamesToTry.
    tries = [
        (e.protocol.value, e.hostname, e.port, e.security.value, plain)
        for e, plain in _guess_order_incoming("d.test")
    ]
    assert tries[:3] == [
        ("imap", "imap.d.test", 993, "ssl", False),
        ("imap", "mail.d.test", 993, "ssl", False),
        ("imap", "d.test", 993, "ssl", False),
    ]
    assert tries[3] == ("imap", "imap.d.test", 143, "starttls", False)
    assert tries[6] == ("pop3", "pop3.d.test", 995, "ssl", False)
    # Plain tries come last of all, IMAP before POP.
    plain = [t for t in tries if t[4]]
    assert tries[-len(plain) :] == plain
    assert plain[0][:2] == ("imap", "imap.d.test")
    out = [(e.hostname, e.port, e.security, plain) for e, plain in _guess_order_outgoing("d.test")]
    # getOutgoingTryOrder + the sort: SSL 465 first, then STARTTLS 587 and 25 per host.
    assert out[:4] == [
        ("smtp.d.test", 465, Security.SSL, False),
        ("mail.d.test", 465, Security.SSL, False),
        ("d.test", 465, Security.SSL, False),
        ("smtp.d.test", 587, Security.STARTTLS, False),
    ]


GOOD = (
    '<clientConfig version="1.1"><emailProvider id="d.test"><domain>d.test</domain>'
    '<incomingServer type="imap"><hostname>imap.d.test</hostname><port>993</port>'
    "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
    "<authentication>password-cleartext</authentication></incomingServer>"
    '<outgoingServer type="smtp"><hostname>smtp.d.test</hostname><port>465</port>'
    "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
    "<authentication>password-cleartext</authentication></outgoingServer>"
    "</emailProvider></clientConfig>"
)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ((), None),
        # `"SSL" -> TLS; "STARTTLS" -> StartTLS; else -> parserError("Unknown 'socketType'...")`
        (("<socketType>SSL</socketType>", "<socketType>plain</socketType>"), "socketType"),
        # `toAuthenticationType`: only OAuth2, password-cleartext, password-encrypted.
        (("password-cleartext", "plain"), "No usable 'authentication'"),
        # `parseServer("imap", ...)`: a POP3-only file has no incoming server for it.
        (('type="imap"', 'type="pop3"'), "incomingServer"),
        (('id="d.test"', 'id="not a host"'), "emailProvider.id"),
        (("<domain>d.test</domain>", "<domain>-</domain>"), "domain"),
        (("<port>993</port>", "<port>port</port>"), "port"),
        (("<clientConfig", "<clientConfig><"), "parsing"),
    ],
)
def test_android_parser_rules(change: tuple[str, ...], reason: str | None) -> None:
    text = GOOD.replace(*change) if change else GOOD
    refusal = android_parser_refusal(text.encode(), "d.test")
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert reason in refusal


def test_android_parser_refuses_entities() -> None:
    hostile = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><clientConfig>&a;</clientConfig>'
    assert android_parser_refusal(hostile, "d.test") == "Error parsing Autoconfig XML"


def test_json_carries_the_advisor_check_1_keys() -> None:
    from advisor.check.render import to_json

    doc = to_json(report([C, P, M, M], [Status.OK, Status.ERROR]))
    assert doc["schema"] == "advisor.check/1"
    assert set(doc) >= {"domain", "clients", "publication", "grade"}
    assert list(doc["clients"]) == ["thunderbird", "thunderbird-android", "outlook", "apple-mail"]
    for client in doc["clients"].values():
        assert set(client) >= {"outcome", "incoming", "outgoing", "via", "problems"}
        assert client["outcome"] in ("configured", "prompted", "manual")
    assert doc["publication"][1] == {"check": "c1", "status": "error", "detail": "d", "fix": None}


def test_html_escapes_what_servers_said() -> None:
    from advisor.check.model import Problem
    from advisor.check.render import render_html

    hostile = Problem("unreachable", '<script>alert(1)</script> "x" & y')
    base = report([C, C, C, C], [])
    clients = (
        base.clients[0].__class__("thunderbird", M, None, None, "<b>via</b>", (hostile,)),
        *base.clients[1:],
    )
    page = render_html([CheckReport("<i>d</i>.test", "d.test", clients, (), 1.0)])
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>via</b>" not in page
    assert "<i>d</i>" not in page
