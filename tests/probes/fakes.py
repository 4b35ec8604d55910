"""Small scripted IMAP, POP3 and SMTP servers for the speakers' tests.

They speak just enough (greeting, CAPABILITY/CAPA/EHLO, STARTTLS/STLS,
LOGOUT/QUIT) to reach every branch of a speaker, with a certificate of the
test's choosing. Real servers (Dovecot, aiosmtpd) come from ``tests/lab``;
these cover what a real server will not do on demand: drop STARTTLS, flood a
capability list, pre-authenticate, go quiet after STARTTLS...

Each server is a :class:`tests.lab.hostile.HostileServer` (a thread per
connection, every blocking call woken by ``stop()``), so the lab's hostile
servers and these share one life cycle.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.lab.hostile import HostileServer

Script = Callable[["Peer"], None]


class Peer:
    """The server's end of one connection: lines in, bytes out, STARTTLS."""

    def __init__(self, server: Scripted, conn: socket.socket) -> None:
        self.server = server
        self.conn: socket.socket = conn
        self.tls: ssl.SSLSocket | None = None
        self._pending = b""

    def send(self, data: bytes) -> bool:
        return self.server.send(self.conn, data)

    def line(self) -> bytes | None:
        """One line without its CRLF; None when the client went away."""
        while b"\n" not in self._pending:
            data = self.server.recv(self.conn)
            if not data:
                return None
            self._pending += data
        line, _, self._pending = self._pending.partition(b"\n")
        self.server.received.append(line.rstrip(b"\r"))
        return line.rstrip(b"\r")

    def starttls(self) -> bool:
        """Server side of the TLS handshake; False if it failed (client refused the cert)."""
        context = self.server.context
        assert context is not None, "this server has no certificate"
        tls = context.wrap_socket(self.conn, server_side=True, do_handshake_on_connect=False)
        self.tls = tls
        self.conn = tls
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.server.sleep(0):
            try:
                tls.do_handshake()
            except TimeoutError:
                continue
            except (ssl.SSLError, OSError):
                return False
            self.server.handshakes += 1
            return True
        return False

    def close(self) -> None:
        if self.tls is not None:
            self.tls.close()


