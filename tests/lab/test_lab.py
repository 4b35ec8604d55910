"""Tests of the lab itself, with the stdlib clients and dnspython."""

from __future__ import annotations

import base64
import imaplib
import poplib
import selectors
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from tests.lab.ca import CertFiles, LabCA
from tests.lab.dns import DnsServer
from tests.lab.dovecot import Dovecot
from tests.lab.errors import LabError, Unavailable
from tests.lab.hostile import (
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
from tests.lab.servers import DEFAULT_USERS, Lab, allocate_ip
from tests.lab.smtp import SmtpServer
from tests.lab.support import BLOCKED, require, returns

pytestmark = pytest.mark.lab

USER, PASSWORD = next(iter(DEFAULT_USERS.items()))

ZONE = """
@            MX    10 mail
@            TXT   "v=spf1 mx -all"
mail         A     127.0.1.250
imap         CNAME mail
alias        CNAME imap
outside      CNAME mail.elsewhere.invalid.
_imaps._tcp  SRV   0 1 993 mail
_submission._tcp SRV 0 1 587 mail
big          TXT   "{0}" "{0}"
big          TXT   "{1}" "{1}"
big          TXT   "{2}" "{2}"
""".format("a" * 200, "b" * 200, "c" * 200)


# --------------------------------------------------------------------------- DNS
@pytest.fixture
def dns_lab() -> Iterator[DnsServer]:
    with DnsServer() as server:
        server.add_zone("example.test", ZONE)
        yield server


def resolver(server: DnsServer) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [server.host]
    res.port = server.port
    res.lifetime = 2.0
    return res


def udp(
    server: DnsServer, name: str, rdtype: str, *, payload: int | None = None
) -> dns.message.Message:
    if payload is None:
        query = dns.message.make_query(name, rdtype)
    else:
        query = dns.message.make_query(name, rdtype, use_edns=0, payload=payload)
    return dns.query.udp(query, server.host, port=server.port, timeout=2)


def test_dns_server_spec_and_fast_start() -> None:
    with DnsServer() as server:
        assert server.spec == f"127.0.0.1:{server.port}"
        assert server.port > 0
        # Ready when start() returns: the first query is answered, no retry.
        assert udp(server, "nothing.test", "A").rcode() is not None


def test_dns_answers_mx_srv_txt(dns_lab: DnsServer) -> None:
    res = resolver(dns_lab)
    mx = res.resolve("example.test", "MX")
    assert [(r.preference, r.exchange.to_text()) for r in mx] == [(10, "mail.example.test.")]
    srv = res.resolve("_imaps._tcp.example.test", "SRV")
    assert [(r.port, r.target.to_text()) for r in srv] == [(993, "mail.example.test.")]
    txt = res.resolve("example.test", "TXT")
    assert b"".join(txt[0].strings) == b"v=spf1 mx -all"
    assert mx.response.flags & dns.flags.AA
    assert not mx.response.flags & dns.flags.AD


def test_dns_chases_cname_chain(dns_lab: DnsServer) -> None:
    answer = resolver(dns_lab).resolve("alias.example.test", "A")
    assert [r.address for r in answer] == ["127.0.1.250"]
    sections = [
        (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype))
        for rrset in answer.response.answer
    ]
    assert sections == [
        ("alias.example.test.", "CNAME"),
        ("imap.example.test.", "CNAME"),
        ("mail.example.test.", "A"),
    ]


