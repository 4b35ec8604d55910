"""What the IMAP, POP3 and SMTP speakers share: limits, TLS, and one error table.

A speaker module only knows its protocol: which library to drive, what a
greeting looks like, which capability means STARTTLS. Everything else lives
here, once:

* :class:`Conversation` is one TCP connection's worth of talking. It owns the
  sockets (the engine's plain one and every ``SSLSocket`` made from it),
  charges every byte read to a :class:`~advisor.net.capped.ByteBudget`, sets
  the socket timeout to the time left before each step, and arms a watchdog
  that shuts the connection down at the deadline, so that a server dripping
  one byte a second cannot hold a probe past it. Closing it closes everything.
* :func:`speak_with` runs a speaker's conversation and turns what happened
  into a :class:`~advisor.probes.SpeakOutcome`. When the certificate fails
  validation it takes a second look through a new connection and a
  non-verifying context, to report what the certificate *is* valid for.
* :data:`ERROR_TABLE` is the only place that maps exceptions to a status and
  a message. What can reach it, from the lowest layer up:

  - ``DeadlineReached`` (ours, no time left before a step), ``TimeoutError``
    (a socket timeout), or anything at all once the watchdog fired: TIMEOUT.
  - :class:`~advisor.net.capped.ReplyTooLarge`: the byte budget is spent.
  - ``ssl.SSLCertVerificationError``: the certificate failed validation.
  - :class:`~advisor.net.capped.ConnectionClosed`, ``ssl.SSLEOFError``,
    ``ssl.SSLZeroReturnError``, ``BrokenPipeError``,
    ``smtplib.SMTPServerDisconnected``: the server hung up.
  - ``ConnectionResetError``, ``ConnectionAbortedError``: it reset.
  - other ``ssl.SSLError``: the TLS handshake failed (wrong version number,
    handshake failure alert, no shared cipher...).
  - ``UnicodeError``: the libraries decode capabilities as ASCII.
  - ``imaplib.IMAP4.error`` (and imapclient's errors, its subclasses),
    ``poplib.error_proto``, ``smtplib.SMTPException``: a reply the library
    could not make sense of.
  - any other ``OSError``, e.g. the engine shut the socket down to cancel.
  - ``ValueError`` from reading a closed ``SSLSocket`` (cancellation again).

  Anything else is a bug and escapes.
"""

from __future__ import annotations

import contextlib
import imaplib
import poplib
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import cast

from advisor.models import ProbeStatus, ProtocolFacts, Security
from advisor.net.capped import ByteBudget, ConnectionClosed, ReplyTooLarge
from advisor.net.tls import (
    describe_invalid,
    inspection_context,
    tls_error_reason,
    tls_facts,
    verify_error,
)
from advisor.probes import Reconnect, Speaker, SpeakOutcome

# LOGOUT/QUIT is politeness: nothing is learned from the answer, so a server
# slow to say goodbye costs the probe at most this long.
GOODBYE_TIMEOUT = 1.0
# A second look at an invalid certificate needs a TCP and a TLS handshake and
# a few round trips; with less time than this left it cannot finish.
RECONNECT_MIN_SECONDS = 0.2
# Server text quoted in a one-line detail ("greeting is not IMAP: '...'").
QUOTED_CHARS = 80
# A greeting is one line of a few dozen characters; more is noise in a report.
GREETING_CHARS = 512


@dataclass(frozen=True)
class Stage:
    """A step of a conversation, named for the one-line messages."""

    name: str  # "during <name>": "the greeting", "CAPABILITY", "the TLS handshake"
    waiting: str  # "<waiting> within 3.0 s": "no greeting", "no reply to CAPA"
    handshake: bool = False


GREETING = Stage("the greeting", "no greeting")
TLS_HANDSHAKE = Stage("the TLS handshake", "TLS handshake did not finish", handshake=True)
STARTTLS_HANDSHAKE = Stage(
    "the STARTTLS handshake", "STARTTLS handshake did not finish", handshake=True
)


def command(name: str) -> Stage:
    return Stage(name, f"no reply to {name}")


