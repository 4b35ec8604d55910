"""Protocol speakers: one module per protocol, one function per module.

Each speaker has the signature of :data:`Speaker`. The discovery engine opens
the TCP connection (so that it can time the handshake and spot filtered
ports) and hands the connected socket over; the speaker owns it from then on
and always closes it. A speaker never raises for an expected network outcome:
it returns a :class:`SpeakOutcome` whose status says what happened.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

from advisor.models import ProbeStatus, ProtocolFacts, Security


@dataclass(frozen=True)
class SpeakOutcome:
    status: ProbeStatus
    detail: str  # one line for people: what was found, or why it failed
    facts: ProtocolFacts = field(default_factory=ProtocolFacts)


class Reconnect(TypingProtocol):
    """Opens a fresh TCP connection to the same address; raises OSError on failure."""

    def __call__(self) -> socket.socket: ...


class Speaker(TypingProtocol):
    def __call__(
        self,
        sock: socket.socket,
        *,
        hostname: str,
        port: int,
        security: Security,
        tls_context: ssl.SSLContext,
        deadline: float,
        reconnect: Reconnect,
        register: Callable[[socket.socket], None],
    ) -> SpeakOutcome: ...