def test_dns_cname_out_of_zone_is_left_to_the_client(dns_lab: DnsServer) -> None:
    response = udp(dns_lab, "outside.example.test", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert [dns.rdatatype.to_text(r.rdtype) for r in response.answer] == ["CNAME"]


def test_dns_nxdomain_with_soa(dns_lab: DnsServer) -> None:
    response = udp(dns_lab, "nope.example.test", "A")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert [dns.rdatatype.to_text(r.rdtype) for r in response.authority] == ["SOA"]
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver(dns_lab).resolve("nope.example.test", "A")


@pytest.mark.parametrize(
    ("name", "rdtype"),
    [("mail.example.test", "AAAA"), ("_tcp.example.test", "SRV"), ("example.test", "CNAME")],
)
def test_dns_nodata(dns_lab: DnsServer, name: str, rdtype: str) -> None:
    response = udp(dns_lab, name, rdtype)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert [dns.rdatatype.to_text(r.rdtype) for r in response.authority] == ["SOA"]
    with pytest.raises(dns.resolver.NoAnswer):
        resolver(dns_lab).resolve(name, rdtype)


def test_dns_refuses_names_outside_its_zones(dns_lab: DnsServer) -> None:
    response = udp(dns_lab, "gmail.com", "MX")
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.AA


def test_dns_truncates_big_udp_answers_and_tcp_completes(dns_lab: DnsServer) -> None:
    response = udp(dns_lab, "big.example.test", "TXT")
    assert response.flags & dns.flags.TC
    assert response.answer == []
    # A client announcing a big EDNS buffer gets it all over UDP.
    response = udp(dns_lab, "big.example.test", "TXT", payload=4096)
    assert not response.flags & dns.flags.TC
    assert len(response.answer[0]) == 3
    dns_lab.log.clear()
    answer = resolver(dns_lab).resolve("big.example.test", "TXT")
    assert len(answer) == 3
    assert [(e.rdtype, e.transport) for e in dns_lab.log] == [("TXT", "udp"), ("TXT", "tcp")]


def test_dns_tcp_directly(dns_lab: DnsServer) -> None:
    query = dns.message.make_query("mail.example.test", "A")
    response = dns.query.tcp(query, dns_lab.host, port=dns_lab.port, timeout=2)
    assert response.answer[0][0].address == "127.0.1.250"


def test_dns_ad_bit_per_zone(dns_lab: DnsServer) -> None:
    dns_lab.add_zone("signed.test", "@ MX 10 mx\nmx A 127.0.1.251", ad=True)
    assert resolver(dns_lab).resolve("signed.test", "MX").response.flags & dns.flags.AD
    assert udp(dns_lab, "nope.signed.test", "A").flags & dns.flags.AD
    assert not udp(dns_lab, "example.test", "MX").flags & dns.flags.AD


def test_dns_faults_drop_servfail_truncate(dns_lab: DnsServer) -> None:
    res = resolver(dns_lab)
    res.lifetime = 0.3
    dns_lab.drop("example.test", "MX")
    started = time.monotonic()
    with pytest.raises(dns.resolver.LifetimeTimeout):
        res.resolve("example.test", "MX")
    assert time.monotonic() - started >= 0.25  # a lower bound: load only lengthens it
    assert res.resolve("example.test", "TXT")  # only MX is dropped

    dns_lab.servfail("example.test", subtree=True)
    assert udp(dns_lab, "mail.example.test", "A").rcode() == dns.rcode.SERVFAIL
    dns_lab.clear_faults()

    dns_lab.truncate("mail.example.test")
    assert udp(dns_lab, "mail.example.test", "A").flags & dns.flags.TC
    assert res.resolve("mail.example.test", "A")[0].address == "127.0.1.250"


def test_dns_idn_zone(dns_lab: DnsServer) -> None:
    dns_lab.add_zone("bücher.test", "@ MX 10 mail\nmail A 127.0.1.252\nimap CNAME mail")
    assert dns_lab.zone_for("imap.xn--bcher-kva.test") == "xn--bcher-kva.test."
    res = resolver(dns_lab)
    assert res.resolve("xn--bcher-kva.test", "MX")[0].exchange.to_text() == (
        "mail.xn--bcher-kva.test."
    )
    assert res.resolve("imap.bücher.test", "A")[0].address == "127.0.1.252"


def test_dns_zone_changes_at_runtime(dns_lab: DnsServer) -> None:
    res = resolver(dns_lab)
    dns_lab.add_records("example.test", "mail A 127.0.1.253\nnew AAAA ::1")
    assert sorted(r.address for r in res.resolve("mail.example.test", "A")) == [
        "127.0.1.250",
        "127.0.1.253",
    ]
    assert res.resolve("new.example.test", "AAAA")[0].address == "::1"
    dns_lab.add_zone("example.test", "@ MX 20 other")  # replaces the whole zone
    with pytest.raises(dns.resolver.NXDOMAIN):
        res.resolve("mail.example.test", "A")
    dns_lab.remove_zone("example.test")
    assert udp(dns_lab, "example.test", "MX").rcode() == dns.rcode.REFUSED


# --------------------------------------------------------------------------- CA
@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("good", None),
        ("wrong_name", "Hostname mismatch"),
        ("expired", "certificate has expired"),
        ("not_yet_valid", "certificate is not yet valid"),
        ("untrusted", "unable to get local issuer certificate"),
        ("self_signed", "self-signed certificate"),
    ],
)
def test_ca_certificates_seen_by_a_validating_client(
    lab_ca: LabCA, kind: str, error: str | None
) -> None:
    name = "tls.example.test"
    cert: CertFiles = {
        "good": lambda: lab_ca.issue(name),
        "wrong_name": lambda: lab_ca.issue("other.example.test"),
        "expired": lambda: lab_ca.issue_expired(name),
        "not_yet_valid": lambda: lab_ca.issue_not_yet_valid(name),
        "untrusted": lambda: lab_ca.issue_untrusted(name),
        "self_signed": lambda: lab_ca.issue_self_signed(name),
    }[kind]()
    for path in (cert.cert_pem, cert.key_pem, cert.chain_pem, cert.combined_pem):
        assert path.read_bytes().startswith(b"-----BEGIN")
    with TlsBanner("127.0.0.1", 0, cert) as server:
        raw = socket.create_connection(server.address, timeout=2)
        if error is None:
            with lab_ca.client_context().wrap_socket(raw, server_hostname=name) as tls:
                assert tls.recv(100).startswith(b"* OK")
            assert server.handshakes == 1
        else:
            with raw, pytest.raises(ssl.SSLCertVerificationError, match=error):
                lab_ca.client_context().wrap_socket(raw, server_hostname=name)


