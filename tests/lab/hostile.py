"""Misbehaving TCP servers, for the failure paths of network probes.

Each is ``Cls(ip, port, ...)``; ``start()`` binds and returns self (``port=0`` picks a
free port, read it back from ``.port``), ``stop()`` closes the listener and every
connection and joins every thread.  Also context managers.  ``accepted`` counts the
connections served.  All run in background threads, one per connection (at most
``max_connections`` at once; extra connections are closed at once); every blocking
call wakes up at ``stop()``.

- ``Blackhole``: connect() never completes (SYN silently dropped), like a firewall.
- ``Silent``: accepts, never says anything.
- ``Garbage``: random binary bytes as greeting, then closes.
- ``EndlessGreeting``: one endless line with no newline, as fast as the client reads.
- ``EndlessLines``: endless ``<prefix>xxxx\\r\\n`` lines ("* OK ", "220-", "+OK ").
- ``SlowDrip``: a greeting, one byte every ``interval`` seconds, then silence.
- ``Reset``: accepts (optionally sends a greeting) then closes with RST.
- ``BadTLS``: waits for the TLS ClientHello, then answers junk / a fatal TLS alert /
  closes / resets (``mode``).
- ``WrongProtocol``: another protocol's greeting (SMTP on an IMAP port...), and a
  fixed reply to every line.
- ``TlsBanner``: implicit TLS with a given certificate (e.g. expired, untrusted, wrong
  name), then a greeting: a cheap stand-in for a real server in certificate tests.
"""

from __future__ import annotations

import contextlib
import errno
import random
import selectors
import socket
import ssl
import struct
import threading
import time
from typing import ClassVar, Literal, Self

from .ca import CertFiles
from .errors import LabError, Unavailable, bind_failure

__all__ = [
    "BadTLS",
    "Blackhole",
    "EndlessGreeting",
    "EndlessLines",
    "Garbage",
    "HostileServer",
    "Reset",
    "Silent",
    "SlowDrip",
    "TlsBanner",
    "WrongProtocol",
]

_POLL = 0.2  # seconds: upper bound on how long a blocked call ignores stop()


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


class HostileServer:
    """Base class: a listener whose connections are handled by ``handle(conn)``."""

    def __init__(self, ip: str = "127.0.0.1", port: int = 0, *, max_connections: int = 32) -> None:
        self.ip = ip
        self.port = port
        self.max_connections = max_connections
        self.accepted = 0
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._lock = threading.Lock()
        self._conns: dict[socket.socket, threading.Thread] = {}

    @property
    def address(self) -> tuple[str, int]:
        return (self.ip, self.port)

    def _bind(self, backlog: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.ip, self.port))
            sock.listen(backlog)
        except OSError as exc:
            sock.close()
            raise Unavailable(bind_failure(exc, self.ip, self.port, type(self).__name__)) from exc
        self.port = sock.getsockname()[1]
        return sock

    def start(self) -> Self:
        self._stopping.clear()
        self._listener = self._bind(16)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"lab-{type(self).__name__}-{self.port}", daemon=True
        )
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, shut every connection down, join all threads.  Idempotent."""
        self._stopping.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
            self._acceptor = None
        with self._lock:
            conns = dict(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in conns.values():
            thread.join(timeout=5)
            if thread.is_alive():  # pragma: no cover - would be a bug
                raise LabError(f"{type(self).__name__}: a connection thread did not stop")
        for sock in (self._listener, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._listener = self._wake_r = self._wake_w = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        assert self._wake_r is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, _ = self._listener.accept()
                    except OSError:
                        continue
                    self._spawn(conn)

    def _spawn(self, conn: socket.socket) -> None:
        with self._lock:
            if len(self._conns) >= self.max_connections or self._stopping.is_set():
                conn.close()
                return
            self.accepted += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._conns[conn] = thread
        thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(_POLL)
            self.handle(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._lock:
                self._conns.pop(conn, None)
            conn.close()

    # ------------------------------------------------------------- for subclasses
    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def sleep(self, seconds: float) -> bool:
        """Sleep; False if stop() was called meanwhile."""
        return not self._stopping.wait(seconds)

    def send(self, conn: socket.socket, data: bytes) -> bool:
        """Send all of ``data`` (waiting for the client to read); False if the client
        went away or stop() was called."""
        view = memoryview(data)
        while view:
            if self._stopping.is_set():
                return False
            try:
                sent = conn.send(view)
            except TimeoutError:
                continue
            except OSError:
                return False
            view = view[sent:]
        return True

    def recv(self, conn: socket.socket, timeout: float | None = None) -> bytes | None:
        """Some bytes from the client; b"" at EOF; None on timeout or stop()."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return None
            try:
                return conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return b""
        return None

    def hold(self, conn: socket.socket) -> None:
        """Read and discard until the client closes or stop()."""
        while (data := self.recv(conn)) is not None and data:
            pass

    @staticmethod
    def reset(conn: socket.socket) -> None:
        """Close with RST instead of FIN."""
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