class Scripted(HostileServer):
    """Runs ``script(peer)`` for every connection; optional implicit TLS first."""

    def __init__(
        self,
        script: Script,
        *,
        context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        super().__init__("127.0.0.1", 0)
        self.script = script
        self.context = context
        self.implicit_tls = implicit_tls
        self.received: list[bytes] = []
        self.server_names: list[str | None] = []  # SNI of each TLS handshake
        self.handshakes = 0
        if context is not None:
            context.sni_callback = self._sni

    def _sni(self, _sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: object) -> None:
        self.server_names.append(name)

    def handle(self, conn: socket.socket) -> None:
        peer = Peer(self, conn)
        try:
            if self.implicit_tls and not peer.starttls():
                return
            self.script(peer)
        finally:
            peer.close()


# ------------------------------------------------------------------ IMAP


@dataclass
class ImapScript:
    """An IMAP server in a few lines. Capabilities are the CAPABILITY response text."""

    greeting: bytes = b"* OK fake IMAP ready"
    capabilities: bytes = b"IMAP4rev1 STARTTLS LOGINDISABLED"
    capabilities_tls: bytes = b"IMAP4rev1 AUTH=PLAIN AUTH=LOGIN"
    # What to send instead of a CAPABILITY response (a flood, a literal bomb...).
    capability_reply: Callable[[Peer, bytes], None] | None = None
    starttls_reply: bytes | None = b"OK Begin TLS negotiation now"
    silent_after_starttls: bool = False
    answer_logout: bool = True
    log: list[bytes] = field(default_factory=list)

    def __call__(self, peer: Peer) -> None:
        if not peer.send(self.greeting + b"\r\n"):
            return
        while (line := peer.line()) is not None:
            tag, _, rest = line.partition(b" ")
            command = rest.split(b" ", 1)[0].upper()
            self.log.append(command)
            if command == b"CAPABILITY":
                if self.capability_reply is not None:
                    self.capability_reply(peer, tag)
                    continue
                caps = self.capabilities_tls if peer.tls else self.capabilities
                peer.send(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
            elif command == b"STARTTLS" and self.starttls_reply is not None:
                peer.send(tag + b" " + self.starttls_reply + b"\r\n")
                if not self.starttls_reply.startswith(b"OK"):
                    continue
                if self.silent_after_starttls:
                    peer.server.hold(peer.conn)
                    return
                if not peer.starttls():
                    return
            elif command == b"LOGOUT":
                if self.answer_logout:
                    peer.send(b"* BYE see you\r\n" + tag + b" OK LOGOUT done\r\n")
                    return
                peer.server.hold(peer.conn)
                return
            else:
                peer.send(tag + b" BAD unknown command\r\n")


# ------------------------------------------------------------------ POP3


@dataclass
class Pop3Script:
    greeting: bytes = b"+OK fake POP3 ready"
    # None: CAPA answered with -ERR (RFC 1939 servers).
    capabilities: tuple[bytes, ...] | None = (b"TOP", b"UIDL", b"STLS", b"SASL")
    capabilities_tls: tuple[bytes, ...] | None = (b"TOP", b"USER", b"SASL PLAIN LOGIN")
    capa_reply: Callable[[Peer], None] | None = None
    silent_after_starttls: bool = False

    def __call__(self, peer: Peer) -> None:
        if not peer.send(self.greeting + b"\r\n"):
            return
        while (line := peer.line()) is not None:
            command = line.split(b" ", 1)[0].upper()
            if command == b"CAPA":
                if self.capa_reply is not None:
                    self.capa_reply(peer)
                    continue
                caps = self.capabilities_tls if peer.tls else self.capabilities
                if caps is None:
                    peer.send(b"-ERR unknown command\r\n")
                else:
                    peer.send(
                        b"+OK list follows\r\n" + b"".join(c + b"\r\n" for c in caps) + b".\r\n"
                    )
            elif command == b"STLS":
                peer.send(b"+OK begin TLS\r\n")
                if self.silent_after_starttls:
                    peer.server.hold(peer.conn)
                    return
                if not peer.starttls():
                    return
            elif command == b"QUIT":
                peer.send(b"+OK bye\r\n")
                return
            else:
                peer.send(b"-ERR unknown command\r\n")


# ------------------------------------------------------------------ SMTP


@dataclass
class SmtpScript:
    greeting: bytes = b"220 fake.example.test ESMTP ready"
    extensions: tuple[bytes, ...] = (b"PIPELINING", b"STARTTLS", b"8BITMIME")
    extensions_tls: tuple[bytes, ...] = (b"PIPELINING", b"AUTH PLAIN LOGIN", b"AUTH=LOGIN")
    ehlo_reply: bytes | None = None  # e.g. b"502 no EHLO here"
    silent_after_starttls: bool = False

    def __call__(self, peer: Peer) -> None:
        if not peer.send(self.greeting + b"\r\n"):
            return
        while (line := peer.line()) is not None:
            command = line.split(b" ", 1)[0].upper()
            if command == b"EHLO":
                if self.ehlo_reply is not None:
                    peer.send(self.ehlo_reply + b"\r\n")
                    continue
                lines = [b"fake.example.test greets you"]
                lines += self.extensions_tls if peer.tls else self.extensions
                reply = b"".join(
                    b"250" + (b" " if i == len(lines) - 1 else b"-") + text + b"\r\n"
                    for i, text in enumerate(lines)
                )
                peer.send(reply)
            elif command == b"STARTTLS":
                peer.send(b"220 go ahead\r\n")
                if self.silent_after_starttls:
                    peer.server.hold(peer.conn)
                    return
                if not peer.starttls():
                    return
            elif command == b"QUIT":
                peer.send(b"221 bye\r\n")
                return
            else:
                peer.send(b"502 unknown command\r\n")
