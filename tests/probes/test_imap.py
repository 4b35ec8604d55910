"""The IMAP speaker against Dovecot (tests/lab) and against scripted servers."""

from __future__ import annotations

import logging
import ssl

import pytest

from advisor.models import ProbeStatus, Security
from advisor.probes import imap
from advisor.probes._session import GOODBYE_TIMEOUT
from tests.lab.ca import LabCA
from tests.lab.dovecot import Dovecot
from tests.lab.servers import Lab
from tests.probes.fakes import ImapScript, Peer, Scripted
from tests.probes.support import Probe, goodbye_timeout, probe

HOST = "imap.example.test"


@pytest.fixture
def context(lab_ca: LabCA) -> ssl.SSLContext:
    return lab_ca.client_context()


def fake(
    script: ImapScript, context: ssl.SSLContext, lab_ca: LabCA, security: Security, **kw: float
) -> tuple[Probe, Scripted]:
    cert = lab_ca.issue(HOST)
    with Scripted(
        script, context=cert.server_context(), implicit_tls=security is Security.SSL
    ) as server:
        result = probe(
            imap.speak, server.address, hostname=HOST, security=security, context=context, **kw
        )
    return result, server


# ---------------------------------------------------------------- Dovecot


@pytest.mark.lab
class TestDovecot:
    def test_starttls_on_143(self, dovecot_server: Dovecot, context: ssl.SSLContext) -> None:
        result = probe(
            imap.speak,
            (dovecot_server.ip, 143),
            hostname=HOST,
            security=Security.STARTTLS,
            context=context,
        )
        facts = result.outcome.facts
        assert result.outcome.status is ProbeStatus.OK, result.outcome.detail
        assert facts.greeting.startswith("* OK ")
        assert "Dovecot ready." in facts.greeting
        # Dovecot on a non-127.0.0.1 address refuses plaintext logins (RFC 3501 §6.2.3).
        assert {"STARTTLS", "LOGINDISABLED"} <= set(facts.capabilities_before)
        assert "IMAP4REV1" in facts.capabilities_after
        assert "STARTTLS" not in facts.capabilities_after
        assert facts.login_disabled is False
        assert facts.auth_mechanisms == ("PLAIN", "LOGIN")
        assert facts.tls is not None
        assert facts.tls.certificate is not None
        assert HOST in facts.tls.certificate.names

    def test_implicit_tls_on_993(self, dovecot_server: Dovecot, context: ssl.SSLContext) -> None:
        result = probe(
            imap.speak,
            (dovecot_server.ip, 993),
            hostname=HOST,
            security=Security.SSL,
            context=context,
        )
        facts = result.outcome.facts
        assert result.outcome.status is ProbeStatus.OK, result.outcome.detail
        assert facts.capabilities_after == ()
        assert facts.auth_mechanisms == ("PLAIN", "LOGIN")
        assert facts.tls is not None
        assert facts.tls.certificate is not None
        assert facts.tls.certificate.valid

    def test_plaintext_only_records_what_a_client_would_see(
        self, dovecot_server: Dovecot, context: ssl.SSLContext
    ) -> None:
        result = probe(
            imap.speak,
            (dovecot_server.ip, 143),
            hostname=HOST,
            security=Security.PLAIN,
            context=context,
        )
        facts = result.outcome.facts
        assert result.outcome.status is ProbeStatus.OK
        assert facts.tls is None
        assert facts.login_disabled is True
        assert facts.auth_mechanisms == ()
        assert result.outcome.detail == "IMAP without TLS; auth: none advertised (LOGINDISABLED)"

    def test_a_name_the_certificate_does_not_cover(
        self, dovecot_server: Dovecot, context: ssl.SSLContext
    ) -> None:
        result = probe(
            imap.speak,
            (dovecot_server.ip, 993),
            hostname="mail.elsewhere.test",
            security=Security.SSL,
            context=context,
        )
        assert result.outcome.status is ProbeStatus.CERT_INVALID
        assert result.outcome.detail.startswith("certificate for imap.example.test, ")
        assert result.outcome.detail.endswith(", not mail.elsewhere.test")
        assert result.outcome.facts.auth_mechanisms == ("PLAIN", "LOGIN")


@pytest.mark.lab
def test_dovecot_with_an_expired_certificate(lab: Lab, context: ssl.SSLContext) -> None:
    name = "expired.example.test"
    server = lab.dovecot(name, cert=lab.ca.issue_expired(name), pop3=None, pop3s=None)
    result = probe(
        imap.speak, (server.ip, 143), hostname=name, security=Security.STARTTLS, context=context
    )
    outcome = result.outcome
    assert outcome.status is ProbeStatus.CERT_INVALID
    assert outcome.detail.startswith(f"certificate for {name} expired on ")
    assert outcome.facts.tls is not None
    assert outcome.facts.tls.certificate is not None
    assert outcome.facts.tls.certificate.error == "certificate has expired"
    assert outcome.facts.capabilities_after  # learned on the second look
    assert result.reconnects == 1


# ---------------------------------------------------------------- scripted


