"""advisor.net.http against real HTTPS/HTTP servers on loopback (tests/lab/web.py).

Every host name is served by the lab DNS server, so these tests also prove that
no lookup goes to the system resolver: the ``.test`` names exist nowhere else.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import ssl
import threading
import time
from typing import Any

import pytest

from advisor.net.http import MAX_HOPS, FetchStatus, HttpClient, HttpResult
from advisor.net.resolver import DnsClient, parse_nameservers
from tests.lab.hostile import Garbage
from tests.lab.servers import Lab
from tests.lab.web import Request, Response, WebServer, huge, redirect, slow, unauthorized

pytestmark = pytest.mark.lab


def make_client(lab: Lab) -> HttpClient:
    dns = DnsClient(parse_nameservers([lab.dns_spec]))
    return HttpClient(dns, lab.ca.client_context())


def get(client: HttpClient, url: str, *, budget: float = 5.0, **kwargs: Any) -> HttpResult:
    return client.request("GET", url, deadline=time.monotonic() + budget, timeout=3.0, **kwargs)


def echo(request: Request) -> Response:
    """Which vhost answered, which SNI it saw, and the method and body it got."""
    text = f"{request.host}|{request.sni}|{request.method}|{request.body.decode()}"
    return Response(200, text, {"Content-Type": "text/plain"})


@pytest.fixture
def site(lab: Lab) -> WebServer:
    """Two vhosts on one IP, each with its own certificate (only its own name)."""
    site = lab.web("one.example.test")
    lab.web("two.example.test", ip=site.ip, cert=lab.cert("two.example.test"))
    site.host("one.example.test", cert=lab.cert("one.example.test"))
    for name in ("one.example.test", "two.example.test"):
        site.fallback(name, echo)
    return site


# ---------------------------------------------------------------- names and TLS


def test_vhosts_on_one_ip_are_reached_by_name_with_their_own_certificate(
    lab: Lab, site: WebServer
) -> None:
    client = make_client(lab)
    for name in ("one.example.test", "two.example.test"):
        result = client.request(
            "GET", f"https://{name}/x", deadline=time.monotonic() + 5, timeout=3
        )
        assert result.status is FetchStatus.OK, result.detail
        assert result.body == f"{name}|{name}|GET|".encode()
        assert result.trusted
        assert result.address == site.ip
        assert result.hops[0].secure
    # Each request had its own handshake, with its own SNI: nothing was pooled.
    assert [h.sni for h in site.handshakes if h.ok] == ["one.example.test", "two.example.test"]


def test_no_connection_is_reused_across_names_even_concurrently(lab: Lab, site: WebServer) -> None:
    client = make_client(lab)
    names = ["one.example.test", "two.example.test"] * 4
    results: dict[int, bytes] = {}

    def fetch(i: int, name: str) -> None:
        r = client.request("GET", f"https://{name}/p", deadline=time.monotonic() + 5, timeout=3)
        results[i] = r.body

    threads = [threading.Thread(target=fetch, args=(i, n)) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: f"{n}|{n}|GET|".encode() for i, n in enumerate(names)}
    assert len([h for h in site.handshakes if h.ok]) == len(names)
    assert all(r.sni == r.host for r in site.requests)


@pytest.mark.parametrize(
    ("issue", "words"),
    [
        ("wrong-name", "not valid for the name bad.example.test"),
        ("expired", "has expired"),
        ("untrusted", "unknown authority"),
        ("self-signed", "self-signed"),
    ],
)
def test_certificate_failures_are_cert_invalid_and_no_request_is_sent(
    lab: Lab, site: WebServer, issue: str, words: str
) -> None:
    name = "bad.example.test"
    cert = {
        "wrong-name": lambda: lab.cert("other.example.test"),
        "expired": lambda: lab.ca.issue_expired(name),
        "untrusted": lambda: lab.ca.issue_untrusted(name),
        "self-signed": lambda: lab.ca.issue_self_signed(name),
    }[issue]()
    lab.web(name, ip=site.ip, cert=cert)
    site.fallback(name, echo)
    result = get(make_client(lab), f"https://{name}/secret?token=1")
    assert result.status is FetchStatus.CERT_INVALID
    assert words in result.detail
    assert not result.trusted
    assert result.http_status is None
    assert result.body == b""
    assert not [r for r in site.requests if r.host == name]


def test_plain_http_works_and_is_not_trusted(lab: Lab) -> None:
    site = lab.web("plain.example.test", https_port=None)
    site.fallback(None, echo)
    result = get(make_client(lab), "http://plain.example.test/a")
    assert result.status is FetchStatus.OK
    assert result.body == b"plain.example.test|None|GET|"
    assert not result.trusted
    assert result.hops[0].secure is False


def test_ipv6_address_first_then_ipv4_when_v6_refuses(lab: Lab) -> None:
    site = lab.web("dual.example.test")
    site.fallback(None, echo)
    lab.records("example.test", "dual AAAA ::1")  # nothing of ours listens on [::1]:443
    result = get(make_client(lab), "https://dual.example.test/")
    assert result.status is FetchStatus.OK, result.detail
    assert result.address == site.ip


def test_dns_nxdomain_is_dns_error(lab: Lab) -> None:
    lab.zone("example.test")
    result = get(make_client(lab), "https://missing.example.test/")
    assert result.status is FetchStatus.DNS_ERROR
    assert "NXDOMAIN" in result.detail
    assert result.hops[0].status is None


def test_refused_connection_is_connect_error(lab: Lab) -> None:
    lab.host("closed.example.test")  # an address where nothing listens
    result = get(make_client(lab), "https://closed.example.test/")
    assert result.status is FetchStatus.CONNECT_ERROR
    assert "refused" in result.detail


def test_the_shared_tls_context_is_left_without_alpn(lab: Lab, site: WebServer) -> None:
    """httpcore sets ALPN http/1.1 on the context it gets: it must not reach mail probes."""
    context = lab.ca.client_context()
    client = HttpClient(DnsClient(parse_nameservers([lab.dns_spec])), context)
    assert client.request(
        "GET", "https://one.example.test/", deadline=time.monotonic() + 5, timeout=3
    ).ok
    server_context = lab.cert("imap.example.test").server_context()
    server_context.set_alpn_protocols(["imap", "http/1.1"])
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    tls_client = context.wrap_bio(c_in, c_out, server_hostname="imap.example.test")
    tls_server = server_context.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side, out, peer_in in ((tls_client, c_out, s_in), (tls_server, s_out, c_in)):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            peer_in.write(out.read())
    assert tls_client.version() is not None
    assert tls_client.selected_alpn_protocol() is None


# ---------------------------------------------------------------- redirects


def test_redirect_chain_is_followed_by_hand_with_each_hop_verified(
    lab: Lab, site: WebServer
) -> None:
    site.route("one.example.test", "GET", "/start", redirect("https://two.example.test/next"))
    site.route("two.example.test", "GET", "/next", redirect("/final", status=301))
    result = get(make_client(lab), "https://one.example.test/start")
    assert result.status is FetchStatus.OK
    assert result.url == "https://two.example.test/final"
    assert result.body == b"two.example.test|two.example.test|GET|"
    assert [(h.url, h.status, h.secure) for h in result.hops] == [
        ("https://one.example.test/start", 302, True),
        ("https://two.example.test/next", 301, True),
        ("https://two.example.test/final", 200, True),
    ]
    assert result.trusted
    # The second name got its own handshake (SNI two.example.test), not the first one's.
    assert [h.sni for h in site.handshakes if h.ok] == [
        "one.example.test",
        "two.example.test",
        "two.example.test",
    ]


def test_redirect_to_a_name_with_a_bad_certificate_stops_there(lab: Lab, site: WebServer) -> None:
    lab.web("bad.example.test", ip=site.ip, cert=lab.ca.issue_expired("bad.example.test"))
    site.route("one.example.test", "GET", "/", redirect("https://bad.example.test/"))
    result = get(make_client(lab), "https://one.example.test/")
    assert result.status is FetchStatus.CERT_INVALID
    assert [h.secure for h in result.hops] == [True, False]
    assert not result.trusted


def test_https_to_http_downgrade_is_visible_as_untrusted(lab: Lab, site: WebServer) -> None:
    plain = lab.web("plain.example.test", https_port=None)
    plain.fallback(None, echo)
    site.route("one.example.test", "GET", "/", redirect("http://plain.example.test/x"))
    result = get(make_client(lab), "https://one.example.test/")
    assert result.status is FetchStatus.OK
    assert [h.secure for h in result.hops] == [True, False]
    assert not result.trusted


def test_redirect_loop_is_refused(lab: Lab, site: WebServer) -> None:
    site.route("one.example.test", "GET", "/a", redirect("https://two.example.test/b"))
    site.route("two.example.test", "GET", "/b", redirect("https://one.example.test/a"))
    result = get(make_client(lab), "https://one.example.test/a")
    assert result.status is FetchStatus.REDIRECT_REFUSED
    assert result.detail.startswith("redirect loop:")
    assert len(result.hops) == 2
    assert result.http_status == 302
    assert result.header("location") == "https://one.example.test/a"


def test_more_than_max_hops_is_refused(lab: Lab, site: WebServer) -> None:
    for i in range(MAX_HOPS + 2):
        site.route("one.example.test", "GET", f"/{i}", redirect(f"/{i + 1}"))
    result = get(make_client(lab), "https://one.example.test/0")
    assert result.status is FetchStatus.REDIRECT_REFUSED
    assert "too many redirects" in result.detail
    assert len(result.hops) == MAX_HOPS
    assert len(site.requests) == MAX_HOPS


def test_redirect_check_may_refuse_a_hop(lab: Lab, site: WebServer) -> None:
    site.route("one.example.test", "GET", "/", redirect("https://two.example.test/"))
    seen: list[tuple[str, str]] = []

    def check(from_url: str, to_url: str) -> str | None:
        seen.append((from_url, to_url))
        return "another host: refused"

    result = get(make_client(lab), "https://one.example.test/", redirect_check=check)
    assert result.status is FetchStatus.REDIRECT_REFUSED
    assert result.detail == "another host: refused"
    assert seen == [("https://one.example.test/", "https://two.example.test/")]
    assert not [r for r in site.requests if r.host == "two.example.test"]


def test_redirect_to_another_scheme_is_refused(lab: Lab, site: WebServer) -> None:
    site.route("one.example.test", "GET", "/", redirect("ftp://one.example.test/file"))
    result = get(make_client(lab), "https://one.example.test/")
    assert result.status is FetchStatus.REDIRECT_REFUSED
    assert "not an http(s) URL" in result.detail


def test_without_follow_the_redirect_itself_is_the_answer(lab: Lab, site: WebServer) -> None:
    site.route("one.example.test", "GET", "/", redirect("https://two.example.test/"))
    result = get(make_client(lab), "https://one.example.test/", follow_redirects=False)
    assert result.status is FetchStatus.OK
    assert result.http_status == 302
    assert result.header("Location") == "https://two.example.test/"


@pytest.mark.parametrize(
    ("status", "keep", "method", "body"),
    [
        (302, True, "POST", "<x/>"),  # Autodiscover: re-POST after a 302
        (302, False, "GET", ""),  # browsers: POST then 302 becomes GET
        (307, False, "POST", "<x/>"),  # 307 always keeps method and body
        (303, True, "GET", ""),  # 303 always becomes GET
    ],
)
def test_post_redirect_method_rules(
    lab: Lab, site: WebServer, status: int, keep: bool, method: str, body: str
) -> None:
    site.route("one.example.test", "POST", "/ad", redirect("https://two.example.test/ad", status))
    result = make_client(lab).request(
        "POST",
        "https://one.example.test/ad",
        deadline=time.monotonic() + 5,
        timeout=3,
        headers={"Content-Type": "text/xml"},
        content=b"<x/>",
        keep_method=keep,
    )
    assert result.body == f"two.example.test|two.example.test|{method}|{body}".encode()
    final = site.requests[-1]
    assert (final.header("content-type") is not None) == (method == "POST")


# ---------------------------------------------------------------- bodies and time


def test_repeated_headers_are_kept(lab: Lab, site: WebServer) -> None:
    site.route(
        "one.example.test", "GET", "/ews", unauthorized("Negotiate", "NTLM", "Basic realm=x")
    )
    result = get(make_client(lab), "https://one.example.test/ews")
    assert result.status is FetchStatus.OK
    assert result.http_status == 401
    assert result.headers_named("WWW-Authenticate") == ["Negotiate", "NTLM", "Basic realm=x"]
    assert result.header("www-authenticate") == "Negotiate"
    assert all(name == name.lower() for name, _ in result.headers)


@pytest.mark.parametrize("announce", [True, False])
def test_huge_body_is_too_large(lab: Lab, site: WebServer, announce: bool) -> None:
    site.route("one.example.test", "GET", "/big", huge(3 * 1024 * 1024, announce=announce))
    result = get(make_client(lab), "https://one.example.test/big")
    assert result.status is FetchStatus.TOO_LARGE
    assert "body larger than 1 MiB" in result.detail
    assert result.body == b""


def test_gzip_bomb_is_too_large_without_inflating_it(lab: Lab, site: WebServer) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KB
    site.route("one.example.test", "GET", "/z", Response(200, bomb, {"Content-Encoding": "gzip"}))
    result = get(make_client(lab), "https://one.example.test/z")
    assert result.status is FetchStatus.TOO_LARGE


def test_gzip_body_is_decoded(lab: Lab, site: WebServer) -> None:
    data = gzip.compress(b"<ok/>")
    site.route("one.example.test", "GET", "/z", Response(200, data, {"Content-Encoding": "gzip"}))
    result = get(make_client(lab), "https://one.example.test/z")
    assert result.status is FetchStatus.OK
    assert result.body == b"<ok/>"


def test_small_max_body(lab: Lab, site: WebServer) -> None:
    result = get(make_client(lab), "https://one.example.test/q", max_body=10)
    assert result.status is FetchStatus.TOO_LARGE
    assert "10 bytes" in result.detail


def test_dripping_body_times_out_at_the_deadline(lab: Lab, site: WebServer) -> None:
    site.route("one.example.test", "GET", "/slow", slow("x" * 200, interval=0.1))
    # 200 bytes at 0.1 s each take 20 s: ignoring the 1 s budget ends in OK.
    result = get(make_client(lab), "https://one.example.test/slow", budget=1.0)
    assert result.status is FetchStatus.TIMEOUT
    assert "by the deadline" in result.detail
    assert result.body == b""


def test_silent_server_times_out_at_the_deadline_not_after_the_timeout(
    lab: Lab, site: WebServer
) -> None:
    """Headers after 5 s, timeout 30 s, budget 0.5 s: the deadline wins.

    A client that waited for its per-operation timeout would get the answer
    (OK); only one that stops at the deadline reports TIMEOUT."""
    site.route("one.example.test", "GET", "/late", Response(200, "late", delay=5.0))
    result = make_client(lab).request(
        "GET", "https://one.example.test/late", deadline=time.monotonic() + 0.5, timeout=30
    )
    assert result.status is FetchStatus.TIMEOUT
    assert result.http_status is None


def test_per_operation_timeout_applies_within_a_longer_budget(lab: Lab, site: WebServer) -> None:
    """Headers after 5 s, budget 30 s, timeout 0.5 s: a client that only watched
    the deadline would get the answer (OK)."""
    site.route("one.example.test", "GET", "/late", Response(200, "late", delay=5.0))
    result = make_client(lab).request(
        "GET", "https://one.example.test/late", deadline=time.monotonic() + 30, timeout=0.5
    )
    assert result.status is FetchStatus.TIMEOUT
    assert "no answer in time" in result.detail


def test_cancel_abandons_a_request_at_once(lab: Lab, site: WebServer) -> None:
    # The server answers after 5 s, the budget and timeout are 60 s: a client
    # that noticed the flag only after the answer would report OK.
    site.route("one.example.test", "GET", "/late", Response(200, "late", delay=5.0))
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    result = make_client(lab).request(
        "GET",
        "https://one.example.test/late",
        deadline=time.monotonic() + 60,
        timeout=60,
        cancel=cancel,
    )
    timer.join()
    assert result.status is FetchStatus.CANCELLED
    assert result.http_status is None


def test_no_time_left_is_a_timeout_without_io(lab: Lab) -> None:
    result = make_client(lab).request(
        "GET", "https://one.example.test/", deadline=time.monotonic() - 1, timeout=3
    )
    assert result.status is FetchStatus.TIMEOUT
    assert lab.dns.log == []


def test_invalid_url_is_a_result_not_an_exception(lab: Lab) -> None:
    result = get(make_client(lab), "mailto:someone@example.test")
    assert result.status is FetchStatus.PROTOCOL_ERROR


def test_garbage_instead_of_http_is_protocol_error(lab: Lab) -> None:
    server = lab.hostile(Garbage, "junk.example.test", 80)
    result = get(make_client(lab), f"http://junk.example.test:{server.port}/")
    assert result.status is FetchStatus.PROTOCOL_ERROR


def test_nothing_is_logged_or_printed(
    lab: Lab,
    site: WebServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    get(make_client(lab), "https://one.example.test/")
    assert not [r for r in caplog.records if r.name.split(".")[0] in ("httpx", "httpcore")]
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""