# --------------------------------------------------------------------------- Dovecot
def test_dovecot_imap_143_starttls(dovecot_server: Dovecot, lab_ca: LabCA) -> None:
    imap = imaplib.IMAP4(dovecot_server.ip, 143, timeout=5)
    try:
        assert "STARTTLS" in imap.capabilities
        assert "LOGINDISABLED" in imap.capabilities  # not 127.0.0.1: not "secured"
        imap.starttls(lab_ca.client_context())
        assert "LOGINDISABLED" not in imap.capabilities
        assert {"AUTH=PLAIN", "AUTH=LOGIN"} <= set(imap.capabilities)
        assert imap.login(USER, PASSWORD)[0] == "OK"
    finally:
        imap.logout()


def test_dovecot_imaps_993_validates_by_name(dovecot_server: Dovecot, lab_ca: LabCA) -> None:
    raw = socket.create_connection((dovecot_server.ip, 993), timeout=5)
    ctx = lab_ca.client_context()
    with ctx.wrap_socket(raw, server_hostname="imap.example.test") as tls:
        assert tls.recv(200).startswith(b"* OK [CAPABILITY IMAP4rev1")
    imap = imaplib.IMAP4_SSL(dovecot_server.ip, 993, ssl_context=ctx, timeout=5)
    try:
        assert "AUTH=PLAIN" in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login(USER, "wrong password")
        assert imap.login(USER, PASSWORD)[0] == "OK"
    finally:
        imap.logout()


