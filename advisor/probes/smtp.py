"""The SMTP speaker: 220 banner, EHLO, STARTTLS, EHLO, QUIT; never AUTH or MAIL.

It drives the standard library's smtplib over the socket the engine opened:
``_get_socket`` hands that socket over (wrapped in TLS for implicit TLS,
RFC 8314 §3.3) and the ``file`` smtplib reads replies from is wrapped so that
every byte is charged to the conversation's budget. See
:mod:`advisor.probes._session` for the deadline, the second look at invalid
certificates and the error table.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
from collections.abc import Callable
from dataclasses import replace

from advisor.models import ProbeStatus, Security
from advisor.net.capped import BinaryReader, CappedReader
from advisor.probes import Speaker
from advisor.probes._session import (
    GREETING_CHARS,
    Conversation,
    Refusal,
    command,
    make_speaker,
    printable,
)

# RFC 5321 §3.1: the greeting is 220; 554 (or 421) says "no service here".
_WELCOME = (b"220",)
_GOODBYE = tuple(f"{code}".encode() for code in range(400, 600))
_SERVICE_READY = 220
_EHLO_OK = 250


class _SMTP(smtplib.SMTP):
    """smtplib on the engine's socket, its replies read through the budget."""

    def __init__(self, conv: Conversation, ehlo_name: str) -> None:
        self._conv = conv
        self._reader: CappedReader | None = None
        conv.on_close(self._release)
        # The host name, never an address: starttls() sends self._host as SNI.
        super().__init__(conv.hostname, conv.port, local_hostname=ehlo_name)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self._conv.open()

    @property
    def file(self) -> CappedReader | None:
        return self._reader

    @file.setter
    def file(self, raw: BinaryReader | None) -> None:
        previous = self._reader
        if isinstance(raw, CappedReader) or raw is None:
            self._reader = raw
        else:
            self._reader = CappedReader(raw, self._conv.budget)
        if previous is not None and previous is not self._reader:
            previous.close()  # smtplib drops the old file on STARTTLS without closing it

    def _release(self) -> None:
        self.file = None


def ehlo_name(sock: socket.socket) -> str:
    """The EHLO argument: an address literal of our end of the connection.

    RFC 5321 §4.1.4 asks for the client's FQDN, or an address literal when it
    has no meaningful name, which is the case of a probe. A literal needs no
    DNS lookup (smtplib's default calls ``socket.getfqdn()``, slow where DNS
    is filtered), names no machine, and is what servers expect from clients
    without a name; invented names such as ``advisor.invalid`` trip
    ``reject_unknown_helo_hostname``-style checks.
    """
    try:
        address = str(sock.getsockname()[0]).split("%", 1)[0]  # no IPv6 zone
        parsed = ipaddress.ip_address(address)
    except (OSError, ValueError, IndexError):
        return "[127.0.0.1]"
    if parsed.version == 6:
        return f"[IPv6:{parsed.compressed}]"  # RFC 5321 §4.1.3
    return f"[{parsed}]"


def _extensions(reply: bytes | None) -> tuple[str, ...]:
    """EHLO keywords with their parameters; the first line is the server's name."""
    if not reply:
        return ()
    lines = (printable(line, GREETING_CHARS) for line in reply.split(b"\n")[1:])
    return tuple(line for line in lines if line)


def _mechanisms(smtp: smtplib.SMTP) -> tuple[str, ...]:
    """SASL mechanisms of the AUTH extension (RFC 4954 §3), smtplib also reads AUTH=."""
    words = smtp.esmtp_features.get("auth", "").upper().split()
    return tuple(dict.fromkeys(words))


def _ehlo(conv: Conversation, smtp: _SMTP, name: str) -> tuple[str, ...]:
    conv.enter(command(name))
    code, message = smtp.ehlo()
    if code != _EHLO_OK:
        # RFC 5321 §4.1.4 allows falling back to HELO, but a server without
        # EHLO offers neither STARTTLS nor AUTH: nothing a client could use.
        raise Refusal(ProbeStatus.PROTOCOL_ERROR, f"{name} refused: {code} {printable(message)}")
    return _extensions(smtp.ehlo_resp)


def _converse(conv: Conversation) -> None:
    try:
        smtp = _SMTP(conv, ehlo_name(conv.sock))
    except smtplib.SMTPException:
        conv.judge_greeting("SMTP", _WELCOME, _GOODBYE)
        raise
    conv.judge_greeting("SMTP", _WELCOME, _GOODBYE)
    quit_: Callable[[], object] = smtp.quit
    banner = conv.budget.first_line
    conv.facts = replace(conv.facts, greeting=printable(banner, GREETING_CHARS))
    extensions = _ehlo(conv, smtp, "EHLO")
    conv.facts = replace(conv.facts, capabilities_before=extensions)
    if conv.security is Security.STARTTLS:
        if not smtp.has_extn("starttls"):
            # A client could still log in, in plain text: say with what.
            conv.facts = replace(conv.facts, auth_mechanisms=_mechanisms(smtp))
            raise conv.refuse_starttls("STARTTLS", extensions, quit_, "QUIT")
        conv.enter(command("STARTTLS"))
        smtp.starttls(context=conv.starttls_context())
        # RFC 3207 §4.2: forget what was learned before TLS, and ask again.
        extensions = _ehlo(conv, smtp, "EHLO after STARTTLS")
        conv.facts = replace(conv.facts, capabilities_after=extensions)
    conv.facts = replace(conv.facts, auth_mechanisms=_mechanisms(smtp))
    conv.goodbye(quit_, "QUIT")


speak: Speaker = make_speaker(_converse, "SMTP")
