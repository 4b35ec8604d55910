"""The POP3 speaker: greeting, CAPA, STLS, CAPA, QUIT; never USER, PASS or AUTH.

It drives the standard library's poplib over the socket the engine opened:
``_create_socket`` hands that socket over (wrapped in TLS for implicit TLS)
and ``_getline``, poplib's only read path, charges every byte to the
conversation's budget. ``CAPA`` (RFC 2449) is optional: a server that answers
``-ERR`` is still POP3, with no known capabilities. See
:mod:`advisor.probes._session` for the deadline, the second look at invalid
certificates and the error table.
"""

from __future__ import annotations

import poplib
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from advisor.models import Security
from advisor.net.capped import CappedReader
from advisor.probes import Speaker
from advisor.probes._session import (
    GREETING_CHARS,
    Conversation,
    command,
    make_speaker,
    printable,
)

# RFC 1939 §4: the greeting is a positive response; -ERR is a refusal.
_WELCOME = (b"+OK",)
_GOODBYE = (b"-ERR",)
# poplib's own cap on one line; RFC 2449 §4 allows response lines of 512 octets.
MAX_LINE = 2048


class _POP3(poplib.POP3):
    """poplib on the engine's socket, its reads charged to the conversation's budget."""

    if TYPE_CHECKING:  # poplib internals that typeshed does not describe

        def _longcmd(self, line: str) -> tuple[bytes, list[bytes], int]: ...

    def __init__(self, conv: Conversation) -> None:
        self._conv = conv
        # CAPA answer (None: not supported) for the socket it was asked on:
        # STLS changes the socket, and the list must be asked again (RFC 2595 §4).
        self._capa: tuple[socket.socket, tuple[str, ...] | None] | None = None
        conv.on_close(self._release)
        # The host name, never an address: stls() sends self.host as SNI.
        super().__init__(conv.hostname, conv.port)

    def _create_socket(self, timeout: float) -> socket.socket:
        return self._conv.open()

    def _getline(self) -> tuple[bytes, int]:
        # poplib's _getline, reading through the budget.
        line = CappedReader(self.file, self._conv.budget).readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise poplib.error_proto("line too long")
        octets = len(line)
        # Servers may end lines with CRLF, LF, or (rarely) CR ... LF.
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets

    def capability_lines(self) -> tuple[str, ...] | None:
        """CAPA's lines as sent, or ``None`` if the server answered -ERR."""
        if self._capa is not None and self._capa[0] is self.sock:
            return self._capa[1]
        upgraded = self._conv.security is Security.STARTTLS and self._conv.facts.tls is not None
        self._conv.enter(command("CAPA after STLS" if upgraded else "CAPA"))
        lines: tuple[str, ...] | None
        try:
            _resp, raw, _octets = self._longcmd("CAPA")
        except poplib.error_proto as exc:
            # poplib raises error_proto(<the reply line>) for a -ERR answer.
            reply = exc.args[0] if exc.args else b""
            if not (isinstance(reply, bytes) and reply.startswith(b"-ERR")):
                raise
            lines = None
        else:
            decoded = (printable(line, GREETING_CHARS) for line in raw)
            lines = tuple(line for line in decoded if line)
        self._capa = (self.sock, lines)
        return lines

    def capa(self) -> dict[str, list[str]]:
        # poplib's stls() calls capa() first: answer from the list already read,
        # and never trip over a blank or non-ASCII line as poplib's own would.
        lines = self.capability_lines()
        if lines is None:
            raise poplib.error_proto("-ERR CAPA not supported by server")
        return {words[0].upper(): words[1:] for words in (line.split() for line in lines)}

    def _release(self) -> None:
        reader = self.__dict__.get("file")
        if reader is not None:
            reader.close()


def _mechanisms(lines: tuple[str, ...]) -> tuple[str, ...]:
    """SASL mechanisms (RFC 2449 §6.3 ``SASL``, RFC 5034), then USER (RFC 1939 §7)."""
    found: list[str] = []
    has_user = False
    for line in lines:
        words = line.upper().split()
        if words[0] == "SASL":
            found.extend(words[1:])
        elif words[0] == "USER":
            has_user = True
    if has_user:
        found.append("USER")
    return tuple(dict.fromkeys(found))


def _has(lines: tuple[str, ...], keyword: str) -> bool:
    return any(line.upper().split()[0] == keyword for line in lines)


def _converse(conv: Conversation) -> None:
    try:
        pop = _POP3(conv)
    except poplib.error_proto:
        conv.judge_greeting("POP3", _WELCOME, _GOODBYE)
        raise
    conv.judge_greeting("POP3", _WELCOME, _GOODBYE)
    quit_: Callable[[], object] = pop.quit
    conv.facts = replace(conv.facts, greeting=printable(pop.welcome, GREETING_CHARS))
    lines = pop.capability_lines() or ()
    conv.facts = replace(conv.facts, capabilities_before=lines)
    if conv.security is Security.STARTTLS:
        if not _has(lines, "STLS"):
            # A client could still log in, in plain text: say with what.
            conv.facts = replace(conv.facts, auth_mechanisms=_mechanisms(lines))
            raise conv.refuse_starttls("STLS", lines, quit_, "QUIT")
        conv.enter(command("STLS"))
        pop.stls(conv.starttls_context())
        lines = pop.capability_lines() or ()
        conv.facts = replace(conv.facts, capabilities_after=lines)
    conv.facts = replace(conv.facts, auth_mechanisms=_mechanisms(lines))
    conv.goodbye(quit_, "QUIT")


speak: Speaker = make_speaker(_converse, "POP3")
