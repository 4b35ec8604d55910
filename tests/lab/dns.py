"""An in-process authoritative DNS server for tests (dnspython, UDP and TCP, loopback).

    server = DnsServer().start()          # 127.0.0.1, ephemeral port, ~1 ms
    server.add_zone("example.test", '''
        @        MX  10 mail
        mail     A   127.0.1.1
        imap     CNAME mail
        _imaps._tcp SRV 0 1 993 mail
    ''')
    server.spec                           # "127.0.0.1:PORT" for --dns
    server.stop()

Zone text is ordinary master-file text relative to the origin; ``$TTL 300`` is implied
and a SOA and NS record are added at the apex when the text has none.

Answers: NOERROR with the records (CNAMEs inside the served zones are chased and both
the CNAME and the target records are returned); NXDOMAIN (SOA in authority) for a
missing name inside a zone; NOERROR/NODATA (SOA in authority) when the name exists
(also as an empty non-terminal, e.g. ``_tcp.example.test``) without that type; REFUSED
outside every zone.  UDP answers larger than 512 bytes (or the client's EDNS payload,
or ``max_udp_size``) are sent empty with TC set, so clients retry over TCP.  Flags:
QR, AA, RA (when RD was asked) and AD for zones added with ``ad=True`` (set whether or
not the query asked for it, like a lenient validating resolver).

Faults, per name (``subtree=True``: the name and every name below it; ``rdtype``: only
queries of that type): ``drop`` (never answer: a timeout), ``servfail`` and
``truncate`` (always TC over UDP).  ``clear_faults()`` removes them.  ``log`` records
every query as ``QueryLogEntry(name, rdtype, transport)``.  Wildcards and delegations
are not implemented.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from dataclasses import dataclass
from typing import Literal, Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

__all__ = ["DnsServer", "QueryLogEntry"]

FaultAction = Literal["drop", "servfail", "truncate"]

_DEFAULT_TTL = 300
_MAX_CNAME_CHAIN = 8
_MAX_TCP_CONNECTIONS = 64


@dataclass(frozen=True)
class QueryLogEntry:
    """One query seen by the server: ``name`` in presentation form (punycode, with a
    trailing dot), ``rdtype`` as text ("A", "SRV"...), ``transport`` "udp" or "tcp"."""

    name: str
    rdtype: str
    transport: Literal["udp", "tcp"]


@dataclass(frozen=True)
class _Fault:
    name: dns.name.Name
    action: FaultAction
    rdtype: dns.rdatatype.RdataType | None
    subtree: bool

    def matches(self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType) -> bool:
        if self.rdtype is not None and self.rdtype != qtype:
            return False
        return qname.is_subdomain(self.name) if self.subtree else qname == self.name


@dataclass
class _Zone:
    zone: dns.zone.Zone
    ad: bool


def _name(text: str | dns.name.Name) -> dns.name.Name:
    if isinstance(text, dns.name.Name):
        return text
    return dns.name.from_text(text)  # Unicode labels become xn-- (IDNA 2008 or 2003)


class DnsServer:
    """Authoritative DNS server on ``host`` (UDP and TCP, same port) in one thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._requested = (host, port)
        self.host = host
        self.port = 0
        self.max_udp_size: int | None = None
        """Cap for UDP answers besides 512/EDNS payload (e.g. 100 forces TC often)."""
        self.log: list[QueryLogEntry] = []
        self._zones: dict[dns.name.Name, _Zone] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def spec(self) -> str:
        """``"HOST:PORT"``, the form the product takes with ``--dns``."""
        return f"{self.host}:{self.port}"

    def start(self) -> Self:
        host, port = self._requested
        # Port 0: the kernel picks a free TCP port; UDP may hold that number already,
        # so try again a few times.
        for attempt in range(20):
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((host, port))
                udp.bind((host, tcp.getsockname()[1]))
                tcp.listen(16)
                break
            except OSError:
                udp.close()
                tcp.close()
                if port != 0 or attempt == 19:
                    raise
        port = tcp.getsockname()[1]
        udp.setblocking(False)
        tcp.setblocking(False)
        self._udp, self._tcp = udp, tcp
        self._wake_r, self._wake_w = socket.socketpair()
        self.port = port
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name=f"lab-dns-{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, join the thread and close every socket.  Idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        thread.join(timeout=5)
        if thread.is_alive():  # pragma: no cover - would be a bug
            raise RuntimeError("DNS server thread did not stop")
        self._thread = None
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = self._wake_r = self._wake_w = None

    def __enter__(self) -> Self:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ zones
    def add_zone(self, origin: str, text: str = "", *, ad: bool = False) -> None:
        """Serve (or replace) the zone ``origin`` built from master-file ``text``."""
        origin_name = _name(origin)
        zone = self._parse(origin_name, text)
        apex = zone.find_node(origin_name, create=True)
        if apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.SOA) is None:
            soa = dns.rrset.from_text(
                origin_name,
                _DEFAULT_TTL,
                "IN",
                "SOA",
                f"ns.{origin_name} hostmaster.{origin_name} 1 3600 600 86400 60",
            )
            apex.replace_rdataset(soa.to_rdataset())
        if apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is None:
            ns = dns.rrset.from_text(origin_name, _DEFAULT_TTL, "IN", "NS", f"ns.{origin_name}")
            apex.replace_rdataset(ns.to_rdataset())
        with self._lock:
            self._zones[origin_name] = _Zone(zone, ad)

    def add_records(self, origin: str, text: str) -> None:
        """Add master-file ``text`` (relative to ``origin``) to a served zone; records
        merge into existing RRsets."""
        origin_name = _name(origin)
        extra = self._parse(origin_name, text)
        with self._lock:
            entry = self._zones.get(origin_name)
            if entry is None:
                raise KeyError(f"zone {origin_name} is not served; add_zone() it first")
            for name, node in extra.nodes.items():
                target = entry.zone.find_node(name, create=True)
                for rdataset in node.rdatasets:
                    existing = target.get_rdataset(rdataset.rdclass, rdataset.rdtype)
                    if existing is None:
                        target.replace_rdataset(rdataset)
                    else:
                        for rdata in rdataset:
                            existing.add(rdata, rdataset.ttl)

    def remove_zone(self, origin: str) -> None:
        with self._lock:
            self._zones.pop(_name(origin), None)

    def set_ad(self, origin: str, ad: bool) -> None:
        with self._lock:
            self._zones[_name(origin)].ad = ad

    def zone_for(self, name: str) -> str | None:
        """The origin (text, trailing dot) of the served zone holding ``name``, if any."""
        with self._lock:
            found = self._find_zone(_name(name))
        return None if found is None else found[0].to_text()

    @property
    def zones(self) -> list[str]:
        with self._lock:
            return [origin.to_text() for origin in self._zones]

    @staticmethod
    def _parse(origin: dns.name.Name, text: str) -> dns.zone.Zone:
        # A leading blank means "same owner as the previous line" in master files, so
        # only the indentation common to all lines is removed.
        body = _dedent(text)
        return dns.zone.from_text(
            f"$TTL {_DEFAULT_TTL}\n{body}\n",
            origin=origin,
            relativize=False,
            check_origin=False,
        )

    # ------------------------------------------------------------------ faults
    def drop(self, name: str, rdtype: str | None = None, *, subtree: bool = False) -> None:
        """Never answer queries for ``name`` (the client times out)."""
        self._add_fault(name, "drop", rdtype, subtree)

    def servfail(self, name: str, rdtype: str | None = None, *, subtree: bool = False) -> None:
        """Answer SERVFAIL for ``name``."""
        self._add_fault(name, "servfail", rdtype, subtree)

    def truncate(self, name: str, rdtype: str | None = None, *, subtree: bool = False) -> None:
        """Always answer ``name`` over UDP with an empty TC response (TCP answers)."""
        self._add_fault(name, "truncate", rdtype, subtree)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(self, name: str, action: FaultAction, rdtype: str | None, subtree: bool) -> None:
        fault = _Fault(
            _name(name),
            action,
            None if rdtype is None else dns.rdatatype.from_text(rdtype),
            subtree,
        )
        with self._lock:
            self._faults.append(fault)

    # ------------------------------------------------------------------ serving
    def _serve(self) -> None:
        assert self._udp is not None
        assert self._tcp is not None
        assert self._wake_r is not None
        buffers: dict[socket.socket, bytearray] = {}
        with selectors.DefaultSelector() as sel:
            sel.register(self._udp, selectors.EVENT_READ, "udp")
            sel.register(self._tcp, selectors.EVENT_READ, "accept")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            try:
                while not self._stopping:
                    for key, _ in sel.select():
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        if key.data == "wake":
                            self._stopping = True
                        elif key.data == "udp":
                            self._on_udp(sock)
                        elif key.data == "accept":
                            self._on_accept(sock, sel, buffers)
                        else:
                            self._on_tcp(sock, sel, buffers)
            finally:
                for conn in buffers:
                    sel.unregister(conn)
                    conn.close()

    def _on_udp(self, sock: socket.socket) -> None:
        try:
            wire, peer = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        reply = self._handle(wire, "udp")
        if reply is not None:
            with contextlib.suppress(OSError):
                sock.sendto(reply, peer)

    def _on_accept(
        self,
        sock: socket.socket,
        sel: selectors.BaseSelector,
        buffers: dict[socket.socket, bytearray],
    ) -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        if len(buffers) >= _MAX_TCP_CONNECTIONS:
            conn.close()
            return
        conn.setblocking(False)
        buffers[conn] = bytearray()
        sel.register(conn, selectors.EVENT_READ, "tcp")

    def _on_tcp(
        self,
        conn: socket.socket,
        sel: selectors.BaseSelector,
        buffers: dict[socket.socket, bytearray],
    ) -> None:
        try:
            data = conn.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            sel.unregister(conn)
            buffers.pop(conn, None)
            conn.close()
            return
        buf = buffers[conn]
        buf += data
        while len(buf) >= 2:
            size = int.from_bytes(buf[:2], "big")
            if len(buf) < 2 + size:
                break
            wire = bytes(buf[2 : 2 + size])
            del buf[: 2 + size]
            reply = self._handle(wire, "tcp")
            if reply is not None:
                try:
                    conn.setblocking(True)
                    conn.settimeout(2.0)
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
                    conn.setblocking(False)
                except OSError:
                    sel.unregister(conn)
                    buffers.pop(conn, None)
                    conn.close()
                    return

    # ------------------------------------------------------------------ answering
    def _handle(self, wire: bytes, transport: Literal["udp", "tcp"]) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return self._formerr(wire)
        if not query.question:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        qname, qtype = question.name, dns.rdatatype.RdataType(question.rdtype)
        self.log.append(QueryLogEntry(qname.to_text(), dns.rdatatype.to_text(qtype), transport))

        response = dns.message.make_response(
            query, recursion_available=bool(query.flags & dns.flags.RD)
        )
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response.to_wire()

        with self._lock:
            faults = [f for f in self._faults if f.matches(qname, qtype)]
            actions = {f.action for f in faults}
            if "drop" in actions:
                return None
            if "servfail" in actions:
                response.set_rcode(dns.rcode.SERVFAIL)
                return response.to_wire()
            if "truncate" in actions and transport == "udp":
                response.flags |= dns.flags.TC
                return response.to_wire()
            self._answer(response, qname, qtype, question.rdclass)

        if transport == "tcp":
            return response.to_wire(max_size=65535)
        limit = 512 if query.edns < 0 else max(512, query.payload)
        if self.max_udp_size is not None:
            limit = min(limit, self.max_udp_size)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            short = dns.message.make_response(
                query, recursion_available=bool(query.flags & dns.flags.RD)
            )
            short.flags = response.flags | dns.flags.TC
            short.set_rcode(response.rcode())
            return short.to_wire()

    def _find_zone(self, name: dns.name.Name) -> tuple[dns.name.Name, _Zone] | None:
        """The closest enclosing zone: walk up the name's labels (a dict lookup each),
        so a lab with thousands of zones answers as fast as one with a few."""
        candidate = name
        while True:
            entry = self._zones.get(candidate)
            if entry is not None:
                return candidate, entry
            if candidate in (dns.name.root, dns.name.empty):
                return None
            candidate = candidate.parent()

    def _answer(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        qtype: dns.rdatatype.RdataType,
        qclass: int,
    ) -> None:
        found = self._find_zone(qname)
        if found is None or qclass not in (dns.rdataclass.IN, dns.rdataclass.ANY):
            response.set_rcode(dns.rcode.REFUSED)
            return
        response.flags |= dns.flags.AA
        name = qname
        all_ad = True
        for _ in range(_MAX_CNAME_CHAIN):
            found = self._find_zone(name)
            if found is None:
                break  # CNAME target outside our zones: the client follows it itself
            origin, entry = found
            all_ad = all_ad and entry.ad
            zone = entry.zone
            node = zone.get_node(name)
            if node is None:
                if not any(n.is_subdomain(name) for n in zone.nodes):
                    response.set_rcode(dns.rcode.NXDOMAIN)
                self._add_soa(response, origin, zone)
                break
            if qtype == dns.rdatatype.ANY:
                for rdataset in node.rdatasets:
                    response.answer.append(_rrset(name, rdataset))
                if not node.rdatasets:
                    self._add_soa(response, origin, zone)
                break
            rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
            if rdataset is not None:
                response.answer.append(_rrset(name, rdataset))
                break
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is not None:
                response.answer.append(_rrset(name, cname))
                name = next(iter(cname)).target
                continue
            self._add_soa(response, origin, zone)  # NODATA
            break
        if all_ad:
            response.flags |= dns.flags.AD

    @staticmethod
    def _add_soa(response: dns.message.Message, origin: dns.name.Name, zone: dns.zone.Zone) -> None:
        soa = zone.get_rdataset(origin, dns.rdatatype.SOA)
        if soa is not None:
            response.authority.append(_rrset(origin, soa))

    @staticmethod
    def _formerr(wire: bytes) -> bytes | None:
        if len(wire) < 12:
            return None
        # Echo the ID, set QR and FORMERR; no question section.
        flags = int.from_bytes(wire[2:4], "big") | 0x8000
        flags = (flags & ~0x000F) | dns.rcode.FORMERR
        return wire[:2] + flags.to_bytes(2, "big") + b"\x00" * 8


def _rrset(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))


def _dedent(text: str) -> str:
    lines = text.splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines)