def test_dovecot_pop3_110_stls_and_995(dovecot_server: Dovecot, lab_ca: LabCA) -> None:
    ctx = lab_ca.client_context()
    pop = poplib.POP3(dovecot_server.ip, 110, timeout=5)
    try:
        capa = pop.capa()
        assert "STLS" in capa
        assert "USER" not in capa  # plaintext auth disabled before TLS
        pop.stls(ctx)
        assert "USER" in pop.capa()
        pop.user(USER)
        assert pop.pass_(PASSWORD).startswith(b"+OK")
    finally:
        pop.quit()
    pops = poplib.POP3_SSL(dovecot_server.ip, 995, context=ctx, timeout=5)
    try:
        assert pops.capa()["SASL"] == ["PLAIN", "LOGIN"]
        pops.user(USER)
        assert pops.pass_(PASSWORD).startswith(b"+OK")
    finally:
        pops.quit()


def test_dovecot_options_ssl_required_oauth_and_ports(lab: Lab) -> None:
    server = lab.dovecot(
        "imap.oauth.test", ssl="required", pop3=None, pop3s=None, oauth_token="token-123"
    )
    assert server.open_ports == [143, 993]
    with socket.socket() as probe:
        assert probe.connect_ex((server.ip, 110)) != 0  # POP3 not served
    imap = imaplib.IMAP4_SSL(server.ip, 993, ssl_context=lab.ca.client_context(), timeout=5)
    try:
        assert {"AUTH=XOAUTH2", "AUTH=OAUTHBEARER"} <= set(imap.capabilities)
        blob = f"user={USER}\x01auth=Bearer token-123\x01\x01".encode()
        assert imap.authenticate("XOAUTH2", lambda _: blob)[0] == "OK"
    finally:
        imap.logout()


def test_dovecot_bad_config_fails_with_the_log_tail(lab: Lab) -> None:
    server = Dovecot(
        lab.ip(), lab.cert("bad.example.test"), DEFAULT_USERS, extra_config="no_such_setting = 1"
    )
    with pytest.raises(LabError, match="Dovecot exited") as failure:
        lab.serve(server)
    assert "no_such_setting" in str(failure.value)
    assert server.workdir is None  # cleaned up


# --------------------------------------------------------------------------- SMTP
def test_smtp_587_starttls_then_auth(smtp_server: SmtpServer, lab_ca: LabCA) -> None:
    with smtplib.SMTP(smtp_server.ip, 587, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        assert client.mail(USER)[0] == 530  # STARTTLS first
        client.starttls(context=lab_ca.client_context())
        client.ehlo()
        assert client.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]
        with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
            client.login(USER, "wrong password")
        assert failure.value.smtp_code == 535
        assert [a.success for a in smtp_server.auth_attempts if a.login == USER][-1] is False
        assert client.login(USER, PASSWORD)[0] == 235
        client.sendmail(USER, ["bob@example.test"], b"Subject: hi\r\n\r\nhello\r\n")
    assert smtp_server.messages[-1].rcpt_tos == ("bob@example.test",)
    assert smtp_server.messages[-1].login == USER


def test_smtp_465_implicit_tls_auth(smtp_server: SmtpServer, lab_ca: LabCA) -> None:
    ctx = lab_ca.client_context()
    with smtplib.SMTP_SSL(smtp_server.ip, 465, context=ctx, timeout=5) as client:
        client.ehlo()
        assert "PLAIN" in client.esmtp_features["auth"]
        assert client.mail(USER)[0] == 530  # AUTH first
        client.rset()
        assert client.login(USER, PASSWORD)[0] == 235