class Blackhole(HostileServer):
    """A port whose accept queue is full: the kernel silently drops new SYNs, so a
    client's connect() hangs until its own timeout (like a firewalled port).

    Linux: ``listen(0)`` allows one queued connection; ``start()`` fills the queue with
    its own never-accepted connections until a probe connect() gets no SYN-ACK within
    20 ms (normally after 1 filler).  Dropping on a full accept queue happens whatever
    ``net.ipv4.tcp_syncookies`` says.  No thread: nothing ever reads."""

    def __init__(self, ip: str = "127.0.0.1", port: int = 0, *, max_fillers: int = 16) -> None:
        super().__init__(ip, port)
        self.max_fillers = max_fillers
        self._fillers: list[socket.socket] = []

    def start(self) -> Self:
        self._listener = self._bind(0)
        try:
            for _ in range(self.max_fillers):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                err = sock.connect_ex((self.ip, self.port))
                if err not in (0, errno.EINPROGRESS):
                    sock.close()
                    raise LabError(f"Blackhole: filler connect failed: {errno.errorcode[err]}")
                with selectors.DefaultSelector() as sel:
                    sel.register(sock, selectors.EVENT_WRITE)
                    done = bool(sel.select(timeout=0.02))
                if done and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    self._fillers.append(sock)  # completed: one more queued connection
                    continue
                sock.close()  # no SYN-ACK: the queue is full, SYNs are dropped
                return self
            raise LabError(f"Blackhole: accept queue still not full after {self.max_fillers}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for sock in self._fillers:
            sock.close()
        self._fillers.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None


class Silent(HostileServer):
    """Accepts and never sends anything (reads and discards)."""

    def handle(self, conn: socket.socket) -> None:
        self.hold(conn)


class Garbage(HostileServer):
    """Sends ``size`` random binary bytes (no CR/LF, starting with 0x00 0xff) and closes."""

    def __init__(
        self, ip: str = "127.0.0.1", port: int = 0, *, size: int = 512, seed: int = 7
    ) -> None:
        super().__init__(ip, port)
        rng = random.Random(seed)
        body = bytes(rng.choice([b for b in range(256) if b not in (10, 13)]) for _ in range(size))
        self.payload = (b"\x00\xff" + body)[:size]

    def handle(self, conn: socket.socket) -> None:
        self.send(conn, self.payload)


class EndlessGreeting(HostileServer):
    """``prefix`` then ``filler`` bytes forever, never a newline."""

    def __init__(
        self,
        ip: str = "127.0.0.1",
        port: int = 0,
        *,
        prefix: str | bytes = b"* OK ",
        filler: str | bytes = b"x",
    ) -> None:
        super().__init__(ip, port)
        self.prefix = _bytes(prefix)
        self.chunk = _bytes(filler) * (16384 // max(1, len(_bytes(filler))))

    def handle(self, conn: socket.socket) -> None:
        if not self.send(conn, self.prefix):
            return
        while self.send(conn, self.chunk):
            pass


class EndlessLines(HostileServer):
    """``<prefix>line N xxxx...\\r\\n`` forever: e.g. ``prefix="220-"`` (an SMTP greeting
    that never ends), ``"* OK "`` (IMAP), ``"+OK "`` (POP3)."""

    def __init__(
        self, ip: str = "127.0.0.1", port: int = 0, *, prefix: str | bytes = b"* OK "
    ) -> None:
        super().__init__(ip, port)
        self.prefix = _bytes(prefix)

    def handle(self, conn: socket.socket) -> None:
        n = 0
        while True:
            batch = b"".join(
                self.prefix + b"line %d xxxxxxxxxxxxxxxx\r\n" % i for i in range(n, n + 256)
            )
            n += 256
            if not self.send(conn, batch):
                return


class SlowDrip(HostileServer):
    """Sends ``greeting`` one byte every ``interval`` seconds, then stays silent."""

    def __init__(
        self,
        ip: str = "127.0.0.1",
        port: int = 0,
        *,
        greeting: str | bytes = b"* OK IMAP4rev1 Service Ready\r\n",
        interval: float = 1.0,
    ) -> None:
        super().__init__(ip, port)
        self.greeting = _bytes(greeting)
        self.interval = interval
        self.sent = 0  # bytes of the greeting sent: a client that gave up early saw fewer

    def handle(self, conn: socket.socket) -> None:
        for i in range(len(self.greeting)):
            if not self.send(conn, self.greeting[i : i + 1]):
                return
            self.sent += 1
            if not self.sleep(self.interval):
                return
        self.hold(conn)


class Reset(HostileServer):
    """Accepts, optionally sends ``greeting`` and waits ``delay`` s, then RST."""

    def __init__(
        self,
        ip: str = "127.0.0.1",
        port: int = 0,
        *,
        greeting: str | bytes = b"",
        delay: float = 0.0,
    ) -> None:
        super().__init__(ip, port)
        self.greeting = _bytes(greeting)
        self.delay = delay

    def handle(self, conn: socket.socket) -> None:
        if self.greeting:
            self.send(conn, self.greeting)
        if self.delay:
            self.sleep(self.delay)
        self.reset(conn)


class BadTLS(HostileServer):
    """For implicit-TLS ports: reads the client's ClientHello (kept in
    ``client_hellos``), then per ``mode``:

    - "junk": answers ``junk`` (default: a plaintext IMAP line, i.e. not TLS), closes;
    - "alert": answers a fatal TLS alert (handshake_failure), closes;
    - "close": closes (FIN) mid-handshake;
    - "reset": closes with RST mid-handshake.
    """

    ALERT_HANDSHAKE_FAILURE: ClassVar[bytes] = bytes.fromhex("15030300020228")

    def __init__(
        self,
        ip: str = "127.0.0.1",
        port: int = 0,
        *,
        mode: Literal["junk", "alert", "close", "reset"] = "junk",
        junk: str | bytes = b"* OK this is not TLS\r\n",
    ) -> None:
        super().__init__(ip, port)
        self.mode = mode
        self.junk = _bytes(junk)
        self.client_hellos: list[bytes] = []

    def handle(self, conn: socket.socket) -> None:
        hello = self.recv(conn, timeout=5)
        if not hello:
            return
        self.client_hellos.append(hello)
        if self.mode == "junk":
            self.send(conn, self.junk)
        elif self.mode == "alert":
            self.send(conn, self.ALERT_HANDSHAKE_FAILURE)
        elif self.mode == "reset":
            self.reset(conn)


class WrongProtocol(HostileServer):
    """Sends another protocol's ``greeting``, then ``reply`` to every line received
    (None: no reply), until the client closes."""

    SMTP: ClassVar[bytes] = b"220 mx.example.test ESMTP Postfix\r\n"
    IMAP: ClassVar[bytes] = b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n"
    POP3: ClassVar[bytes] = b"+OK Dovecot ready.\r\n"
    HTTP: ClassVar[bytes] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    SSH: ClassVar[bytes] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"

    def __init__(
        self,
        ip: str = "127.0.0.1",
        port: int = 0,
        *,
        greeting: str | bytes = SMTP,
        reply: str | bytes | None = b"502 5.5.2 Error: command not recognized\r\n",
    ) -> None:
        super().__init__(ip, port)
        self.greeting = _bytes(greeting)
        self.reply = None if reply is None else _bytes(reply)
        self.received: list[bytes] = []

    def handle(self, conn: socket.socket) -> None:
        if not self.send(conn, self.greeting):
            return
        pending = b""
        while data := self.recv(conn):
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self.received.append(line.rstrip(b"\r"))
                if self.reply is not None and not self.send(conn, self.reply):
                    return


class TlsBanner(HostileServer):
    """Implicit TLS with ``cert``, then ``greeting`` and ``reply`` to every line.
    ``handshakes`` counts completed TLS handshakes (a client that rejected the
    certificate does not complete one)."""

    def __init__(
        self,
        ip: str,
        port: int,
        cert: CertFiles,
        *,
        greeting: str | bytes = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n",
        reply: str | bytes | None = b"* BAD not implemented\r\n",
    ) -> None:
        super().__init__(ip, port)
        self.context = cert.server_context()
        self.greeting = _bytes(greeting)
        self.reply = None if reply is None else _bytes(reply)
        self.handshakes = 0

    def handle(self, conn: socket.socket) -> None:
        with self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False) as tls:
            deadline = time.monotonic() + 10
            while True:
                if self._stopping.is_set() or time.monotonic() > deadline:
                    return
                try:
                    tls.do_handshake()
                    break
                except TimeoutError:
                    continue
            self.handshakes += 1
            if not self.send(tls, self.greeting):
                return
            while data := self.recv(tls):
                for _ in range(data.count(b"\n")):
                    if self.reply is not None and not self.send(tls, self.reply):
                        return
