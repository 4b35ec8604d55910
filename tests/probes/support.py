"""Calling a speaker the way the discovery engine does, and checking its manners."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field

from advisor.models import Security
from advisor.probes import Reconnect, Speaker, SpeakOutcome


@dataclass
class Probe:
    outcome: SpeakOutcome
    elapsed: float
    budget: float
    registered: list[socket.socket] = field(default_factory=list)
    reconnects: int = 0

    @property
    def tls_sockets(self) -> list[ssl.SSLSocket]:
        return [s for s in self.registered if isinstance(s, ssl.SSLSocket)]


def probe(
    speak: Speaker,
    address: tuple[str, int],
    *,
    hostname: str,
    security: Security,
    context: ssl.SSLContext,
    budget: float = 5.0,
    reconnect: Reconnect | None = None,
) -> Probe:
    """Connect like the engine (``socket.create_connection``), speak, check the sockets."""
    registered: list[socket.socket] = []
    count = [0]

    def again() -> socket.socket:
        count[0] += 1
        return socket.create_connection(address)

    started = time.monotonic()
    # Blocking, like the engine's: a connect() with a timeout may already see
    # the RST of a server that resets at once, a blocking one never does.
    sock = socket.create_connection(address)
    outcome = speak(
        sock,
        hostname=hostname,
        port=address[1],
        security=security,
        tls_context=context,
        deadline=started + budget,
        reconnect=reconnect or again,
        register=registered.append,
    )
    elapsed = time.monotonic() - started
    assert isinstance(outcome, SpeakOutcome)
    assert sock in registered, "the engine's socket was not registered"
    still_open = [s for s in registered if s.fileno() != -1]
    assert not still_open, f"speaker left sockets open: {still_open}"
    assert "\n" not in outcome.detail
    return Probe(outcome, elapsed, budget, registered, count[0])


def goodbye_timeout(result: Probe) -> float:
    """The socket timeout of the last socket the speaker talked on (LOGOUT/QUIT).

    Python keeps it after ``close()``: it shows what a step was allowed to wait
    without measuring how long it did."""
    timeout = result.registered[-1].gettimeout()
    assert timeout is not None, "the speaker talked on a socket without a timeout"
    return timeout
