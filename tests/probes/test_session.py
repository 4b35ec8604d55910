"""advisor.probes._session: the error table, the driver's manners, what a detail may contain."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest

from advisor.models import ProbeStatus, Security
from advisor.net.capped import ConnectionClosed, ReplyTooLarge
from advisor.probes._session import (
    ERROR_TABLE,
    EXPECTED,
    GREETING,
    TLS_HANDSHAKE,
    Conversation,
    DeadlineReached,
    classify,
    command,
    printable,
    speak_with,
)


@pytest.fixture
def conv() -> Iterator[Conversation]:
    a, b = socket.socketpair()
    # A budget of 3 s that has not run out (the messages say "within 3.0 s").
    now = time.monotonic()
    conversation = Conversation(
        a,
        hostname="imap.example.test",
        port=143,
        security=Security.STARTTLS,
        context=ssl.create_default_context(),
        deadline=now + 3.0,
        started=now,
        register=lambda _s: None,
    )
    conversation.stage = command("CAPA")
    yield conversation
    a.close()
    b.close()


def _cert_failure() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code = 10
    exc.verify_message = "certificate has expired"
    return exc


def _ssl_error() -> ssl.SSLError:
    exc = ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert (_ssl.c:1006)")
    exc.reason = "SSLV3_ALERT_HANDSHAKE_FAILURE"
    return exc


SAMPLES: list[tuple[BaseException, ProbeStatus, str]] = [
    (DeadlineReached("CAPA"), ProbeStatus.TIMEOUT, "no reply to CAPA within 3.0 s"),
    (TimeoutError("timed out"), ProbeStatus.TIMEOUT, "no reply to CAPA within 3.0 s"),
    (ReplyTooLarge(65536), ProbeStatus.PROTOCOL_ERROR, "reply exceeded 64 KiB during CAPA"),
    (_cert_failure(), ProbeStatus.CERT_INVALID, "certificate has expired"),
    (ConnectionClosed(), ProbeStatus.PROTOCOL_ERROR, "connection closed by server during CAPA"),
    (ssl.SSLEOFError(8, "EOF"), ProbeStatus.PROTOCOL_ERROR,
     "connection closed by server during CAPA"),
    (ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"), ProbeStatus.PROTOCOL_ERROR,
     "connection closed by server during CAPA"),
    (BrokenPipeError(32, "Broken pipe"), ProbeStatus.PROTOCOL_ERROR,
     "connection closed by server during CAPA"),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), ProbeStatus.PROTOCOL_ERROR,
     "connection closed by server during CAPA"),
    (ConnectionResetError(104, "reset"), ProbeStatus.PROTOCOL_ERROR,
     "connection reset by server during CAPA"),
    (ConnectionAbortedError(103, "aborted"), ProbeStatus.PROTOCOL_ERROR,
     "connection reset by server during CAPA"),
    (_ssl_error(), ProbeStatus.TLS_ERROR, "TLS error during CAPA: sslv3 alert handshake failure"),
    (UnicodeDecodeError("ascii", b"\xc3", 0, 1, "ordinal not in range"), ProbeStatus.PROTOCOL_ERROR,
     "server sent text that is not ASCII during CAPA"),
    (imaplib.IMAP4.abort("socket error: unterminated line: b'x'"), ProbeStatus.PROTOCOL_ERROR,
     "unexpected reply during CAPA: socket error: unterminated line: b'x'"),
    (poplib.error_proto(b"-ERR \x1b[31mno"), ProbeStatus.PROTOCOL_ERROR,
     "unexpected reply during CAPA: -ERR [31mno"),
    (smtplib.SMTPResponseException(500, b"Line too long."), ProbeStatus.PROTOCOL_ERROR,
     "unexpected reply during CAPA: 500 Line too long."),
    (OSError(9, "Bad file descriptor"), ProbeStatus.PROTOCOL_ERROR,
     "network error during CAPA: Bad file descriptor"),
    (ValueError("Read on closed or unwrapped SSL socket."), ProbeStatus.PROTOCOL_ERROR,
     "connection shut down during CAPA"),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "status", "detail"), SAMPLES, ids=lambda v: type(v).__name__)
def test_the_error_table(
    conv: Conversation, exc: BaseException, status: ProbeStatus, detail: str
) -> None:
    assert isinstance(exc, EXPECTED)
    assert classify(exc, conv) == (status, detail)


def test_every_rule_of_the_table_is_reached() -> None:
    def first_rule(exc: BaseException) -> int:
        return next(
            i
            for i, rule in enumerate(ERROR_TABLE)
            if isinstance(exc, rule.kinds) and rule.when(exc)
        )

    assert {first_rule(exc) for exc, _, _ in SAMPLES} == set(range(len(ERROR_TABLE)))


def test_a_tls_failure_during_a_handshake(conv: Conversation) -> None:
    conv.stage = TLS_HANDSHAKE
    assert classify(_ssl_error(), conv) == (
        ProbeStatus.TLS_ERROR,
        "TLS handshake failed: sslv3 alert handshake failure",
    )


@pytest.mark.parametrize("exc", [ValueError("invalid literal for int()"), KeyError("x")])
def test_bugs_are_not_outcomes(conv: Conversation, exc: BaseException) -> None:
    assert classify(exc, conv) is None


def test_once_the_watchdog_fired_everything_is_a_timeout_at_the_stage_it_cut(
    conv: Conversation,
) -> None:
    conv.expired = True
    conv.expired_stage = GREETING
    assert classify(ConnectionClosed(), conv) == (
        ProbeStatus.TIMEOUT,
        "no greeting within 3.0 s",
    )
    # Except a certificate failure: that answer came before the deadline.
    assert classify(_cert_failure(), conv) == (ProbeStatus.CERT_INVALID, "certificate has expired")


def test_printable_keeps_server_text_harmless() -> None:
    assert printable(b"* OK \x1b[2J\x07ready\r\n") == "* OK [2J ready"
    assert printable("x" * 200) == "x" * 80
    assert printable(b"\xff\xfe") == "\ufffd\ufffd"
    assert printable(None) == ""


def test_a_bug_in_a_speaker_escapes_but_every_socket_is_closed() -> None:
    a, b = socket.socketpair()
    registered: list[socket.socket] = []
    threads = threading.active_count()

    def buggy(_conv: Conversation) -> None:
        raise KeyError("a bug")

    try:
        with pytest.raises(KeyError):
            speak_with(
                buggy,
                "IMAP",
                a,
                hostname="imap.example.test",
                port=143,
                security=Security.PLAIN,
                tls_context=ssl.create_default_context(),
                deadline=time.monotonic() + 5,
                reconnect=socket.socket,
                register=registered.append,
            )
        assert registered == [a]
        assert a.fileno() == -1
        assert threading.active_count() == threads, "the watchdog thread was joined"
    finally:
        b.close()
