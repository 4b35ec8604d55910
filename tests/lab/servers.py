"""The lab "world": one CA, one DNS server, fake hosts on their own loopback IPs.

    lab = Lab(LabCA(folder))                      # owns a fresh DnsServer
    lab.zone("example.test", "@ MX 10 mail")      # SOA/NS added for you
    lab.dovecot("imap.example.test", "pop3.example.test")   # new IP, A records, cert
    lab.smtp("smtp.example.test")                 # 587 STARTTLS + 465
    lab.hostile(Blackhole, "mail.example.test", 993)
    site = lab.web("example.test", "autoconfig.example.test")   # HTTPS 443 + HTTP 80
    site.route("autoconfig.example.test", "GET", "/mail/config-v1.1.xml", xml(CONFIG))
    lab.dns_spec, lab.ca_file                     # --dns / --ca-file for the product
    lab.close()

Every fake host name gets its own address from 127.0.1.1 on (``lab.host(name)``), so
each server can use the *standard* ports (143, 993, 110, 995, 587, 465, 25): binding
them needs root.  The addresses come from a process-wide allocator that skips addresses
somebody already listens on (/proc/net/tcp), so labs never collide.

Server-starting methods raise ``Unavailable`` when this machine cannot run the server
(Dovecot missing, not root...); give ``on_unavailable`` (the pytest fixtures pass
``support.require``) to turn that into a skip, or a failure on CI.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import dns.name

from .ca import CertFiles, LabCA
from .dns import DnsServer
from .dovecot import Dovecot
from .errors import Unavailable
from .hostile import Blackhole
from .smtp import SmtpServer
from .web import WebServer

__all__ = ["DEFAULT_USERS", "STANDARD_PORTS", "Lab", "allocate_ip"]

DEFAULT_USERS: Mapping[str, str] = {"user@example.test": "correct horse"}
STANDARD_PORTS: tuple[int, ...] = (993, 143, 995, 110, 465, 587, 25)
"""The mail ports the product guesses."""


class _Server(Protocol):
    def start(self) -> Any: ...
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Server)


def _listening_ips() -> set[str]:
    """IPv4 addresses with a listening TCP socket, from /proc/net/tcp."""
    found: set[str] = set()
    try:
        with open("/proc/net/tcp") as table:
            next(table, None)
            for line in table:
                fields = line.split()
                if len(fields) > 3 and fields[3] == "0A":
                    addr_hex = fields[1].split(":")[0]
                    found.add(str(ipaddress.IPv4Address(bytes.fromhex(addr_hex)[::-1])))
    except OSError:
        pass
    return found


class _IpAllocator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: int | None = None

    def __call__(self) -> str:
        with self._lock:
            if self._next is None:
                worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
                offset = int(worker) if worker.isdigit() else 0
                self._next = int(ipaddress.IPv4Address(f"127.{offset % 200}.1.1"))
            busy = _listening_ips()
            while True:
                candidate = ipaddress.IPv4Address(self._next)
                self._next += 1
                if candidate.packed[3] in (0, 255) or candidate.packed[2] == 0:
                    continue
                if not candidate.is_loopback:
                    raise RuntimeError("lab ran out of loopback addresses")
                if str(candidate) not in busy:
                    return str(candidate)


allocate_ip = _IpAllocator()
"""``allocate_ip()``: a fresh loopback address (127.0.1.1, 127.0.1.2, ...), never handed
out before in this process and with nothing listening on it.  pytest-xdist workers get
disjoint ranges."""


class Lab:
    """A CA, a DNS server and the servers started through it; ``close()`` stops them.

    ``dns``: give a running server to share it (the lab then only removes its own zones
    and clears faults at close), or leave None for a private one started here.
    """

    def __init__(
        self,
        ca: LabCA,
        dns: DnsServer | None = None,
        *,
        users: Mapping[str, str] = DEFAULT_USERS,
        on_unavailable: Callable[[Unavailable], object] | None = None,
    ) -> None:
        self.ca = ca
        self._owns_dns = dns is None
        self.dns = dns if dns is not None else DnsServer().start()
        self.users = dict(users)
        self.on_unavailable = on_unavailable
        self.hosts: dict[str, str] = {}
        """Host name (as given) -> IP, for names added with ``host()``."""
        self._zones: list[str] = []
        self._servers: list[_Server] = []

    # ------------------------------------------------------------------ product args
    @property
    def dns_spec(self) -> str:
        """``127.0.0.1:PORT`` for ``--dns``."""
        return self.dns.spec

    @property
    def ca_file(self) -> Path:
        """The lab CA certificate, for ``--ca-file``."""
        return self.ca.ca_pem

    # ------------------------------------------------------------------ DNS
    def zone(self, domain: str, records: str = "", *, ad: bool = False) -> None:
        """Serve (or replace) zone ``domain`` with master-file ``records``."""
        self.dns.add_zone(domain, records, ad=ad)
        if domain not in self._zones:
            self._zones.append(domain)

    def records(self, domain: str, text: str) -> None:
        """Add master-file ``text`` (relative to ``domain``) to the served zone
        ``domain``, creating the zone if needed."""
        if self.dns.zone_for(domain) != dns.name.from_text(domain).to_text():
            self.zone(domain)
        self.dns.add_records(domain, text)

    def host(self, name: str, ip: str | None = None) -> str:
        """The IP of fake host ``name``: a new one (A record added) unless ``name`` is
        already known and no ``ip`` is given.  A name outside every served zone gets a
        zone for its last two labels (``imap.example.test`` -> ``example.test``)."""
        known = self.hosts.get(name)
        if known is not None and ip in (None, known):
            return known
        ip = ip or allocate_ip()
        origin = self.dns.zone_for(name)
        if origin is None:
            labels = dns.name.from_text(name).labels
            origin = dns.name.Name(labels[-3:]).to_text()  # two labels + root
            self.zone(origin)
        absolute = dns.name.from_text(name).to_text()
        self.dns.add_records(origin, f"{absolute} A {ip}")
        self.hosts[name] = ip
        return ip

    def ip(self) -> str:
        """A fresh loopback address with no DNS name."""
        return allocate_ip()

    # ------------------------------------------------------------------ servers
    def cert(self, *names: str) -> CertFiles:
        """A certificate from the lab CA for ``names``."""
        return self.ca.issue(*names)

    def dovecot(
        self,
        *names: str,
        ip: str | None = None,
        cert: CertFiles | None = None,
        users: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Dovecot:
        """Start Dovecot for host ``names`` (all on one IP, the first name's, or
        ``ip``); default certificate: the lab CA's for ``names`` + the IP.  ``options``
        go to ``Dovecot`` (ports, ``ssl``, ``mechanisms``, ``oauth_token``...)."""
        ip = self._ip_for(names, ip)
        if cert is None and options.get("ssl") != "no":
            cert = self.ca.issue(*names, ip)
        options.setdefault("hostname", names[0] if names else None)
        server = Dovecot(ip, cert, self.users if users is None else users, **options)
        return self.serve(server)

    def smtp(
        self,
        *names: str,
        ip: str | None = None,
        cert: CertFiles | None = None,
        users: Mapping[str, str] | None = None,
        **options: Any,
    ) -> SmtpServer:
        """Start aiosmtpd for host ``names`` like ``dovecot()``; ``options`` go to
        ``SmtpServer`` (``submission``, ``submissions``, ``smtp``, ``extra_mechanisms``...)."""
        ip = self._ip_for(names, ip)
        if cert is None:
            cert = self.ca.issue(*names, ip)
        if names:
            options.setdefault("hostname", names[0])
        server = SmtpServer(ip, cert, self.users if users is None else users, **options)
        return self.serve(server)

    def web(
        self,
        *names: str,
        ip: str | None = None,
        cert: CertFiles | None = None,
        https_port: int | None = 443,
        http_port: int | None = 80,
        **options: Any,
    ) -> WebServer:
        """Start a ``WebServer`` (tests/lab/web.py) with virtual hosts ``names``, all on
        one IP (the first name's, or ``ip``); default certificate: the lab CA's for
        ``names`` + the IP.  If this lab already runs a web server on that IP with the
        same ports, ``names`` are added to it as vhosts (with ``cert``, or a new
        certificate for them) and it is returned.  ``options`` go to ``WebServer``
        (``max_body``, ``idle_timeout``).  A vhost with its own (bad) certificate:
        ``site.host("bad.example.test", cert=lab.ca.issue_expired("bad.example.test"))``.
        """
        ip = self._ip_for(names, ip)
        for running in self._servers:
            if (
                isinstance(running, WebServer)
                and running.ip == ip
                and (running.https_port, running.http_port) == (https_port, http_port)
            ):
                if cert is None and names and https_port is not None:
                    cert = self.ca.issue(*names, ip)
                for name in names:
                    running.host(name, cert)
                return running
        if cert is None and https_port is not None:
            cert = self.ca.issue(*names, ip)
        server = WebServer(ip, cert, https_port=https_port, http_port=http_port, **options)
        for name in names:
            server.host(name)
        return self.serve(server)

    def hostile(self, cls: Callable[..., S], name_or_ip: str, port: int, **options: Any) -> S:
        """Start ``cls(ip, port, **options)`` (a ``hostile`` server class) for host name
        or IP ``name_or_ip``."""
        try:
            ip = str(ipaddress.IPv4Address(name_or_ip))
        except ValueError:
            ip = self.host(name_or_ip)
        return self.serve(cls(ip, port, **options))

    def firewalled(
        self, name_or_ip: str, ports: tuple[int, ...] = STANDARD_PORTS
    ) -> list[Blackhole]:
        """A ``Blackhole`` on each of ``ports`` of host ``name_or_ip``: connect() to any
        of them hangs, like a host behind a dropping firewall."""
        return [self.hostile(Blackhole, name_or_ip, port) for port in ports]

    def serve(self, server: S) -> S:
        """Start ``server`` and stop it at ``close()``."""
        try:
            server.start()
        except Unavailable as exc:
            if self.on_unavailable is not None:
                self.on_unavailable(exc)
            raise
        self._servers.append(server)
        return server

    def _ip_for(self, names: tuple[str, ...], ip: str | None) -> str:
        if ip is None:
            ip = self.host(names[0]) if names else allocate_ip()
        for name in names:
            self.host(name, ip)
        return ip

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop every server started here, then remove this lab's zones (or stop the
        private DNS server)."""
        errors: list[BaseException] = []
        while self._servers:
            server = self._servers.pop()
            try:
                server.stop()
            except Exception as exc:  # stop the others anyway
                errors.append(exc)
        if self._owns_dns:
            self.dns.stop()
        else:
            for zone in self._zones:
                self.dns.remove_zone(zone)
            self.dns.clear_faults()
        self._zones.clear()
        self.hosts.clear()
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
