"""Tests of the lab web server (tests/lab/web.py) with httpx, as the product calls it,
and with http.client for plain HTTP."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.resolver
import httpx
import pytest
from cryptography import x509

from tests.lab.ca import CertFiles, LabCA
from tests.lab.errors import LabError, Unavailable
from tests.lab.servers import Lab
from tests.lab.support import BLOCKED, returns
from tests.lab.web import (
    Request,
    Response,
    WebServer,
    chunked,
    html,
    huge,
    json_response,
    redirect,
    slow,
    unauthorized,
    xml,
)

pytestmark = pytest.mark.lab

CONFIG = '<clientConfig version="1.1"><emailProvider id="example.test"/></clientConfig>'
AUTODISCOVER = (
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
    'requestschema/2006"><Request><EMailAddress>user@example.test</EMailAddress>'
    "</Request></Autodiscover>"
)
CHALLENGES = (
    'Bearer authorization_uri="https://login.example.test/common/oauth2/authorize"',
    "Negotiate",
    "NTLM",
    'Basic realm="example.test"',
)


def client(ca_file: Path) -> httpx.Client:
    """An httpx client trusting only the lab CA (what the product's --ca-file does)."""
    return httpx.Client(verify=ssl.create_default_context(cafile=str(ca_file)), timeout=5)


def fetch(
    lab: Lab,
    site: WebServer,
    name: str,
    path: str = "/",
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    sni: str | None = None,
    content: bytes | str | Iterator[bytes] | None = None,
    data: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 5,
) -> httpx.Response:
    """``method https://name/path`` the way the product does it: connect to the IP,
    SNI and Host = ``name``; on a fresh client (httpx pools by IP, see web.py)."""
    with client(lab.ca_file) as http:
        return http.request(
            method,
            f"https://{site.ip}{path}",
            headers={"Host": name, **(headers or {})},
            extensions={"sni_hostname": sni or name},
            content=content,
            data=data,
            auth=auth,
            timeout=timeout,
        )


def plain(
    site: WebServer,
    name: str,
    path: str = "/",
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(site.ip, site.http_port, timeout=5)
    try:
        conn.request(method, path, body=body, headers={"Host": name, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def peer_names(site: WebServer, ca: LabCA, sni: str | None) -> list[str]:
    """The DNS names of the certificate the server presents for ``sni`` (validated
    against the lab CA, but not against a name)."""
    ctx = ca.client_context()
    ctx.check_hostname = False
    assert site.https_port is not None
    with (
        socket.create_connection((site.ip, site.https_port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    san = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    return san.value.get_values_for_type(x509.DNSName)


def wait_for(condition: Callable[[], bool], timeout: float = 2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def local(lab_ca: LabCA) -> Iterator[WebServer]:
    """A bare WebServer on 127.0.0.1, free ports (stop() is idempotent)."""
    cert = lab_ca.issue("local.test", "127.0.0.1")
    with WebServer("127.0.0.1", cert, https_port=0, http_port=0) as site:
        yield site


# --------------------------------------------------------------------------- vhosts
def test_vhosts_route_by_host_header(lab: Lab) -> None:
    site = lab.web("example.test", "autoconfig.example.test")
    site.route("autoconfig.example.test", "GET", "/mail/config-v1.1.xml", xml(CONFIG))
    site.route("example.test", "GET", "/mail/config-v1.1.xml", html("apex"))
    site.route("example.test", "GET", "/plain", html("over http"), scheme="http")

    assert lab.hosts["example.test"] == lab.hosts["autoconfig.example.test"] == site.ip
    res = dns.resolver.Resolver(configure=False)
    res.nameservers, res.port = [lab.dns.host], lab.dns.port
    assert res.resolve("autoconfig.example.test", "A")[0].address == site.ip

    r = fetch(lab, site, "autoconfig.example.test", "/mail/config-v1.1.xml")
    assert (r.status_code, r.text) == (200, CONFIG)
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    assert fetch(lab, site, "example.test", "/mail/config-v1.1.xml").text == "apex"
    # A Host header with a port, in upper case, with a trailing dot: same vhost.
    r = fetch(
        lab,
        site,
        "autoconfig.example.test",
        "/mail/config-v1.1.xml",
        headers={"Host": "AutoConfig.Example.Test.:443"},
    )
    assert r.text == CONFIG

    assert plain(site, "example.test", "/plain")[::2] == (200, b"over http")
    assert plain(site, "autoconfig.example.test", "/mail/config-v1.1.xml")[0] == 404  # https only
    assert fetch(lab, site, "example.test", "/plain").status_code == 404  # http only

    seen = [(q.scheme, q.host, q.sni, q.path) for q in site.requests]
    assert seen[:2] == [
        ("https", "autoconfig.example.test", "autoconfig.example.test", "/mail/config-v1.1.xml"),
        ("https", "example.test", "example.test", "/mail/config-v1.1.xml"),
    ]
    assert ("http", "example.test", None, "/plain") in seen


def test_sni_picks_the_certificate(lab: Lab) -> None:
    site = lab.web("one.example.test")
    site.host("two.example.test", cert=lab.cert("two.example.test"))
    site.host("bad.example.test", cert=lab.ca.issue_expired("bad.example.test"))
    site.fallback(None, html("hello"))

    assert peer_names(site, lab.ca, "one.example.test") == ["one.example.test"]
    assert peer_names(site, lab.ca, "two.example.test") == ["two.example.test"]
    assert peer_names(site, lab.ca, "unknown.example.test") == ["one.example.test"]  # default
    assert peer_names(site, lab.ca, None) == ["one.example.test"]  # no SNI: default

    assert fetch(lab, site, "one.example.test").text == "hello"
    assert fetch(lab, site, "two.example.test").text == "hello"
    before = len(site.requests)
    with pytest.raises(httpx.ConnectError, match="certificate has expired"):
        fetch(lab, site, "bad.example.test")
    assert len(site.requests) == before  # the client hung up during the handshake
    wait_for(lambda: len(site.handshakes) == 7)  # the server sees the alert a bit later
    assert {(h.sni, h.ok) for h in site.handshakes} == {
        ("one.example.test", True),
        ("two.example.test", True),
        ("unknown.example.test", True),
        (None, True),
        ("bad.example.test", False),
    }
    bad = next(h for h in site.handshakes if not h.ok)
    assert "certificate expired" in bad.error
    # The name is checked too: Host "two" asked with SNI "one" gets one's certificate,
    # checked against "one": fine; any other SNI gets the default one: mismatch.
    assert fetch(lab, site, "two.example.test", sni="one.example.test").text == "hello"
    assert site.requests[-1].host == "two.example.test"
    assert site.requests[-1].sni == "one.example.test"
    with pytest.raises(httpx.ConnectError, match="Hostname mismatch"):
        fetch(lab, site, "two.example.test", sni="nope.example.test")


def test_httpx_pools_connections_by_ip_not_by_sni(lab: Lab) -> None:
    """Pins an httpx behaviour the product must work around (see web.py)."""
    site = lab.web("a.example.test", "b.example.test")
    site.fallback(None, html("x"))
    with client(lab.ca_file) as http:
        for name in ("a.example.test", "b.example.test"):
            http.get(
                f"https://{site.ip}/", headers={"Host": name}, extensions={"sni_hostname": name}
            )
    assert [h.sni for h in site.handshakes] == ["a.example.test"]  # b reused a's connection
    assert [q.sni for q in site.requests] == ["a.example.test", "a.example.test"]
    with client(lab.ca_file) as http:
        for name in ("a.example.test", "b.example.test"):
            http.get(
                f"https://{site.ip}/",
                headers={"Host": name, "Connection": "close"},
                extensions={"sni_hostname": name},
            )
    assert [h.sni for h in site.handshakes[1:]] == ["a.example.test", "b.example.test"]


def test_lab_web_shares_ips_between_vhosts(lab: Lab) -> None:
    site = lab.web("example.test")
    assert lab.web("example.test") is site  # same name: same server
    same = lab.web("autodiscover.example.test", ip=site.ip)
    assert same is site  # a new vhost, with its own certificate
    assert peer_names(site, lab.ca, "autodiscover.example.test") == ["autodiscover.example.test"]
    other = lab.web("www.example.test")
    assert other is not site
    assert other.ip != site.ip
    assert lab.host("imap.example.test") not in (site.ip, other.ip)
    assert set(site.vhosts) == {"example.test", "autodiscover.example.test"}
    http_only = lab.web("legacy.example.test", https_port=None)
    assert (http_only.https_port, http_only.http_port) == (None, 80)
    http_only.fallback(None, html("old"))
    assert plain(http_only, "legacy.example.test")[2] == b"old"


# --------------------------------------------------------------------------- answers
def test_404_405_and_head(lab: Lab) -> None:
    site = lab.web("example.test")
    site.route("example.test", "POST", "/autodiscover/autodiscover.xml", xml("<x/>"))
    site.route("example.test", "GET", "/page", html("body"))
    assert fetch(lab, site, "example.test", "/nothing").status_code == 404
    r = fetch(lab, site, "example.test", "/page", headers={"Host": "other.test"})
    assert r.status_code == 404  # unknown host
    r = fetch(lab, site, "example.test", "/autodiscover/autodiscover.xml")
    assert (r.status_code, r.headers["allow"]) == (405, "POST")
    r = fetch(lab, site, "example.test", "/page", method="HEAD")
    assert (r.status_code, r.headers["content-length"], r.content) == (200, "4", b"")


def test_redirect(lab: Lab) -> None:
    site = lab.web("autodiscover.example.test")
    target = "https://autodiscover.example.test/autodiscover/autodiscover.xml"
    site.route("autodiscover.example.test", "GET", "/autodiscover/autodiscover.xml",
               redirect(target), scheme="http")  # fmt: skip
    site.route("autodiscover.example.test", "GET", "/old", redirect("/new", 301))
    status, headers, _ = plain(site, "autodiscover.example.test", "/autodiscover/autodiscover.xml")
    assert (status, headers["Location"]) == (302, target)
    r = fetch(lab, site, "autodiscover.example.test", "/old")
    assert (r.status_code, r.headers["location"]) == (301, "/new")
    assert r.is_redirect


def test_401_with_several_challenges(lab: Lab) -> None:
    site = lab.web("mail.example.test")
    site.route("mail.example.test", "GET", "/EWS/Exchange.asmx", unauthorized(*CHALLENGES),
               scheme="both")  # fmt: skip
    site.route("mail.example.test", "OPTIONS", "/Microsoft-Server-ActiveSync",
               unauthorized('Basic realm="mail.example.test"'))  # fmt: skip
    r = fetch(lab, site, "mail.example.test", "/EWS/Exchange.asmx")
    assert r.status_code == 401
    assert r.headers.get_list("www-authenticate") == list(CHALLENGES)
    status, headers, _ = plain(site, "mail.example.test", "/EWS/Exchange.asmx")
    assert (status, headers.get_all("WWW-Authenticate")) == (401, list(CHALLENGES))
    r = fetch(lab, site, "mail.example.test", "/Microsoft-Server-ActiveSync", method="OPTIONS")
    assert r.status_code == 401


def test_post_body_query_and_dynamic_answers(lab: Lab) -> None:
    site = lab.web("example.test", "autoconfig.example.test", max_body=4096)

    def echo(request: Request) -> Response:
        return json_response({"address": request.param("emailaddress"), "n": len(request.body)})

    site.route("example.test", "POST", "/autodiscover/autodiscover.xml", echo)
    site.route("autoconfig.example.test", "GET", "/mail/config-v1.1.xml", echo)

    r = fetch(lab, site, "example.test", "/autodiscover/autodiscover.xml", method="POST",
              content=AUTODISCOVER, headers={"Content-Type": "text/xml"})  # fmt: skip
    assert r.json() == {"address": None, "n": len(AUTODISCOVER)}
    posted = site.requests[-1]
    assert (posted.method, posted.body) == ("POST", AUTODISCOVER.encode())
    assert posted.header("content-type") == "text/xml"

    path = "/mail/config-v1.1.xml?emailaddress=user%40example.test"
    assert fetch(lab, site, "autoconfig.example.test", path).json()["address"] == (
        "user@example.test"
    )
    asked = site.requests[-1]
    assert (asked.path, asked.raw_query) == (
        "/mail/config-v1.1.xml",
        "emailaddress=user%40example.test",
    )
    assert asked.query == {"emailaddress": ["user@example.test"]}
    assert asked.contains("user@example.test")
    assert not any(q.contains("correct horse") for q in site.requests)

    # Credentials are found wherever they hide: Basic header, form body, query.
    fetch(lab, site, "example.test", "/x", auth=("user", "correct horse"))
    fetch(lab, site, "example.test", "/x", method="POST", data={"password": "correct horse"})
    fetch(lab, site, "example.test", "/x?pw=correct+horse")
    assert [q.contains("correct horse") for q in site.requests[-3:]] == [True, True, True]

    # A chunked request body (httpx sends an iterator that way), and one too big.
    r = fetch(lab, site, "example.test", "/autodiscover/autodiscover.xml", method="POST",
              content=iter([b"<a>", b"</a>"]))  # fmt: skip
    assert r.json()["n"] == 7
    assert site.requests[-1].body == b"<a></a>"
    r = fetch(lab, site, "example.test", "/autodiscover/autodiscover.xml", method="POST",
              content=b"x" * 50_000)  # fmt: skip
    assert r.status_code == 413
    assert site.requests[-1].body == b"x" * 4096  # recorded, cut at max_body
    r = fetch(lab, site, "example.test", "/autodiscover/autodiscover.xml", method="POST",
              content=iter([b"y" * 3000] * 3))  # fmt: skip
    assert r.status_code == 413
    assert site.requests[-1].body == b"y" * 4096


def test_fallback_answers_every_unrouted_path(lab: Lab) -> None:
    site = lab.web("example.test", "parked.example.test")
    site.route("example.test", "GET", "/real", html("real"))
    site.fallback("parked.example.test", html("<h1>This domain is parked</h1>"))
    r = fetch(lab, site, "parked.example.test", "/autodiscover/autodiscover.xml", method="POST")
    assert (r.status_code, r.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert "parked" in r.text
    assert plain(site, "parked.example.test", "/.well-known/autoconfig/x")[0] == 200
    assert fetch(lab, site, "example.test", "/nope").status_code == 404  # other vhost
    site.fallback(None, html("anything", status=200))
    assert fetch(lab, site, "example.test", "/nope").text == "anything"
    assert fetch(lab, site, "example.test", "/real").text == "real"  # routes win


# --------------------------------------------------------------------------- bodies
def test_huge_body_partial_read_then_hang_up(lab: Lab) -> None:
    site = lab.web("big.example.test")
    # 1 TiB: only a server that generates the body as the client reads can
    # answer at all (one that built it first would fail with MemoryError).
    site.route("big.example.test", "GET", "/chunked", huge(1 << 40))
    site.route("big.example.test", "GET", "/announced", huge(1 << 40, announce=True))
    for path in ("/chunked", "/announced"):
        with (
            client(lab.ca_file) as http,
            http.stream(
                "GET",
                f"https://{site.ip}{path}",
                headers={"Host": "big.example.test"},
                extensions={"sni_hostname": "big.example.test"},
            ) as r,
        ):
            if path == "/announced":
                assert r.headers["content-length"] == str(1 << 40)
            else:
                assert r.headers["transfer-encoding"] == "chunked"
            got = 0
            for piece in r.iter_raw():
                got += len(piece)
                if got >= 1 << 20:
                    break
        assert got >= 1 << 20
    assert fetch(lab, site, "big.example.test", "/chunked", method="HEAD").content == b""
    site.route("big.example.test", "GET", "/small", huge(100_000, fill=b"ab"))
    r = fetch(lab, site, "big.example.test", "/small")
    assert r.content == b"ab" * 50_000
    assert site.errors == []


def test_slow_and_chunked_bodies_and_delayed_headers(lab: Lab) -> None:
    site = lab.web("slow.example.test")
    site.route("slow.example.test", "GET", "/drip", slow("abc", interval=0.2))
    site.route("slow.example.test", "GET", "/parts", chunked("<a>", "<b/>", "</a>"))
    site.route("slow.example.test", "GET", "/late", Response(200, "late", delay=3))
    with (
        client(lab.ca_file) as http,
        http.stream(
            "GET",
            f"https://{site.ip}/drip",
            headers={"Host": "slow.example.test"},
            extensions={"sni_hostname": "slow.example.test"},
        ) as r,
    ):
        first = time.monotonic()
        assert r.read() == b"abc"
    # Two waits of 0.2 s between the three bytes; a lower bound: load only lengthens it.
    assert time.monotonic() - first >= 0.35
    assert fetch(lab, site, "slow.example.test", "/parts").text == "<a><b/></a>"
    with pytest.raises(httpx.ReadTimeout):
        fetch(lab, site, "slow.example.test", "/late", timeout=0.3)


# --------------------------------------------------------------------------- lifecycle
def test_stop_is_prompt_with_clients_attached(local: WebServer) -> None:
    local.route("local.test", "GET", "/", html("hi"), scheme="both")
    local.route("local.test", "GET", "/huge", huge(1 << 30), scheme="http")
    local.route("local.test", "GET", "/drip", slow("x" * 100, interval=BLOCKED), scheme="http")
    local.route("local.test", "GET", "/late", Response(200, delay=BLOCKED), scheme="http")
    assert local.http_port is not None
    assert local.https_port is not None
    # An idle keep-alive connection after one answer.
    keep = http.client.HTTPConnection(local.ip, local.http_port, timeout=5)
    keep.request("GET", "/", headers={"Host": "local.test"})
    assert keep.getresponse().read() == b"hi"
    # A TLS client that never sends its ClientHello; requests stuck mid-answer.
    clients = [socket.create_connection((local.ip, local.https_port), timeout=5)]
    for path in ("/huge", "/drip", "/late"):
        sock = socket.create_connection((local.ip, local.http_port), timeout=5)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: local.test\r\n\r\n".encode())
        clients.append(sock)
    wait_for(lambda: len(local.requests) == 4)
    threads_before = threading.active_count()
    # A stop() that waited for the drip or the late answer would take BLOCKED (600) s.
    assert returns(local.stop)
    assert threading.active_count() <= threads_before - 6  # 2 listeners + 4 connections
    for sock in clients:
        sock.close()
    keep.close()
    with socket.socket() as probe:
        assert probe.connect_ex((local.ip, local.http_port)) != 0


def test_handler_error_answers_500_and_fails_stop(local: WebServer) -> None:
    def broken(request: Request) -> Response:
        raise ZeroDivisionError("boom")

    local.route("local.test", "GET", "/", broken, scheme="http")
    assert plain(local, "local.test")[0] == 500
    assert isinstance(local.errors[0], ZeroDivisionError)
    with pytest.raises(LabError, match="boom"):
        local.stop()


def test_unavailable_when_port_taken(lab_ca: LabCA) -> None:
    cert: CertFiles = lab_ca.issue("local.test")
    with WebServer("127.0.0.1", cert, https_port=0, http_port=None) as first:
        second = WebServer("127.0.0.1", cert, https_port=None, http_port=first.https_port)
        with pytest.raises(Unavailable, match="already in use"):
            second.start()
    with pytest.raises(LabError, match="needs a certificate"):
        WebServer("127.0.0.1", https_port=0, http_port=None).start()
