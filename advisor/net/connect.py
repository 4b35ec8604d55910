"""TCP connections to already-resolved addresses, timed and cancellable.

The discovery engine needs three facts the standard library does not give:
when the TCP handshake completed (the host's round trip, used to spot
firewalled ports), whether a failure was a refusal or silence, and a way to
abandon a connection attempt at once when the answer is already known.
Addresses are tried in the order given, a new attempt starting every
:data:`HAPPY_EYEBALLS_DELAY` or as soon as one fails (RFC 8305 §5).
"""

from __future__ import annotations

import errno
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

# RFC 8305 §5 recommends 250 ms between connection attempts.
HAPPY_EYEBALLS_DELAY = 0.25
# How often a waiting connect looks at the cancel flag; bounds cancel latency only.
CANCEL_POLL = 0.05


class ConnectStatus(StrEnum):
    CONNECTED = "connected"
    REFUSED = "refused"  # RST: the host is there, nothing listens
    UNREACHABLE = "unreachable"  # no route, network down, ICMP unreachable
    FILTERED = "filtered"  # no answer at all before the deadline
    RESET = "reset"  # the server accepted, then reset at once (before we could read)
    CANCELLED = "cancelled"


@dataclass
class ConnectOutcome:
    status: ConnectStatus
    detail: str
    sock: socket.socket | None = None
    address: str | None = None
    connect_ms: float | None = None


_REFUSED = {errno.ECONNREFUSED}
# A reset seen while connecting: the server accepted and slammed the door so
# fast that the RST arrived before connect() returned. Something listens.
_RESET = {errno.ECONNRESET, errno.ECONNABORTED}
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}


def connect(
    addresses: Sequence[str],
    port: int,
    *,
    deadline: float,
    cancelled: threading.Event | None = None,
    stagger: float = HAPPY_EYEBALLS_DELAY,
) -> ConnectOutcome:
    """Connect to the first address that answers; never raises for network outcomes."""
    pending: dict[socket.socket, tuple[str, float]] = {}
    queue = list(addresses)
    failures: list[tuple[str, int]] = []
    next_start = time.monotonic()

    def close_all() -> None:
        for s in pending:
            s.close()
        pending.clear()

    try:
        while True:
            now = time.monotonic()
            if cancelled is not None and cancelled.is_set():
                return ConnectOutcome(ConnectStatus.CANCELLED, "cancelled: the answer was ready")
            if queue and (now >= next_start or not pending):
                address = queue.pop(0)
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                try:
                    sock = socket.socket(family, socket.SOCK_STREAM)
                except OSError as exc:
                    failures.append((address, exc.errno or 0))
                    continue
                sock.setblocking(False)
                err = sock.connect_ex((address, port))
                if err not in (0, errno.EINPROGRESS):
                    sock.close()
                    failures.append((address, err))
                    continue
                pending[sock] = (address, time.monotonic())
                next_start = time.monotonic() + stagger
            if not pending:
                return _failed(failures, port)
            if now >= deadline:
                return ConnectOutcome(
                    ConnectStatus.FILTERED,
                    f"no TCP handshake on port {port}: packets seem dropped by a firewall",
                )
            wait = deadline - now
            if queue:
                wait = min(wait, max(0.0, next_start - now))
            if cancelled is not None:
                wait = min(wait, CANCEL_POLL)
            _, writable, _ = select.select([], list(pending), [], max(0.0, wait))
            for sock in writable:
                address, started = pending.pop(sock)
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    sock.close()
                    failures.append((address, err))
                    continue
                elapsed = (time.monotonic() - started) * 1000
                sock.setblocking(True)
                close_all()
                return ConnectOutcome(
                    ConnectStatus.CONNECTED,
                    f"connected to {address} in {elapsed:.1f} ms",
                    sock=sock,
                    address=address,
                    connect_ms=elapsed,
                )
    finally:
        close_all()


def _failed(failures: list[tuple[str, int]], port: int) -> ConnectOutcome:
    if not failures:
        return ConnectOutcome(ConnectStatus.UNREACHABLE, "no address to connect to")
    codes = {code for _, code in failures}
    address, code = failures[0]
    if codes & _REFUSED:
        refused = next(a for a, c in failures if c in _REFUSED)
        return ConnectOutcome(
            ConnectStatus.REFUSED,
            f"connection refused by {refused} on port {port}: nothing listens there",
            address=refused,
        )
    if codes & _RESET:
        reset = next(a for a, c in failures if c in _RESET)
        return ConnectOutcome(
            ConnectStatus.RESET,
            f"connection reset by {reset} on port {port} right after it accepted",
            address=reset,
        )
    reason = errno.errorcode.get(code, str(code))
    if code in _UNREACHABLE:
        return ConnectOutcome(
            ConnectStatus.UNREACHABLE, f"{address} is unreachable ({reason})", address=address
        )
    return ConnectOutcome(
        ConnectStatus.UNREACHABLE, f"cannot connect to {address}:{port} ({reason})", address=address
    )