class DeadlineReached(Exception):
    """No time is left for the next step."""


class Refusal(Exception):
    """An outcome the speaker recognised itself: wrong greeting, no STARTTLS."""

    def __init__(self, status: ProbeStatus, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def printable(data: bytes | str | None, limit: int = QUOTED_CHARS) -> str:
    """The first ``limit`` printable characters: server text is never trusted with a terminal."""
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    kept = "".join(ch if ch.isprintable() else " " for ch in text.strip())
    return " ".join(kept.split())[:limit]


# ---------------------------------------------------------------- error table


@dataclass(frozen=True)
class _Rule:
    kinds: tuple[type[BaseException], ...]
    status: ProbeStatus
    describe: Callable[[BaseException, Conversation], str]
    when: Callable[[BaseException], bool] = lambda _exc: True


def _timeout(_exc: BaseException, conv: Conversation) -> str:
    stage = conv.expired_stage or conv.stage
    return f"{stage.waiting} within {conv.deadline - conv.started:.1f} s"


def _tls_failure(exc: BaseException, conv: Conversation) -> str:
    reason = tls_error_reason(cast(ssl.SSLError, exc))
    if conv.stage.handshake:
        return f"TLS handshake failed: {reason}"
    return f"TLS error during {conv.stage.name}: {reason}"


def _library_text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {printable(exc.smtp_error)}"
    return printable(exc.args[0] if exc.args else type(exc).__name__)


def _closed_ssl_socket(exc: BaseException) -> bool:
    # ssl raises ValueError("Read on closed or unwrapped SSL socket.") when the
    # engine closed the socket under us to cancel the probe.
    return "closed" in str(exc)


ERROR_TABLE: tuple[_Rule, ...] = (
    _Rule((DeadlineReached, TimeoutError), ProbeStatus.TIMEOUT, _timeout),
    _Rule(
        (ReplyTooLarge,),
        ProbeStatus.PROTOCOL_ERROR,
        lambda exc, conv: f"{exc} during {conv.stage.name}",
    ),
    _Rule(
        (ssl.SSLCertVerificationError,),
        ProbeStatus.CERT_INVALID,
        lambda exc, conv: verify_error(cast(ssl.SSLCertVerificationError, exc)),
    ),
    _Rule(
        (
            ConnectionClosed,
            ssl.SSLEOFError,
            ssl.SSLZeroReturnError,
            BrokenPipeError,
            smtplib.SMTPServerDisconnected,
        ),
        ProbeStatus.PROTOCOL_ERROR,
        lambda _exc, conv: f"connection closed by server during {conv.stage.name}",
    ),
    _Rule(
        (ConnectionResetError, ConnectionAbortedError),
        ProbeStatus.PROTOCOL_ERROR,
        lambda _exc, conv: f"connection reset by server during {conv.stage.name}",
    ),
    _Rule((ssl.SSLError,), ProbeStatus.TLS_ERROR, _tls_failure),
    _Rule(
        (UnicodeError,),
        ProbeStatus.PROTOCOL_ERROR,
        lambda _exc, conv: f"server sent text that is not ASCII during {conv.stage.name}",
    ),
    _Rule(
        (imaplib.IMAP4.error, poplib.error_proto, smtplib.SMTPException),
        ProbeStatus.PROTOCOL_ERROR,
        lambda exc, conv: f"unexpected reply during {conv.stage.name}: {_library_text(exc)}",
    ),
    _Rule(
        (OSError,),
        ProbeStatus.PROTOCOL_ERROR,
        lambda exc, conv: (
            f"network error during {conv.stage.name}: "
            f"{cast(OSError, exc).strerror or printable(str(exc))}"
        ),
    ),
    _Rule(
        (ValueError,),
        ProbeStatus.PROTOCOL_ERROR,
        lambda _exc, conv: f"connection shut down during {conv.stage.name}",
        when=_closed_ssl_socket,
    ),
)

# What ``except`` clauses catch; classify() says whether a rule really applies.
EXPECTED: tuple[type[BaseException], ...] = tuple(
    kind for rule in ERROR_TABLE for kind in rule.kinds
)


def classify(exc: BaseException, conv: Conversation) -> tuple[ProbeStatus, str] | None:
    """(status, detail) for an expected exception, ``None`` for a bug."""
    for rule in ERROR_TABLE:
        if isinstance(exc, rule.kinds) and rule.when(exc):
            out_of_time = conv.expired or time.monotonic() >= conv.deadline
            if out_of_time and rule.status is not ProbeStatus.CERT_INVALID:
                # The watchdog shut the connection, or the socket timeout (set to
                # the time left) fired first and a library renamed it (smtplib
                # turns TimeoutError into SMTPServerDisconnected): time ran out.
                return ProbeStatus.TIMEOUT, _timeout(exc, conv)
            return rule.status, rule.describe(exc, conv)
    return None


# ---------------------------------------------------------------- conversation


class _LibraryTLS:
    """Stands in for an ``SSLContext`` where imaplib, poplib and smtplib upgrade.

    Their STARTTLS code calls ``context.wrap_socket(sock, server_hostname=...)``
    and nothing else; routing that call through the conversation registers
    the new ``SSLSocket`` before its handshake (so the engine and the
    watchdog can interrupt it) and always names the real host, never an IP.
    """

    def __init__(self, conv: Conversation) -> None:
        self._conv = conv

    def wrap_socket(self, sock: socket.socket, *args: object, **kwargs: object) -> ssl.SSLSocket:
        return self._conv.wrap(sock, STARTTLS_HANDSHAKE)

    def __getattr__(self, name: str) -> object:
        return getattr(self._conv.context, name)


class Conversation:
    """One connection's worth of talking, under a deadline and a byte budget."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        hostname: str,
        port: int,
        security: Security,
        context: ssl.SSLContext,
        deadline: float,
        started: float,
        register: Callable[[socket.socket], None],
        cert_error: str | None = None,
    ) -> None:
        self.hostname = hostname
        self.port = port
        self.security = security
        self.context = context
        self.deadline = deadline
        self.started = started
        self.cert_error = cert_error  # set on a second look: the verifying handshake's error
        self.sock = sock
        self.current = sock  # what the library reads from now: sock or an SSLSocket made of it
        self.stage: Stage = GREETING
        self.budget = ByteBudget()
        self.facts = ProtocolFacts()
        self.expired = False
        # The step the watchdog interrupted: a cut-off line may look complete to
        # a library, which then starts the next step before noticing.
        self.expired_stage: Stage | None = None
        self._register = register
        self._sockets: list[socket.socket] = [sock]
        self._closers: list[Callable[[], object]] = []
        self._lock = threading.Lock()
        self._finished = False
        self._guard: socket.socket | None = None
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Conversation:
        self._register(self.sock)
        try:
            # The watchdog shuts down a duplicate descriptor of the connection:
            # it acts on the same TCP connection, and the number cannot be
            # reused by another probe's socket before we close it ourselves.
            self._guard = self.sock.dup()
        except OSError:
            self._guard = None
        self._timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._finished = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()
        for closer in reversed(self._closers):
            with contextlib.suppress(OSError):
                closer()
        for sock in reversed(self._sockets):
            sock.close()
        if self._guard is not None:
            self._guard.close()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            self.expired_stage = self.stage
            target = self._guard if self._guard is not None else self.current
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_RDWR)

    # -- steps

    def enter(self, stage: Stage, *, at_most: float | None = None) -> None:
        """Start a step: name it, and give the socket the time that is left."""
        if self.expired:
            raise DeadlineReached(stage.name)
        self.stage = stage
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineReached(stage.name)
        self.current.settimeout(remaining if at_most is None else min(remaining, at_most))

    def on_close(self, closer: Callable[[], object]) -> None:
        """Run ``closer`` (a library's own file cleanup) when the conversation closes."""
        self._closers.append(closer)

    def open(self) -> socket.socket:
        """The socket a library starts on: the plain one, or implicit TLS over it."""
        if self.security is not Security.SSL:
            self.enter(GREETING)
            return self.sock
        tls = self.wrap(self.sock, TLS_HANDSHAKE)
        self.enter(GREETING)
        return tls

    def wrap(self, sock: socket.socket, stage: Stage) -> ssl.SSLSocket:
        """TLS over ``sock``, registered before the handshake; records the TLS facts."""
        self.enter(stage)
        try:
            sock.getpeername()
        except OSError as exc:
            # The server already reset the connection. Checked here because
            # SSLSocket's constructor then raises without closing itself
            # (CPython 3.11 ssl.py, the "not connected" branch), leaking the fd.
            raise ConnectionClosed("reset before the TLS handshake") from exc
        tls = self.context.wrap_socket(
            sock, server_hostname=self.hostname, do_handshake_on_connect=False
        )
        self._sockets.append(tls)
        self.current = tls
        self._register(tls)
        tls.do_handshake()
        self.facts = replace(
            self.facts,
            tls=tls_facts(tls, valid=self.cert_error is None, error=self.cert_error),
        )
        return tls

    def starttls_context(self) -> ssl.SSLContext:
        """What to hand to the library's STARTTLS method (see :class:`_LibraryTLS`)."""
        return cast(ssl.SSLContext, _LibraryTLS(self))

    def judge_greeting(
        self, protocol: str, accepted: tuple[bytes, ...], refused: tuple[bytes, ...]
    ) -> None:
        """Raise :class:`Refusal` unless the first line received is a welcome."""
        first = self.budget.first_line
        if first is None:
            return  # nothing arrived: the error at hand says why
        head = first.lstrip().upper()
        if head.startswith(accepted):
            return
        if self.expired_stage is GREETING:
            # The watchdog cut the greeting mid-line ("*", "+O"): how much of it
            # arrived depends on the machine's load, so it is judged as a timeout.
            raise DeadlineReached(GREETING.name)
        if head.startswith(refused):
            raise Refusal(
                ProbeStatus.PROTOCOL_ERROR, f"server refused the session: '{printable(first)}'"
            )
        quoted = printable(first)
        shown = f"'{quoted}'" if quoted else f"{len(first)} bytes of binary data"
        raise Refusal(ProbeStatus.PROTOCOL_ERROR, f"greeting is not {protocol}: {shown}")

    def refuse_starttls(
        self, keyword: str, capabilities: tuple[str, ...], farewell: Callable[[], object], name: str
    ) -> Refusal:
        """Say goodbye and build the NO_STARTTLS outcome.

        Without the capability a client must not try the upgrade (RFC 3207 §4
        for SMTP, RFC 2595 §3-4 for IMAP and POP3), so neither do we.
        """
        self.goodbye(farewell, name)
        listed = " ".join(capabilities) if capabilities else "none advertised"
        return Refusal(
            ProbeStatus.NO_STARTTLS,
            f"{keyword} not advertised (capabilities: {printable(listed, QUOTED_CHARS * 2)})",
        )

    def goodbye(self, farewell: Callable[[], object], name: str) -> None:
        """LOGOUT/QUIT, best effort and briefly: the answer teaches nothing."""
        try:
            self.enter(command(name), at_most=GOODBYE_TIMEOUT)
            farewell()
        except EXPECTED as exc:
            if classify(exc, self) is None:
                raise


# ---------------------------------------------------------------- driver


@dataclass(frozen=True)
class _Attempt:
    status: ProbeStatus
    detail: str
    facts: ProtocolFacts = field(default_factory=ProtocolFacts)
    cert_failure: ssl.SSLCertVerificationError | None = None


def _attempt(
    conv: Conversation, converse: Callable[[Conversation], None], protocol: str
) -> _Attempt:
    try:
        with conv:
            converse(conv)
    except Refusal as refusal:
        return _Attempt(refusal.status, refusal.detail, conv.facts)
    except ssl.SSLCertVerificationError as exc:
        return _Attempt(ProbeStatus.CERT_INVALID, verify_error(exc), conv.facts, exc)
    except EXPECTED as exc:
        found = classify(exc, conv)
        if found is None:
            raise
        return _Attempt(found[0], found[1], conv.facts)
    return _Attempt(ProbeStatus.OK, summary(protocol, conv.security, conv.facts), conv.facts)


def summary(protocol: str, security: Security, facts: ProtocolFacts) -> str:
    """The one line of a probe that worked."""
    if facts.tls is None:
        line = f"{protocol} without TLS"
    else:
        how = " after STARTTLS" if security is Security.STARTTLS else ""
        line = f"{protocol} over {facts.tls.version}{how}"
        certificate = facts.tls.certificate
        if certificate is not None and certificate.valid:
            line += f", certificate valid until {certificate.not_after[:10]}"
    mechanisms = " ".join(facts.auth_mechanisms) if facts.auth_mechanisms else "none advertised"
    line += f"; auth: {mechanisms}"
    if facts.login_disabled:
        line += " (LOGINDISABLED)"
    return line


def make_speaker(converse: Callable[[Conversation], None], protocol: str) -> Speaker:
    """The module-level ``speak`` of a protocol: :func:`speak_with` bound to its conversation."""

    def speak(
        sock: socket.socket,
        *,
        hostname: str,
        port: int,
        security: Security,
        tls_context: ssl.SSLContext,
        deadline: float,
        reconnect: Reconnect,
        register: Callable[[socket.socket], None],
    ) -> SpeakOutcome:
        return speak_with(
            converse,
            protocol,
            sock,
            hostname=hostname,
            port=port,
            security=security,
            tls_context=tls_context,
            deadline=deadline,
            reconnect=reconnect,
            register=register,
        )

    speak.__doc__ = f"Talk {protocol} on ``sock`` up to what a client would log in with."
    return speak


def speak_with(
    converse: Callable[[Conversation], None],
    protocol: str,
    sock: socket.socket,
    *,
    hostname: str,
    port: int,
    security: Security,
    tls_context: ssl.SSLContext,
    deadline: float,
    reconnect: Reconnect,
    register: Callable[[socket.socket], None],
) -> SpeakOutcome:
    """Run ``converse`` on ``sock`` and, if the certificate fails, once more to read it."""
    started = time.monotonic()

    def conversation(s: socket.socket, context: ssl.SSLContext, error: str | None) -> Conversation:
        return Conversation(
            s,
            hostname=hostname,
            port=port,
            security=security,
            context=context,
            deadline=deadline,
            started=started,
            register=register,
            cert_error=error,
        )

    try:
        first = _attempt(conversation(sock, tls_context, None), converse, protocol)
    finally:
        sock.close()
    failure = first.cert_failure
    if failure is None:
        return SpeakOutcome(first.status, first.detail, first.facts)

    # RFC 8314 §5.3: this session cannot be trusted; look again without
    # verifying, only to tell which names and dates the certificate carries.
    error = verify_error(failure)
    if deadline - time.monotonic() < RECONNECT_MIN_SECONDS:
        detail = f"{describe_invalid(hostname, failure, None)}; no time left to read it"
        return SpeakOutcome(ProbeStatus.CERT_INVALID, detail, first.facts)
    try:
        again = reconnect()
    except OSError as exc:
        reason = exc.strerror or printable(str(exc)) or type(exc).__name__
        detail = describe_invalid(hostname, failure, None)
        detail += f"; could not reconnect to read it: {reason}"
        return SpeakOutcome(ProbeStatus.CERT_INVALID, detail, first.facts)
    try:
        second = _attempt(
            conversation(again, inspection_context(tls_context), error), converse, protocol
        )
    finally:
        again.close()
    learned = second.facts.tls is not None or bool(second.facts.greeting)
    facts = second.facts if learned else first.facts
    certificate = facts.tls.certificate if facts.tls is not None else None
    detail = describe_invalid(hostname, failure, certificate)
    if second.status is not ProbeStatus.OK:
        detail += f" (second look: {second.detail})"
    return SpeakOutcome(ProbeStatus.CERT_INVALID, detail, facts)
