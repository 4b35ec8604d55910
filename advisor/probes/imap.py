"""The IMAP speaker: greeting, CAPABILITY, STARTTLS, CAPABILITY, LOGOUT; never a login.

It drives imapclient (on top of imaplib) over the socket the engine opened:
``IMAPClient._create_IMAP4`` returns an ``imaplib.IMAP4`` whose
``_create_socket`` hands that socket over (wrapped in TLS for implicit TLS),
and whose documented ``readline``/``read`` hooks charge every byte to the
conversation's budget. See :mod:`advisor.probes._session` for the deadline,
the second look at invalid certificates and the error table.
"""

from __future__ import annotations

import imaplib
import socket
from collections.abc import Callable
from dataclasses import replace

from imapclient import IMAPClient

from advisor.models import ProbeStatus, Security
from advisor.net.capped import ConnectionClosed, ReplyTooLarge
from advisor.probes import Speaker
from advisor.probes._session import (
    GREETING_CHARS,
    Conversation,
    Refusal,
    command,
    make_speaker,
    printable,
)

# RFC 9051 §7.1: the greeting is an untagged OK, PREAUTH or BYE.
_WELCOME = (b"* OK", b"* PREAUTH")
_GOODBYE = (b"* BYE",)
# imaplib (3.11) insists on one of these; RFC 9051 servers may offer only IMAP4rev2.
_IMAPLIB_VERSIONS = ("IMAP4REV1", "IMAP4")


class _IMAP4(imaplib.IMAP4):
    """imaplib on the engine's socket, its reads charged to the conversation's budget."""

    def __init__(self, conv: Conversation) -> None:
        self._conv = conv
        self.advertised: tuple[str, ...] = ()  # the capabilities as the server sent them
        self._usable: tuple[str, ...] = ()  # what imaplib checks against
        conv.on_close(self._release)
        # The host name, never an address: imaplib's starttls() sends it as SNI.
        super().__init__(conv.hostname, conv.port)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._conv.open()

    def readline(self) -> bytes:
        try:
            line = super().readline()
        except self.error:
            # imaplib's only complaint here is a line over its own 1 MB limit.
            raise ReplyTooLarge(self._conv.budget.limit) from None
        return self._conv.budget.charge(line)

    def read(self, size: int) -> bytes:
        # An IMAP literal announces its size: refuse it before buffering it.
        if size == 0:
            return b""  # {0} is a legal, empty literal
        self._conv.budget.reserve(size)
        data = self._conv.budget.charge(super().read(size))
        if len(data) < size:
            raise ConnectionClosed("end of file inside a literal")
        return data

    def capability(self) -> tuple[str, list[bytes | None]]:
        # imaplib asks at connection time and again right after STARTTLS.
        if not self._conv.facts.greeting:
            greeting = printable(self.welcome, GREETING_CHARS)
            self._conv.facts = replace(self._conv.facts, greeting=greeting)
        upgraded = self._conv.security is Security.STARTTLS and self._conv.facts.tls is not None
        self._conv.enter(command("CAPABILITY after STARTTLS" if upgraded else "CAPABILITY"))
        return super().capability()

    @property
    def capabilities(self) -> tuple[str, ...]:
        return self._usable

    @capabilities.setter
    def capabilities(self, advertised: tuple[str, ...]) -> None:
        self.advertised = advertised
        self._usable = advertised
        if "IMAP4REV2" in advertised and not set(_IMAPLIB_VERSIONS) & set(advertised):
            # imaplib refuses a server without IMAP4rev1; we only send CAPABILITY,
            # STARTTLS and LOGOUT, which mean the same in IMAP4rev2 (RFC 9051).
            self._usable = (*advertised, "IMAP4REV1")

    def _release(self) -> None:
        reader = self.__dict__.get("file")
        if reader is not None:
            reader.close()


class _Client(IMAPClient):  # type: ignore[misc]  # imapclient ships no type hints
    def __init__(self, conv: Conversation) -> None:
        self._conv = conv
        self.imap4: _IMAP4 | None = None
        # ssl=False: TLS is ours (implicit TLS is wrapped in _create_socket); with
        # ssl=True on port 143 imapclient would also log a warning.
        super().__init__(conv.hostname, port=conv.port, ssl=False)

    def _create_IMAP4(self) -> _IMAP4:
        self.imap4 = _IMAP4(self._conv)
        return self.imap4

    def _set_read_timeout(self) -> None:
        """The conversation sets a timeout before every step instead."""


def _mechanisms(capabilities: tuple[str, ...]) -> tuple[str, ...]:
    """SASL mechanisms from AUTH= capabilities (RFC 9051 §7.2.2), server order, once each."""
    found = (c[len("AUTH=") :].upper() for c in capabilities if c.upper().startswith("AUTH="))
    return tuple(dict.fromkeys(m for m in found if m))


def _logging_in(conv: Conversation, caps: tuple[str, ...]) -> None:
    """Facts of the session a client would log in on (RFC 9051 §6.2.3 LOGINDISABLED)."""
    conv.facts = replace(
        conv.facts, login_disabled="LOGINDISABLED" in caps, auth_mechanisms=_mechanisms(caps)
    )


def _converse(conv: Conversation) -> None:
    try:
        client = _Client(conv)
    except imaplib.IMAP4.error:
        conv.judge_greeting("IMAP", _WELCOME, _GOODBYE)
        raise
    conv.judge_greeting("IMAP", _WELCOME, _GOODBYE)
    imap4 = client.imap4
    assert imap4 is not None  # set by the constructor above
    logout: Callable[[], object] = client.logout
    caps = imap4.advertised
    conv.facts = replace(conv.facts, capabilities_before=caps)
    if conv.security is Security.STARTTLS:
        if imap4.state == "AUTH":
            # RFC 9051 §6.2.1: STARTTLS only in the not-authenticated state, so
            # after PREAUTH the session stays in plain text for good.
            conv.goodbye(logout, "LOGOUT")
            raise Refusal(
                ProbeStatus.NO_STARTTLS,
                "server pre-authenticated the plain session (PREAUTH): STARTTLS impossible",
            )
        if "STARTTLS" not in caps:
            _logging_in(conv, caps)  # a client could still log in, in plain text
            raise conv.refuse_starttls("STARTTLS", caps, logout, "LOGOUT")
        conv.enter(command("STARTTLS"))
        client.starttls(conv.starttls_context())
        # imaplib asked CAPABILITY again (RFC 2595 §3.1: forget the old list).
        caps = imap4.advertised
        conv.facts = replace(conv.facts, capabilities_after=caps)
    _logging_in(conv, caps)
    conv.goodbye(logout, "LOGOUT")


speak: Speaker = make_speaker(_converse, "IMAP")
