"""Certificates, good and bad, through implicit TLS and STARTTLS, for every speaker.

A certificate that fails validation kills the first connection; the speaker
takes a second look through ``reconnect()`` without verifying, to report the
names and dates the certificate carries and the capabilities behind it.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from advisor.models import ProbeStatus, Security
from advisor.probes import Speaker, imap, pop3, smtp
from tests.lab.ca import CertFiles, LabCA
from tests.lab.hostile import Reset
from tests.probes.fakes import ImapScript, Pop3Script, Scripted, SmtpScript
from tests.probes.support import Probe, probe


@dataclass(frozen=True)
class Case:
    protocol: str
    speak: Speaker
    hostname: str
    script: Callable[[], Callable[..., None]]
    mechanisms: tuple[str, ...]  # what the script offers on the TLS session


CASES = [
    Case("IMAP", imap.speak, "imap.example.test", ImapScript, ("PLAIN", "LOGIN")),
    Case("POP3", pop3.speak, "pop3.example.test", Pop3Script, ("PLAIN", "LOGIN", "USER")),
    Case("SMTP", smtp.speak, "smtp.example.test", SmtpScript, ("PLAIN", "LOGIN")),
]
SECURITIES = [Security.SSL, Security.STARTTLS]


@pytest.fixture(params=CASES, ids=[c.protocol for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=SECURITIES, ids=[str(s) for s in SECURITIES])
def security(request: pytest.FixtureRequest) -> Security:
    return request.param  # type: ignore[no-any-return]


def speak_to(
    case: Case,
    security: Security,
    cert: CertFiles,
    context: ssl.SSLContext,
    *,
    reconnect: Callable[[], socket.socket] | None = None,
) -> tuple[Probe, Scripted]:
    with Scripted(
        case.script(),
        context=cert.server_context(),
        implicit_tls=security is Security.SSL,
    ) as server:
        result = probe(
            case.speak,
            server.address,
            hostname=case.hostname,
            security=security,
            context=context,
            reconnect=reconnect,
        )
    return result, server


def test_a_valid_certificate(case: Case, security: Security, lab_ca: LabCA) -> None:
    cert = lab_ca.issue(case.hostname)
    result, server = speak_to(case, security, cert, lab_ca.client_context())
    outcome = result.outcome
    assert outcome.status is ProbeStatus.OK, outcome.detail
    tls = outcome.facts.tls
    assert tls is not None
    assert tls.version.startswith("TLSv1.")
    assert tls.cipher
    assert tls.certificate is not None
    assert tls.certificate.valid
    assert tls.certificate.error is None
    assert tls.certificate.names == (case.hostname,)
    assert "Testing CA" in tls.certificate.issuer  # trustme's name for the lab CA
    assert tls.certificate.not_after == cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert outcome.facts.auth_mechanisms == case.mechanisms
    assert outcome.detail.startswith(f"{case.protocol} over TLSv1.")
    assert "certificate valid until" in outcome.detail
    assert result.reconnects == 0
    assert len(result.tls_sockets) == 1
    # SNI carried the host name, not the address we connected to.
    assert server.server_names == [case.hostname]
    if security is Security.STARTTLS:
        assert outcome.facts.capabilities_before != outcome.facts.capabilities_after
        assert outcome.facts.capabilities_after


def _invalid(case: Case, security: Security, cert: CertFiles, lab_ca: LabCA) -> Probe:
    result, server = speak_to(case, security, cert, lab_ca.client_context())
    outcome = result.outcome
    assert outcome.status is ProbeStatus.CERT_INVALID, outcome.detail
    assert result.reconnects == 1
    assert server.handshakes == 1, "only the second look completes a handshake"
    assert len(result.tls_sockets) == 2
    assert server.server_names == [case.hostname, case.hostname]
    # The second look learned what a client would see.
    assert outcome.facts.auth_mechanisms == case.mechanisms
    assert outcome.facts.tls is not None
    assert outcome.facts.tls.certificate is not None
    assert not outcome.facts.tls.certificate.valid
    return result


def test_a_certificate_for_another_name(case: Case, security: Security, lab_ca: LabCA) -> None:
    result = _invalid(case, security, lab_ca.issue("mail.other.test", "other.test"), lab_ca)
    assert (
        result.outcome.detail == f"certificate for mail.other.test, other.test, not {case.hostname}"
    )
    certificate = result.outcome.facts.tls.certificate  # type: ignore[union-attr]
    assert certificate is not None
    assert certificate.names == ("mail.other.test", "other.test")
    assert certificate.error == f"Hostname mismatch, certificate is not valid for '{case.hostname}'"


def test_an_expired_certificate(case: Case, security: Security, lab_ca: LabCA) -> None:
    cert = lab_ca.issue_expired(case.hostname)
    result = _invalid(case, security, cert, lab_ca)
    expected = cert.not_after.strftime("%Y-%m-%d")
    assert result.outcome.detail == f"certificate for {case.hostname} expired on {expected}"
    certificate = result.outcome.facts.tls.certificate  # type: ignore[union-attr]
    assert certificate is not None
    assert certificate.error == "certificate has expired"


def test_a_certificate_from_an_unknown_authority(
    case: Case, security: Security, lab_ca: LabCA
) -> None:
    result = _invalid(case, security, lab_ca.issue_untrusted(case.hostname), lab_ca)
    assert re.fullmatch(
        rf"certificate for {re.escape(case.hostname)} from an unknown authority: .*"
        r"O=Untrusted Other CA",
        result.outcome.detail,
    )
    certificate = result.outcome.facts.tls.certificate  # type: ignore[union-attr]
    assert certificate is not None
    assert certificate.error == "unable to get local issuer certificate"


def test_a_self_signed_certificate(case: Case, security: Security, lab_ca: LabCA) -> None:
    result = _invalid(case, security, lab_ca.issue_self_signed(case.hostname), lab_ca)
    assert result.outcome.detail.startswith(f"self-signed certificate for {case.hostname} (")
    certificate = result.outcome.facts.tls.certificate  # type: ignore[union-attr]
    assert certificate is not None
    assert certificate.subject == f"CN={case.hostname}"
    assert certificate.issuer == certificate.subject


def test_no_second_look_when_reconnecting_fails(
    case: Case, security: Security, lab_ca: LabCA
) -> None:
    def refuse() -> socket.socket:
        raise ConnectionRefusedError(111, "Connection refused")

    cert = lab_ca.issue_expired(case.hostname)
    result, _server = speak_to(case, security, cert, lab_ca.client_context(), reconnect=refuse)
    outcome = result.outcome
    assert outcome.status is ProbeStatus.CERT_INVALID
    assert outcome.detail == (
        f"certificate not valid for {case.hostname}: certificate has expired; "
        "could not reconnect to read it: Connection refused"
    )
    assert outcome.facts.tls is None
    if security is Security.STARTTLS:
        # What the plain part of the first conversation taught is kept.
        assert outcome.facts.greeting
        assert outcome.facts.capabilities_before


def test_a_second_look_that_fails_still_reports_the_certificate_failure(
    case: Case, security: Security, lab_ca: LabCA
) -> None:
    cert = lab_ca.issue("mail.other.test")
    with Reset() as other:
        result, _server = speak_to(
            case,
            security,
            cert,
            lab_ca.client_context(),
            reconnect=lambda: socket.create_connection(other.address),
        )
    outcome = result.outcome
    assert outcome.status is ProbeStatus.CERT_INVALID
    assert re.fullmatch(
        rf"certificate not valid for {re.escape(case.hostname)}: Hostname mismatch, .*"
        r" \(second look: connection (reset|closed) by server during .*\)",
        outcome.detail,
    ), outcome.detail


def test_plain_sessions_have_no_tls_facts(case: Case, lab_ca: LabCA) -> None:
    cert = lab_ca.issue(case.hostname)
    result, server = speak_to(case, Security.PLAIN, cert, lab_ca.client_context())
    assert result.outcome.status is ProbeStatus.OK
    assert result.outcome.facts.tls is None
    assert result.outcome.detail.startswith(f"{case.protocol} without TLS; auth: ")
    assert not result.tls_sockets
    assert server.handshakes == 0
