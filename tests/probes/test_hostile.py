"""Every speaker against servers that misbehave: each case ends in a status, in time.

The same hostile servers (tests/lab/hostile.py and tests/probes/fakes.py) meet
the IMAP, POP3 and SMTP speakers; what differs per protocol is in ``Case``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from advisor.models import ProbeStatus, Security
from advisor.probes import Speaker, imap, pop3, smtp
from tests.lab.ca import LabCA
from tests.lab.hostile import (
    BadTLS,
    EndlessGreeting,
    EndlessLines,
    Garbage,
    HostileServer,
    Reset,
    Silent,
    SlowDrip,
    WrongProtocol,
)
from tests.probes.fakes import ImapScript, Peer, Pop3Script, Scripted, SmtpScript
from tests.probes.support import Probe, probe

SHORT = 1.0  # deadline for the cases that must time out, in seconds


@dataclass(frozen=True)
class Case:
    protocol: str
    speak: Speaker
    hostname: str
    greeting: bytes  # a valid greeting line, CRLF included
    refusal: bytes  # the protocol's "go away" greeting
    foreign: bytes  # another protocol's greeting
    foreign_text: str
    capability_stage: str  # name of the step after the greeting
    no_tls_script: Callable[[], Callable[..., None]]  # a server without STARTTLS
    starttls_keyword: str
    no_tls_auth: tuple[str, ...]  # what no_tls_script offers in plain text
    silent_tls_script: Callable[[], Callable[..., None]]


CASES = [
    Case(
        "IMAP",
        imap.speak,
        "imap.example.test",
        b"* OK IMAP4rev1 ready\r\n",
        b"* BYE Too many connections from your IP\r\n",
        WrongProtocol.SMTP,
        "220 mx.example.test ESMTP Postfix",
        "CAPABILITY",
        lambda: ImapScript(capabilities=b"IMAP4rev1 LOGINDISABLED AUTH=PLAIN"),
        "STARTTLS",
        ("PLAIN",),
        lambda: ImapScript(silent_after_starttls=True),
    ),
    Case(
        "POP3",
        pop3.speak,
        "pop3.example.test",
        b"+OK POP3 ready\r\n",
        b"-ERR [SYS/TEMP] server busy\r\n",
        WrongProtocol.IMAP,
        "* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.",
        "CAPA",
        lambda: Pop3Script(capabilities=(b"TOP", b"USER", b"SASL PLAIN")),
        "STLS",
        ("PLAIN", "USER"),
        lambda: Pop3Script(silent_after_starttls=True),
    ),
    Case(
        "SMTP",
        smtp.speak,
        "smtp.example.test",
        b"220 smtp.example.test ESMTP\r\n",
        b"554 5.7.1 No SMTP service here\r\n",
        WrongProtocol.POP3,
        "+OK Dovecot ready.",
        "EHLO",
        lambda: SmtpScript(extensions=(b"PIPELINING", b"AUTH PLAIN")),
        "STARTTLS",
        ("PLAIN",),
        lambda: SmtpScript(silent_after_starttls=True),
    ),
]


@pytest.fixture(params=CASES, ids=[c.protocol for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def context(lab_ca: LabCA) -> ssl.SSLContext:
    return lab_ca.client_context()


def run(
    case: Case,
    server: HostileServer,
    context: ssl.SSLContext,
    *,
    security: Security = Security.PLAIN,
    budget: float = SHORT,
) -> Probe:
    return probe(
        case.speak,
        server.address,
        hostname=case.hostname,
        security=security,
        context=context,
        budget=budget,
    )


# ---------------------------------------------------------------- time


def test_silent_server_times_out_waiting_for_the_greeting(
    case: Case, context: ssl.SSLContext
) -> None:
    with Silent() as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.TIMEOUT
    assert result.outcome.detail == f"no greeting within {SHORT:.1f} s"
    assert result.elapsed >= SHORT - 0.05  # a lower bound: load only makes it longer


def test_a_dripping_greeting_cannot_hold_the_probe_past_its_deadline(
    case: Case, context: ssl.SSLContext
) -> None:
    # One byte every 0.5 s: every recv() returns in time, only the watchdog stops it.
    with SlowDrip(greeting=case.greeting, interval=0.5) as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.TIMEOUT
    # Without the watchdog the whole greeting arrives (one byte per 0.5 s, each
    # recv() in time) and the probe goes on to the next step: the reason names
    # the step the deadline cut, and the server had bytes left to send.
    assert result.outcome.detail == f"no greeting within {SHORT:.1f} s"
    assert server.sent < len(case.greeting)


def test_an_implicit_tls_port_that_never_answers_the_handshake(
    case: Case, context: ssl.SSLContext
) -> None:
    with Silent() as server:
        result = run(case, server, context, security=Security.SSL)
    assert result.outcome.status is ProbeStatus.TIMEOUT
    assert result.outcome.detail == f"TLS handshake did not finish within {SHORT:.1f} s"
    assert len(result.tls_sockets) == 1, "the SSLSocket is registered before its handshake"


def test_a_server_that_goes_quiet_after_starttls(
    case: Case, context: ssl.SSLContext, lab_ca: LabCA
) -> None:
    cert = lab_ca.issue(case.hostname)
    with Scripted(case.silent_tls_script(), context=cert.server_context()) as server:
        result = run(case, server, context, security=Security.STARTTLS)
    assert result.outcome.status is ProbeStatus.TIMEOUT
    assert result.outcome.detail == f"STARTTLS handshake did not finish within {SHORT:.1f} s"
    assert result.outcome.facts.greeting  # what was learned before is kept


def test_a_deadline_already_past_is_a_timeout_without_a_word_sent(
    case: Case, context: ssl.SSLContext
) -> None:
    with WrongProtocol(greeting=case.greeting) as server:
        result = run(case, server, context, budget=0.0)
    assert result.outcome.status is ProbeStatus.TIMEOUT
    assert server.received == []


# ---------------------------------------------------------------- size


def test_an_endless_greeting_line_is_cut_short(case: Case, context: ssl.SSLContext) -> None:
    prefix = case.greeting.split(b" ", 1)[0] + b" "
    with EndlessGreeting(prefix=prefix) as server:
        result = run(case, server, context, budget=5.0)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    # imaplib allows 1 MB per line (our budget stops it at 64 KiB); poplib and
    # smtplib stop a line at 2 KiB and 8 KiB themselves.
    assert re.search(r"64 KiB|[Ll]ine too long", result.outcome.detail), result.outcome.detail
    assert "the greeting" in result.outcome.detail


def test_an_endless_multi_line_reply_exceeds_the_budget(
    case: Case, context: ssl.SSLContext
) -> None:
    prefix = {"IMAP": b"* OK ", "POP3": b"+OK ", "SMTP": b"220-"}[case.protocol]
    with EndlessLines(prefix=prefix) as server:
        result = run(case, server, context, budget=5.0)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail.startswith("reply exceeded 64 KiB during ")


# ---------------------------------------------------------------- garbage and other protocols


def test_binary_garbage_is_not_a_greeting(case: Case, context: ssl.SSLContext) -> None:
    with Garbage() as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail.startswith(f"greeting is not {case.protocol}: ")
    assert len(result.outcome.detail) < 140
    assert all(ch.isprintable() for ch in result.outcome.detail)


def test_another_protocols_greeting_is_named(case: Case, context: ssl.SSLContext) -> None:
    with WrongProtocol(greeting=case.foreign) as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail == f"greeting is not {case.protocol}: '{case.foreign_text}'"


def test_an_http_server_is_not_a_mail_server(case: Case, context: ssl.SSLContext) -> None:
    with WrongProtocol(greeting=WrongProtocol.HTTP) as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail == (f"greeting is not {case.protocol}: 'HTTP/1.1 400 Bad Request'")


def test_a_refusing_greeting_quotes_the_server(case: Case, context: ssl.SSLContext) -> None:
    with WrongProtocol(greeting=case.refusal) as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    text = case.refusal.decode().strip()
    assert result.outcome.detail == f"server refused the session: '{text}'"


# ---------------------------------------------------------------- hanging up


def test_reset_before_the_greeting(case: Case, context: ssl.SSLContext) -> None:
    with Reset() as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert re.fullmatch(
        r"connection (reset|closed) by server during the greeting", result.outcome.detail
    )


def test_reset_after_the_greeting(case: Case, context: ssl.SSLContext) -> None:
    with Reset(greeting=case.greeting, delay=0.2) as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert re.fullmatch(
        rf"connection (reset|closed) by server during {case.capability_stage}",
        result.outcome.detail,
    )
    assert result.outcome.facts.greeting == case.greeting.decode().strip()


def test_close_after_the_greeting(case: Case, context: ssl.SSLContext) -> None:
    def greet_and_hang_up(peer: Peer) -> None:
        peer.send(case.greeting)
        peer.conn.shutdown(socket.SHUT_WR)  # FIN; still reading, so never an RST
        peer.server.hold(peer.conn)

    with Scripted(greet_and_hang_up) as server:
        result = run(case, server, context)
    assert result.outcome.status is ProbeStatus.PROTOCOL_ERROR
    assert result.outcome.detail == f"connection closed by server during {case.capability_stage}"


# ---------------------------------------------------------------- TLS that is not


@pytest.mark.parametrize(
    ("mode", "status", "detail"),
    [
        ("junk", ProbeStatus.TLS_ERROR, r"TLS handshake failed: wrong version number"),
        ("alert", ProbeStatus.TLS_ERROR, r"TLS handshake failed: sslv3 alert handshake failure"),
        (
            "close",
            ProbeStatus.PROTOCOL_ERROR,
            r"connection closed by server during the TLS handshake",
        ),
        (
            "reset",
            ProbeStatus.PROTOCOL_ERROR,
            r"connection (reset|closed) by server during the TLS handshake",
        ),
    ],
)
def test_an_implicit_tls_port_that_does_not_speak_tls(
    case: Case, context: ssl.SSLContext, mode: str, status: ProbeStatus, detail: str
) -> None:
    with BadTLS(mode=mode, junk=case.greeting) as server:  # type: ignore[arg-type]
        result = run(case, server, context, security=Security.SSL)
    assert result.outcome.status is status
    assert re.fullmatch(detail, result.outcome.detail), result.outcome.detail
    assert server.client_hellos, "a ClientHello was sent"


def test_starttls_not_advertised(case: Case, context: ssl.SSLContext) -> None:
    script = case.no_tls_script()
    with Scripted(script) as server:
        result = run(case, server, context, security=Security.STARTTLS)
    outcome = result.outcome
    assert outcome.status is ProbeStatus.NO_STARTTLS
    assert outcome.detail.startswith(f"{case.starttls_keyword} not advertised (capabilities: ")
    assert outcome.facts.capabilities_before
    assert outcome.facts.tls is None
    # The engine lists such a port as plain text only, with these mechanisms.
    assert outcome.facts.auth_mechanisms == case.no_tls_auth
    assert outcome.facts.login_disabled is (case.protocol == "IMAP")
    assert not result.tls_sockets
    # The speaker said goodbye instead of trying the upgrade.
    sent = b" ".join(server.received).upper()
    assert b"STARTTLS" not in sent
    assert b"STLS" not in sent
    assert any(word in sent for word in (b"LOGOUT", b"QUIT"))


# ---------------------------------------------------------------- cancellation


@pytest.mark.parametrize(
    ("action", "prompt"),
    [
        (lambda s: s.shutdown(socket.SHUT_RDWR), True),
        # close() does not wake a thread blocked in recv(): the probe then ends
        # at its deadline, through the watchdog's own descriptor.
        (lambda s: s.close(), False),
    ],
    ids=["shutdown", "close"],
)
@pytest.mark.parametrize("security", [Security.PLAIN, Security.SSL], ids=["plain", "ssl"])
def test_the_engine_cancelling_a_probe_never_raises(
    case: Case,
    context: ssl.SSLContext,
    lab_ca: LabCA,
    action: Callable[[socket.socket], None],
    prompt: bool,
    security: Security,
) -> None:
    """The engine stops a probe by shutting down (or closing) what it registered."""
    cert = lab_ca.issue(case.hostname)
    # A prompt cancel must win over a deadline it could never reach in a test
    # run (TIMEOUT then means "not woken"); close() ends at the short deadline.
    budget = 60.0 if prompt else 1.0
    registered: list[socket.socket] = []

    def cancel() -> None:
        for _ in range(1000):  # once the probe has registered its socket, however slow
            if registered:
                break
            time.sleep(0.01)
        time.sleep(0.2)
        for sock in list(registered):
            with contextlib.suppress(OSError):
                action(sock)

    # Implicit TLS then silence, or plain silence: the probe waits for a greeting.
    with Scripted(
        lambda peer: peer.server.hold(peer.conn),
        context=cert.server_context(),
        implicit_tls=security is Security.SSL,
    ) as server:
        sock = socket.create_connection(server.address)
        started = time.monotonic()
        canceller = threading.Thread(target=cancel)
        canceller.start()
        try:
            outcome = case.speak(
                sock,
                hostname=case.hostname,
                port=server.port,
                security=security,
                tls_context=context,
                deadline=started + budget,
                reconnect=lambda: socket.create_connection(server.address),
                register=registered.append,
            )
        finally:
            canceller.join()
    assert outcome.status is not ProbeStatus.OK
    if prompt:
        # Woken by the shutdown long before the 60 s deadline, not by the watchdog.
        assert outcome.status is not ProbeStatus.TIMEOUT, outcome.detail
    else:
        assert outcome.status is ProbeStatus.TIMEOUT  # the watchdog ended it
    assert all(s.fileno() == -1 for s in registered)
