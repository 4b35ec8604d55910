"""The SMTP speaker against aiosmtpd (tests/lab) and against scripted servers."""

from __future__ import annotations

import socket
import ssl

import pytest

from advisor.models import ProbeStatus, Security
from advisor.probes import smtp
from advisor.probes._session import GOODBYE_TIMEOUT
from tests.lab.ca import LabCA
from tests.lab.smtp import SmtpServer
from tests.probes.fakes import Peer, Script, Scripted, SmtpScript
from tests.probes.support import Probe, goodbye_timeout, probe

HOST = "smtp.example.test"


@pytest.fixture
def context(lab_ca: LabCA) -> ssl.SSLContext:
    return lab_ca.client_context()


def fake(
    script: Script,
    context: ssl.SSLContext,
    lab_ca: LabCA,
    security: Security,
    budget: float = 5.0,
) -> tuple[Probe, Scripted]:
    cert = lab_ca.issue(HOST)
    with Scripted(
        script, context=cert.server_context(), implicit_tls=security is Security.SSL
    ) as server:
        result = probe(
            smtp.speak,
            server.address,
            hostname=HOST,
            security=security,
            context=context,
            budget=budget,
        )
    return result, server


# ---------------------------------------------------------------- aiosmtpd


@pytest.mark.lab
@pytest.mark.parametrize(
    ("port", "security"),
    [(587, Security.STARTTLS), (465, Security.SSL)],
    ids=["submission", "submissions"],
)
def test_aiosmtpd(
    smtp_server: SmtpServer, context: ssl.SSLContext, port: int, security: Security
) -> None:
    result = probe(
        smtp.speak, (smtp_server.ip, port), hostname=HOST, security=security, context=context
    )
    facts = result.outcome.facts
    assert result.outcome.status is ProbeStatus.OK, result.outcome.detail
    assert facts.greeting.startswith(f"220 {HOST} ")
    assert facts.auth_mechanisms == ("LOGIN", "PLAIN")
    assert facts.tls is not None
    assert facts.tls.certificate is not None
    assert facts.tls.certificate.valid
    if security is Security.STARTTLS:
        assert "STARTTLS" in facts.capabilities_before
        assert not any(c.startswith("AUTH") for c in facts.capabilities_before)
        assert "AUTH LOGIN PLAIN" in facts.capabilities_after
    assert smtp_server.auth_attempts == []  # never a login


@pytest.mark.lab
def test_aiosmtpd_in_plain_text(smtp_server: SmtpServer, context: ssl.SSLContext) -> None:
    result = probe(
        smtp.speak, (smtp_server.ip, 587), hostname=HOST, security=Security.PLAIN, context=context
    )
    assert result.outcome.status is ProbeStatus.OK
    assert result.outcome.facts.tls is None
    assert result.outcome.facts.auth_mechanisms == ()


# ---------------------------------------------------------------- scripted


def test_ehlo_twice_around_starttls_with_an_address_literal(
    context: ssl.SSLContext, lab_ca: LabCA
) -> None:
    result, server = fake(SmtpScript(), context, lab_ca, Security.STARTTLS)
    assert result.outcome.status is ProbeStatus.OK
    # RFC 5321 §4.1.4: no meaningful name, so an address literal of our end.
    sent = [line.upper() for line in server.received]  # smtplib writes "ehlo", "quit"
    assert sent == [b"EHLO [127.0.0.1]", b"STARTTLS", b"EHLO [127.0.0.1]", b"QUIT"]
    facts = result.outcome.facts
    assert facts.greeting == "220 fake.example.test ESMTP ready"
    assert facts.capabilities_before == ("PIPELINING", "STARTTLS", "8BITMIME")
    assert facts.capabilities_after == ("PIPELINING", "AUTH PLAIN LOGIN", "AUTH=LOGIN")
    # The old "AUTH=" form (pre-RFC 4954 servers) merges into the same list.
    assert facts.auth_mechanisms == ("PLAIN", "LOGIN")


def test_ehlo_refused(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = SmtpScript(ehlo_reply=b"502 5.5.1 EHLO not implemented")
    result, _ = fake(script, context, lab_ca, Security.PLAIN)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail == "EHLO refused: 502 5.5.1 EHLO not implemented"


def test_a_multi_line_banner(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    banner = b"220-smtp.example.test ESMTP\r\n220-no UCE\r\n220 welcome"
    result, _ = fake(SmtpScript(greeting=banner), context, lab_ca, Security.SSL)
    assert result.outcome.status is ProbeStatus.OK
    assert result.outcome.facts.greeting == "220-smtp.example.test ESMTP"


def test_421_is_a_refusal(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = SmtpScript(greeting=b"421 4.3.2 too busy, try later")
    result, _ = fake(script, context, lab_ca, Security.PLAIN)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail == "server refused the session: '421 4.3.2 too busy, try later'"


def test_a_server_that_never_answers_quit(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    def no_goodbye(peer: Peer) -> None:
        peer.send(b"220 hi\r\n")
        while (line := peer.line()) is not None:
            if line.upper().startswith(b"EHLO"):
                peer.send(b"250-hi\r\n250 AUTH PLAIN\r\n")
            # QUIT: no answer, connection kept open

    result, _ = fake(no_goodbye, context, lab_ca, Security.PLAIN, budget=10.0)
    assert result.outcome.status is ProbeStatus.OK
    assert result.outcome.facts.auth_mechanisms == ("PLAIN",)
    # The wait for the QUIT answer was capped, not given the 10 s left: the
    # socket the goodbye was said on keeps the timeout it was given.
    assert 0 < goodbye_timeout(result) <= GOODBYE_TIMEOUT


def test_ehlo_name_for_ipv6() -> None:
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with listener, socket.create_connection(listener.getsockname()[:2]) as client:
        accepted, _ = listener.accept()
        accepted.close()
        assert smtp.ehlo_name(client) == "[IPv6:::1]"