def test_smtp_extra_mechanisms_and_port_25(lab: Lab) -> None:
    server = lab.smtp(
        "mx.extra.test",
        submission=None,
        smtp=25,
        extra_mechanisms=["XOAUTH2", "CRAM-MD5"],
        oauth_token="token-123",
    )
    ctx = lab.ca.client_context()
    with smtplib.SMTP_SSL(server.ip, 465, context=ctx, timeout=5) as client:
        client.ehlo()
        assert client.esmtp_features["auth"].split() == ["CRAM-MD5", "LOGIN", "PLAIN", "XOAUTH2"]
        bad = base64.b64encode(f"user={USER}\x01auth=Bearer nope\x01\x01".encode()).decode()
        assert client.docmd("AUTH", f"XOAUTH2 {bad}")[0] == 334  # JSON error challenge
        assert client.docmd("")[0] == 535
        good = base64.b64encode(f"user={USER}\x01auth=Bearer token-123\x01\x01".encode()).decode()
        assert client.docmd("AUTH", f"XOAUTH2 {good}")[0] == 235
    with smtplib.SMTP(server.ip, 25, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert client.mail(USER)[0] == 250  # MX: STARTTLS offered, not required
    with socket.socket() as probe:
        assert probe.connect_ex((server.ip, 587)) != 0


# --------------------------------------------------------------------------- hostile
def connect(server: HostileServer, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(server.address, timeout=timeout)


def test_blackhole_connect_times_out() -> None:
    with Blackhole(allocate_ip(), 993) as hole:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            socket.create_connection(hole.address, timeout=0.5).close()
        assert time.monotonic() - started >= 0.45  # a lower bound: load only lengthens it


def test_lab_firewalled_host(lab: Lab) -> None:
    holes = lab.firewalled("mail.fw.test", ports=(993, 587))
    ip = lab.hosts["mail.fw.test"]
    for port in (993, 587):
        with socket.socket() as client:
            client.setblocking(False)
            client.connect_ex((ip, port))
            with selectors.DefaultSelector() as sel:
                sel.register(client, selectors.EVENT_WRITE)
                assert sel.select(timeout=0.1) == []  # no SYN-ACK: still connecting
    assert [hole.port for hole in holes] == [993, 587]


def test_silent_says_nothing() -> None:
    with Silent() as server, connect(server, timeout=0.3) as client:
        with pytest.raises(TimeoutError):
            client.recv(10)
        assert server.accepted == 1


def read_all(client: socket.socket) -> bytes:
    data = b""
    while chunk := client.recv(4096):
        data += chunk
    return data


def test_garbage_sends_binary_then_closes() -> None:
    with Garbage(size=300) as server, connect(server) as client:
        data = read_all(client)
        assert data == server.payload
        assert data.startswith(b"\x00\xff")
        assert b"\n" not in data


def test_endless_greeting_has_no_newline() -> None:
    with EndlessGreeting() as server, connect(server) as client:
        data = b""
        while len(data) < 1_000_000:
            data += client.recv(65536)
        assert data.startswith(b"* OK xxx")
        assert b"\n" not in data


def test_endless_lines() -> None:
    with EndlessLines(prefix="220-") as server, connect(server) as client:
        data = b""
        while data.count(b"\r\n") < 1000:
            data += client.recv(65536)
        assert all(line.startswith(b"220-line ") for line in data.split(b"\r\n")[:1000])


def test_slow_drip() -> None:
    with SlowDrip(greeting=b"* OK hello\r\n", interval=0.05) as server, connect(server) as client:
        time.sleep(0.12)
        client.settimeout(0.01)
        got = client.recv(100)
        assert 1 <= len(got) <= 4
        assert b"* OK hello\r\n".startswith(got)


def connect_and_read(server: HostileServer) -> bytes:
    with connect(server) as client:
        time.sleep(0.05)
        return read_all(client)


@pytest.mark.parametrize("greeting", [b"", b"* OK hi\r\n"])
def test_reset(greeting: bytes) -> None:
    with Reset(greeting=greeting) as server:
        # The RST may even come before connect() returns: both are "reset by peer".
        with pytest.raises(ConnectionResetError):
            connect_and_read(server)
        assert server.accepted == 1


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("junk", ssl.SSLError),
        ("alert", ssl.SSLError),
        # A server that closes during the handshake: Python 3.11.2 (Debian 12's
        # python3) raises SSLZeroReturnError where later 3.11 releases raise
        # SSLEOFError; both say "the peer went away", which is what the lab shows.
        ("close", (ssl.SSLEOFError, ssl.SSLZeroReturnError)),
        ("reset", ConnectionResetError),
    ],
)
def test_bad_tls(
    lab_ca: LabCA,
    mode: Literal["junk", "alert", "close", "reset"],
    error: type[Exception] | tuple[type[Exception], ...],
) -> None:
    with BadTLS(mode=mode) as server, connect(server) as raw:
        with pytest.raises(error) as failure:
            lab_ca.client_context().wrap_socket(raw, server_hostname="imap.example.test")
        if mode == "junk":
            assert "WRONG_VERSION_NUMBER" in str(failure.value)
        if mode == "alert":
            assert "HANDSHAKE_FAILURE" in str(failure.value)
        assert server.client_hellos[0][:2] == b"\x16\x03"  # a TLS handshake record


