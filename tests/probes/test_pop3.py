"""The POP3 speaker against Dovecot (tests/lab) and against scripted servers."""

from __future__ import annotations

import ssl

import pytest

from advisor.models import ProbeStatus, Security
from advisor.probes import pop3
from tests.lab.ca import LabCA
from tests.lab.dovecot import Dovecot
from tests.probes.fakes import Peer, Pop3Script, Scripted
from tests.probes.support import Probe, probe

HOST = "pop3.example.test"


@pytest.fixture
def context(lab_ca: LabCA) -> ssl.SSLContext:
    return lab_ca.client_context()


def fake(
    script: Pop3Script, context: ssl.SSLContext, lab_ca: LabCA, security: Security
) -> tuple[Probe, Scripted]:
    cert = lab_ca.issue(HOST)
    with Scripted(
        script, context=cert.server_context(), implicit_tls=security is Security.SSL
    ) as server:
        result = probe(
            pop3.speak, server.address, hostname=HOST, security=security, context=context
        )
    return result, server


# ---------------------------------------------------------------- Dovecot


@pytest.mark.lab
@pytest.mark.parametrize(
    ("port", "security"), [(110, Security.STARTTLS), (995, Security.SSL)], ids=["stls", "ssl"]
)
def test_dovecot(
    dovecot_server: Dovecot, context: ssl.SSLContext, port: int, security: Security
) -> None:
    result = probe(
        pop3.speak, (dovecot_server.ip, port), hostname=HOST, security=security, context=context
    )
    facts = result.outcome.facts
    assert result.outcome.status is ProbeStatus.OK, result.outcome.detail
    assert facts.greeting == "+OK Dovecot ready."
    # USER (RFC 1939) is offered once TLS protects the password.
    assert facts.auth_mechanisms == ("PLAIN", "LOGIN", "USER")
    assert facts.tls is not None
    assert facts.tls.certificate is not None
    assert facts.tls.certificate.valid
    if security is Security.STARTTLS:
        assert "STLS" in facts.capabilities_before
        assert "USER" not in facts.capabilities_before
        assert "SASL PLAIN LOGIN" in facts.capabilities_after


@pytest.mark.lab
def test_dovecot_in_plain_text(dovecot_server: Dovecot, context: ssl.SSLContext) -> None:
    result = probe(
        pop3.speak,
        (dovecot_server.ip, 110),
        hostname=HOST,
        security=Security.PLAIN,
        context=context,
    )
    assert result.outcome.status is ProbeStatus.OK
    assert result.outcome.facts.tls is None
    assert result.outcome.facts.auth_mechanisms == ()  # nothing before TLS on a remote address
    assert result.outcome.detail == "POP3 without TLS; auth: none advertised"


# ---------------------------------------------------------------- scripted


def test_capa_is_asked_once_per_session(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    # poplib's stls() asks CAPA again by itself; the speaker answers from what it read.
    result, server = fake(Pop3Script(), context, lab_ca, Security.STARTTLS)
    assert result.outcome.status is ProbeStatus.OK
    assert server.received == [b"CAPA", b"STLS", b"CAPA", b"QUIT"]
    assert result.outcome.facts.capabilities_before == ("TOP", "UIDL", "STLS", "SASL")
    assert result.outcome.facts.capabilities_after == ("TOP", "USER", "SASL PLAIN LOGIN")


def test_a_server_without_capa_is_still_pop3(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = Pop3Script(capabilities=None, capabilities_tls=None)
    result, _ = fake(script, context, lab_ca, Security.SSL)
    assert result.outcome.status is ProbeStatus.OK
    assert result.outcome.facts.capabilities_before == ()
    assert result.outcome.facts.auth_mechanisms == ()


def test_without_capa_stls_cannot_be_known(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = Pop3Script(capabilities=None)
    result, server = fake(script, context, lab_ca, Security.STARTTLS)
    assert result.outcome.status is ProbeStatus.NO_STARTTLS
    assert result.outcome.detail == "STLS not advertised (capabilities: none advertised)"
    assert b"STLS" not in server.received


def test_odd_capa_lines_are_tolerated(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = Pop3Script(
        capabilities_tls=(
            b"",
            b"   ",
            b"IMPLEMENTATION Fancy\xc3\xa9 \x1b[31mserver",
            b"sasl  plain  XOAUTH2 plain",
            b"user",
        )
    )
    result, _ = fake(script, context, lab_ca, Security.SSL)
    assert result.outcome.status is ProbeStatus.OK, result.outcome.detail
    assert result.outcome.facts.capabilities_before == (
        "IMPLEMENTATION Fancyé [31mserver",
        "sasl plain XOAUTH2 plain",
        "user",
    )
    assert result.outcome.facts.auth_mechanisms == ("PLAIN", "XOAUTH2", "USER")


def test_a_plus_that_is_not_ok_is_not_a_greeting(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    result, _ = fake(Pop3Script(greeting=b"+ go ahead"), context, lab_ca, Security.PLAIN)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail == "greeting is not POP3: '+ go ahead'"


def test_an_unterminated_capa_list(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    def endless(peer: Peer) -> None:
        peer.send(b"+OK here it comes\r\n")
        for n in range(100_000):
            if not peer.send(b"X-CAPABILITY-%d\r\n" % n):
                return

    result, _ = fake(Pop3Script(capa_reply=endless), context, lab_ca, Security.PLAIN)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail == "reply exceeded 64 KiB during CAPA"