def test_preauth_forbids_starttls(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = ImapScript(greeting=b"* PREAUTH welcome back, nobody")
    result, _ = fake(script, context, lab_ca, Security.STARTTLS)
    assert result.outcome.status is ProbeStatus.NO_STARTTLS
    assert "PREAUTH" in result.outcome.detail
    assert b"STARTTLS" not in script.log
    assert script.log[-1] == b"LOGOUT"


def test_preauth_is_fine_without_starttls(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = ImapScript(greeting=b"* PREAUTH welcome back")
    result, _ = fake(script, context, lab_ca, Security.SSL)
    assert result.outcome.status is ProbeStatus.OK
    assert result.outcome.facts.greeting == "* PREAUTH welcome back"


def test_an_imap4rev2_only_server(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    # RFC 9051 servers need not offer IMAP4rev1; imaplib 3.11 insists on it.
    script = ImapScript(capabilities_tls=b"IMAP4rev2 AUTH=PLAIN")
    result, _ = fake(script, context, lab_ca, Security.SSL)
    assert result.outcome.status is ProbeStatus.OK, result.outcome.detail
    assert result.outcome.facts.capabilities_before == ("IMAP4REV2", "AUTH=PLAIN")


def test_sasl_mechanisms_are_upper_case_in_server_order_once(
    context: ssl.SSLContext, lab_ca: LabCA
) -> None:
    script = ImapScript(
        capabilities_tls=b"IMAP4rev1 AUTH=xoauth2 AUTH=PLAIN AUTH=plain AUTH= SASL-IR AUTH=LOGIN"
    )
    result, _ = fake(script, context, lab_ca, Security.SSL)
    assert result.outcome.facts.auth_mechanisms == ("XOAUTH2", "PLAIN", "LOGIN")
    assert result.outcome.detail.endswith("auth: XOAUTH2 PLAIN LOGIN")


def test_capabilities_are_asked_again_after_starttls(
    context: ssl.SSLContext, lab_ca: LabCA
) -> None:
    script = ImapScript()
    result, _ = fake(script, context, lab_ca, Security.STARTTLS)
    assert result.outcome.status is ProbeStatus.OK
    assert script.log == [b"CAPABILITY", b"STARTTLS", b"CAPABILITY", b"LOGOUT"]
    facts = result.outcome.facts
    assert facts.capabilities_before == ("IMAP4REV1", "STARTTLS", "LOGINDISABLED")
    assert facts.capabilities_after == ("IMAP4REV1", "AUTH=PLAIN", "AUTH=LOGIN")
    assert facts.login_disabled is False  # on the session a client would log in on


def test_a_literal_bomb_is_refused_before_it_is_read(
    context: ssl.SSLContext, lab_ca: LabCA
) -> None:
    def bomb(peer: Peer, _tag: bytes) -> None:
        peer.send(b"* CAPABILITY {999999999}\r\n")  # then nothing: no need to send 1 GB
        peer.server.hold(peer.conn)

    result, _ = fake(ImapScript(capability_reply=bomb), context, lab_ca, Security.PLAIN)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    # Reading the announced literal would wait on the silent server until the
    # deadline and end in TIMEOUT: this status proves it was refused unread.
    assert result.outcome.detail == "reply exceeded 64 KiB during CAPABILITY"


def test_literals_in_a_capability_response(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    def literal(peer: Peer, tag: bytes) -> None:
        peer.send(b"* CAPABILITY {0}\r\n IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")

    result, _ = fake(ImapScript(capability_reply=literal), context, lab_ca, Security.PLAIN)
    assert result.outcome.status is ProbeStatus.OK, result.outcome.detail


def test_capabilities_that_are_not_ascii(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = ImapScript(capabilities=b"IMAP4rev1 AUTH=PL\xc3\x84IN")
    result, _ = fake(script, context, lab_ca, Security.PLAIN)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail == "server sent text that is not ASCII during CAPABILITY"


def test_starttls_refused_by_the_server(context: ssl.SSLContext, lab_ca: LabCA) -> None:
    script = ImapScript(starttls_reply=b"NO [UNAVAILABLE] TLS not available today")
    result, _ = fake(script, context, lab_ca, Security.STARTTLS)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail.startswith("unexpected reply during STARTTLS: ")


def test_a_server_that_never_answers_logout_costs_at_most_the_goodbye_timeout(
    context: ssl.SSLContext, lab_ca: LabCA
) -> None:
    result, _ = fake(ImapScript(answer_logout=False), context, lab_ca, Security.SSL, budget=10.0)
    assert result.outcome.status is ProbeStatus.OK
    # The wait for the LOGOUT answer was capped, not given the 10 s left: the
    # socket the goodbye was said on keeps the timeout it was given.
    assert 0 < goodbye_timeout(result) <= GOODBYE_TIMEOUT


def test_no_log_records_above_debug_and_nothing_printed(
    context: ssl.SSLContext,
    lab_ca: LabCA,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    # Port 143 with implicit TLS would make imapclient warn if we let it do TLS.
    result, _ = fake(ImapScript(), context, lab_ca, Security.SSL)
    assert result.outcome.status is ProbeStatus.OK
    assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []
    assert capsys.readouterr() == ("", "")