def test_wrong_protocol() -> None:
    with WrongProtocol(greeting=WrongProtocol.SMTP) as server, connect(server) as client:
        assert client.recv(100) == WrongProtocol.SMTP
        client.sendall(b"a1 CAPABILITY\r\n")
        assert client.recv(100).startswith(b"502 ")
    assert server.received == [b"a1 CAPABILITY"]
    imap_port = WrongProtocol(greeting=WrongProtocol.SMTP)
    with imap_port, pytest.raises(imaplib.IMAP4.error):
        imaplib.IMAP4(imap_port.ip, imap_port.port, timeout=2)


def test_hostile_servers_stop_promptly_with_clients_attached() -> None:
    servers = [
        EndlessGreeting().start(),
        EndlessLines().start(),
        Silent().start(),
        SlowDrip(interval=BLOCKED).start(),
    ]
    clients = [connect(server) for server in servers]
    time.sleep(0.05)

    def stop_all() -> None:
        for server in servers:
            server.stop()

    # A stop() that waited for the drip's next byte would take BLOCKED (600) s.
    assert returns(stop_all)
    for client in clients:
        client.close()


# --------------------------------------------------------------------------- lab
def test_lab_hosts_zones_and_cleanup(lab: Lab) -> None:
    lab.zone("world.test", "@ MX 10 mail")
    mail_ip = lab.host("mail.world.test")
    assert lab.host("mail.world.test") == mail_ip
    other_ip = lab.host("imap.other.test")  # zone other.test created on the fly
    assert mail_ip != other_ip
    assert mail_ip.startswith("127.")
    assert not mail_ip.startswith("127.0.0.")
    lab.records("world.test", "_imaps._tcp SRV 0 1 993 mail")
    res = resolver(lab.dns)
    assert res.resolve("mail.world.test", "A")[0].address == mail_ip
    assert res.resolve("imap.other.test", "A")[0].address == other_ip
    assert res.resolve("_imaps._tcp.world.test", "SRV")[0].port == 993
    assert lab.dns_spec == lab.dns.spec
    assert lab.ca_file.exists()

    hole = lab.hostile(Silent, "mail.world.test", 143)
    assert hole.address == (mail_ip, 143)
    smtp = lab.smtp("mail.world.test", submissions=None)  # same host, same IP
    assert smtp.ip == mail_ip
    lab.close()
    with socket.socket() as probe:
        assert probe.connect_ex((mail_ip, 143)) != 0


def test_unavailable_when_port_taken() -> None:
    with Silent() as first:
        second = Silent(first.ip, first.port)
        with pytest.raises(Unavailable, match="already in use"):
            second.start()


def test_require_skips_locally_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    require(True, "fine")
    require(None, "fine")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Dovecot missing: boom"):
        require(Unavailable("boom"), "Dovecot missing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required on CI"):
        require(False, "Dovecot missing")
