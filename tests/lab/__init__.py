"""The real-server test lab: a throw-away CA, an in-process DNS server, Dovecot,
aiosmtpd, an HTTPS/HTTP web server with virtual hosts and misbehaving TCP servers on
their own loopback addresses.

Start with ``Lab`` (tests/lab/servers.py) or the fixtures in tests/conftest.py.
"""

from __future__ import annotations

from .ca import CertFiles, LabCA
from .dns import DnsServer, QueryLogEntry
from .dovecot import Dovecot
from .errors import LabError, Unavailable
from .hostile import (
    BadTLS,
    Blackhole,
    EndlessGreeting,
    EndlessLines,
    Garbage,
    HostileServer,
    Reset,
    Silent,
    SlowDrip,
    TlsBanner,
    WrongProtocol,
)
from .servers import DEFAULT_USERS, STANDARD_PORTS, Lab, allocate_ip
from .smtp import SmtpServer
from .support import require
from .web import Handshake, Request, Response, WebServer

__all__ = [
    "DEFAULT_USERS",
    "STANDARD_PORTS",
    "BadTLS",
    "Blackhole",
    "CertFiles",
    "DnsServer",
    "Dovecot",
    "EndlessGreeting",
    "EndlessLines",
    "Garbage",
    "Handshake",
    "HostileServer",
    "Lab",
    "LabCA",
    "LabError",
    "QueryLogEntry",
    "Request",
    "Reset",
    "Response",
    "Silent",
    "SlowDrip",
    "SmtpServer",
    "TlsBanner",
    "Unavailable",
    "WebServer",
    "WrongProtocol",
    "allocate_ip",
    "require",
]
