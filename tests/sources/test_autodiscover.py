"""The Microsoft sources (advisor.sources.autodiscover) against lab web servers and DNS.

Each test builds a small world: DNS zones in the lab server, HTTPS/HTTP virtual
hosts on their own loopback addresses (tests/lab/web.py) with certificates from
the lab CA, and Microsoft's v2 service played by a lab host whose URL is given
as ``v2_url``. Nothing leaves the machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest

from advisor.address import parse_address
from advisor.models import Endpoint, Protocol, Security, Source, StepStatus
from advisor.net.http import HttpClient
from advisor.net.resolver import DnsClient, parse_nameservers
from advisor.sources import SourceResult
from advisor.sources.autodiscover import autodiscover
from tests.lab.servers import Lab
from tests.lab.support import BLOCKED, returns
from tests.lab.web import (
    Request,
    Response,
    WebServer,
    html,
    json_response,
    redirect,
    unauthorized,
    xml,
)

pytestmark = pytest.mark.lab

POX = "/autodiscover/autodiscover.xml"
V2_HOST = "outlook.office365.test"
V2_URL = f"https://{V2_HOST}/autodiscover/autodiscover.json"
OUTER = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
INNER = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
REQUEST_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"


def account(body: str) -> Response:
    return xml(
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{OUTER}">'
        f'<Response xmlns="{INNER}"><Account><AccountType>email</AccountType>{body}'
        "</Account></Response></Autodiscover>"
    )


def settings(host: str, *, ews: str | None = None, login: str | None = None) -> Response:
    ews_block = (
        f"<Protocol><Type>EXPR</Type><Server>{host}</Server><SSL>On</SSL>"
        f"<EwsUrl>{ews}</EwsUrl>"
        f"<ASUrl>{ews.replace('/EWS/Exchange.asmx', '/Microsoft-Server-ActiveSync')}</ASUrl>"
        "</Protocol>"
        if ews
        else ""
    )
    login_block = f"<LoginName>{login}</LoginName>" if login else ""
    return account(
        "<Action>settings</Action>"
        + ews_block
        + f"<Protocol><Type>IMAP</Type><Server>{host}</Server><Port>993</Port>"
        f"<SSL>on</SSL><SPA>off</SPA>{login_block}</Protocol>"
        f"<Protocol><Type>SMTP</Type><Server>{host}</Server><Port>587</Port>"
        f"<Encryption>TLS</Encryption><SPA>off</SPA>{login_block}</Protocol>"
    )


def redirect_addr(address: str) -> Response:
    return account(f"<Action>redirectAddr</Action><RedirectAddr>{address}</RedirectAddr>")


def redirect_url(url: str) -> Response:
    return account(f"<Action>redirectUrl</Action><RedirectUrl>{url}</RedirectUrl>")


def run(lab: Lab, address: str, *, budget: float = 8.0, **kwargs: object) -> SourceResult:
    dns = DnsClient(parse_nameservers([lab.dns_spec]))
    http = HttpClient(dns, lab.ca.client_context())
    options: dict[str, object] = {"v2_url": V2_URL, "send_to_microsoft": False, **kwargs}
    return autodiscover(
        parse_address(address),
        dns=dns,
        http=http,
        deadline=time.monotonic() + budget,
        **options,  # type: ignore[arg-type]
    )


def step(result: SourceResult, target: str) -> tuple[StepStatus, str]:
    found = [s for s in result.steps if s.target == target]
    assert len(found) == 1, [s.target for s in result.steps]
    return found[0].status, found[0].detail


def requests(sites: Iterable[WebServer]) -> list[Request]:
    return [r for site in sites for r in site.requests]


def posts(site: WebServer) -> int:
    return len([r for r in site.requests if r.method == "POST"])


def assert_no_credentials(sites: Iterable[WebServer]) -> None:
    for request in requests(sites):
        assert request.header("authorization") is None
        assert request.header("cookie") is None


# ------------------------------------------------------------------ on-premises


def test_on_premises_exchange_settings_and_ews_challenges(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("autodiscover.example.test", "mail.example.test")
    site.route(
        "autodiscover.example.test",
        "POST",
        POX,
        settings(
            "mail.example.test",
            ews="https://mail.example.test/EWS/Exchange.asmx",
            login="CORP\\jane",
        ),
    )
    site.route("mail.example.test", "GET", "/EWS/Exchange.asmx", unauthorized("Negotiate", "NTLM"))
    site.route(
        "mail.example.test",
        "OPTIONS",
        "/Microsoft-Server-ActiveSync",
        unauthorized("Negotiate", "NTLM", 'Basic realm="mail.example.test"'),
    )
    result = run(lab, "jane@example.test")

    assert result.source is Source.AUTODISCOVER
    assert result.trusted
    assert result.origin == f"https://autodiscover.example.test{POX}"
    assert [(s.endpoint, s.username, s.auth) for s in result.servers] == [
        (
            Endpoint(Protocol.IMAP, "mail.example.test", 993, Security.SSL),
            "CORP\\jane",
            ("password-cleartext",),
        ),
        (
            Endpoint(Protocol.SMTP, "mail.example.test", 587, Security.STARTTLS),
            "CORP\\jane",
            ("password-cleartext",),
        ),
    ]
    exchange = result.exchange
    assert exchange is not None
    assert exchange.ews_url == "https://mail.example.test/EWS/Exchange.asmx"
    assert exchange.activesync_url == "https://mail.example.test/Microsoft-Server-ActiveSync"
    assert exchange.autodiscover_url == f"https://autodiscover.example.test{POX}"
    assert exchange.auth == ("Basic", "NTLM", "Negotiate")
    assert exchange.hosted == "on-premises"

    assert step(result, f"POST https://autodiscover.example.test{POX}")[0] is StepStatus.FOUND
    assert step(result, "GET https://mail.example.test/EWS/Exchange.asmx") == (
        StepStatus.FOUND,
        "401 Negotiate NTLM: endpoint exists, needs login",
    )
    assert step(result, f"POST https://example.test{POX}")[0] is StepStatus.NOT_FOUND  # no A
    assert step(result, "SRV _autodiscover._tcp.example.test")[0] is StepStatus.NOT_FOUND
    assert step(result, f"GET {V2_URL}?Email=jane@example.test&Protocol=EWS")[0] is (
        StepStatus.SKIPPED
    )
    assert all(s.source == "autodiscover" for s in result.steps)

    pox = next(r for r in site.requests if r.method == "POST")
    assert pox.header("content-type") == "text/xml; charset=utf-8"
    assert b"<EMailAddress>jane@example.test</EMailAddress>" in pox.body
    assert REQUEST_SCHEMA.encode() in pox.body
    assert_no_credentials([site])


def test_401_on_autodiscover_means_the_endpoint_exists(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("autodiscover.example.test")
    site.route("autodiscover.example.test", "POST", POX, unauthorized("Negotiate", "NTLM"))
    result = run(lab, "jane@example.test")
    assert step(result, f"POST https://autodiscover.example.test{POX}") == (
        StepStatus.FOUND,
        "401 Negotiate NTLM: endpoint exists, needs login",
    )
    assert result.servers == ()
    assert result.exchange is not None
    assert result.exchange.autodiscover_url == f"https://autodiscover.example.test{POX}"
    assert result.exchange.auth == ("NTLM", "Negotiate")


# ------------------------------------------------------------------ Microsoft 365


def microsoft365(lab: Lab) -> list[WebServer]:
    """contoso.test hosted at 'Microsoft' (the office365.test hosts of the lab)."""
    lab.zone("contoso.test")
    bearer = 'Bearer authorization_uri="https://login.microsoftonline.test/common/oauth2/authorize"'
    # autodiscover.contoso.test is a CNAME to Microsoft's server in real life, whose
    # certificate names only Microsoft: HTTPS fails, the redirect GET works.
    own = lab.web("autodiscover.contoso.test", cert=lab.cert("autodiscover.outlook.test"))
    own.route(
        "autodiscover.contoso.test",
        "GET",
        POX,
        redirect(f"https://autodiscover-s.office365.test{POX}"),
        scheme="http",
    )
    microsoft = lab.web(V2_HOST, "autodiscover-s.office365.test")
    microsoft.route(
        "autodiscover-s.office365.test", "POST", POX, unauthorized(bearer, 'Basic Realm=""')
    )

    def v2(request: Request) -> Response:
        assert request.param("Email") == "jane@contoso.test"
        if request.param("Protocol") == "EWS":
            return json_response({"Protocol": "EWS", "Url": f"https://{V2_HOST}/EWS/Exchange.asmx"})
        return json_response(
            {"Protocol": "ActiveSync", "Url": f"https://{V2_HOST}/Microsoft-Server-ActiveSync"}
        )

    microsoft.route(V2_HOST, "GET", "/autodiscover/autodiscover.json", v2)
    microsoft.route(V2_HOST, "GET", "/EWS/Exchange.asmx", unauthorized(bearer, 'Basic Realm=""'))
    microsoft.route(V2_HOST, "OPTIONS", "/Microsoft-Server-ActiveSync", unauthorized(bearer))
    return [own, microsoft]


def test_microsoft_365_like_tenant(lab: Lab) -> None:
    sites = microsoft365(lab)
    result = run(lab, "jane@contoso.test", send_to_microsoft=True)

    exchange = result.exchange
    assert exchange is not None
    assert exchange.hosted == "microsoft365"
    assert exchange.ews_url == f"https://{V2_HOST}/EWS/Exchange.asmx"
    assert exchange.activesync_url == f"https://{V2_HOST}/Microsoft-Server-ActiveSync"
    assert exchange.autodiscover_url == f"https://autodiscover-s.office365.test{POX}"
    assert exchange.auth == ("Basic", "Bearer")
    assert result.servers == ()
    assert not result.trusted

    status, detail = step(result, f"POST https://autodiscover.contoso.test{POX}")
    assert status is StepStatus.ERROR
    assert "not valid for the name autodiscover.contoso.test" in detail
    assert step(result, f"GET http://autodiscover.contoso.test{POX}") == (
        StepStatus.FOUND,
        f"302 to https://autodiscover-s.office365.test{POX}",
    )
    status, detail = step(result, f"POST https://autodiscover-s.office365.test{POX}")
    assert status is StepStatus.FOUND
    assert detail.startswith("401 Bearer Basic")
    status, detail = step(result, f"GET {V2_URL}?Email=jane@contoso.test&Protocol=EWS")
    assert status is StepStatus.FOUND
    assert "(Microsoft 365)" in detail
    # Microsoft's own servers are where a tenant's redirect is expected to go.
    assert not any("another domain" in w for w in result.warnings)
    assert_no_credentials(sites)


def test_v2_alone_does_not_make_a_domain_microsoft_365(lab: Lab) -> None:
    """Microsoft's v2 service may answer for any domain: it needs the domain's agreement."""
    sites = microsoft365(lab)
    sites[0].stop()  # contoso's own Autodiscover is gone
    result = run(lab, "jane@contoso.test", send_to_microsoft=True)
    assert result.exchange is not None
    assert result.exchange.hosted is None
    assert result.exchange.ews_url == f"https://{V2_HOST}/EWS/Exchange.asmx"


def test_send_to_microsoft_off_sends_nothing_to_microsoft(lab: Lab) -> None:
    sites = microsoft365(lab)
    result = run(lab, "jane@contoso.test", send_to_microsoft=False)
    assert not [r for r in sites[1].requests if r.host == V2_HOST]
    assert step(result, f"GET {V2_URL}?Email=jane@contoso.test&Protocol=ActiveSync")[1] == (
        "not asked: it would send the address to Microsoft"
    )


def test_v2_redirect_to_the_organisation_means_hybrid(lab: Lab) -> None:
    lab.zone("example.test")
    microsoft = lab.web(V2_HOST)
    microsoft.route(
        V2_HOST,
        "GET",
        "/autodiscover/autodiscover.json",
        lambda r: redirect(
            f"https://mail.example.test/autodiscover/autodiscover.json?{r.raw_query}"
        ),
    )
    onprem = lab.web("mail.example.test")
    onprem.route(
        "mail.example.test",
        "GET",
        "/autodiscover/autodiscover.json",
        json_response({"Protocol": "EWS", "Url": "https://mail.example.test/EWS/Exchange.asmx"}),
    )
    onprem.route("mail.example.test", "GET", "/EWS/Exchange.asmx", unauthorized("Negotiate"))
    result = run(lab, "jane@example.test", send_to_microsoft=True)
    assert result.exchange is not None
    assert result.exchange.hosted == "on-premises"
    assert result.exchange.ews_url == "https://mail.example.test/EWS/Exchange.asmx"
    status, detail = step(result, f"GET {V2_URL}?Email=jane@example.test&Protocol=EWS")
    assert status is StepStatus.FOUND
    assert "hybrid" in detail


# ------------------------------------------------------------------ redirects


def test_redirect_get_from_http_to_https_then_post(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("autodiscover.example.test", "mail.example.test")
    site.route(
        "autodiscover.example.test",
        "GET",
        POX,
        redirect(f"https://mail.example.test{POX}"),
        scheme="http",
    )
    site.route("mail.example.test", "POST", POX, settings("mail.example.test"))
    result = run(lab, "jane@example.test")
    assert [s.endpoint.hostname for s in result.servers] == ["mail.example.test"] * 2
    assert not result.trusted  # the redirect itself came over plain HTTP
    assert result.origin == f"https://mail.example.test{POX}"
    assert step(result, f"POST https://mail.example.test{POX}")[0] is StepStatus.FOUND
    # The POST carried the request, the GET nothing but the path.
    get = next(r for r in site.requests if r.method == "GET" and r.scheme == "http")
    assert get.body == b""
    assert not result.warnings  # same organisation: nothing to warn about


def test_redirect_get_to_plain_http_is_refused(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("autodiscover.example.test", "mail.example.test")
    site.route(
        "autodiscover.example.test",
        "GET",
        POX,
        redirect(f"http://mail.example.test{POX}"),
        scheme="http",
    )
    site.route("mail.example.test", "POST", POX, settings("mail.example.test"), scheme="both")
    result = run(lab, "jane@example.test")
    assert result.servers == ()
    status, detail = step(result, f"GET http://autodiscover.example.test{POX}")
    assert status is StepStatus.ERROR
    assert "plain HTTP refused" in detail
    assert not [r for r in site.requests if r.host == "mail.example.test" and r.method == "POST"]


def test_settings_over_plain_http_are_ignored(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("autodiscover.example.test", https_port=None)
    site.route(
        "autodiscover.example.test", "GET", POX, settings("evil.example.test"), scheme="http"
    )
    result = run(lab, "jane@example.test")
    assert result.servers == ()
    assert "autodiscover.example.test answered over plain HTTP with settings: ignored" in (
        result.warnings
    )


def test_redirect_url_is_followed_over_https_only(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("autodiscover.example.test", "mail.example.test", "old.example.test")
    site.route(
        "autodiscover.example.test", "POST", POX, redirect_url(f"https://mail.example.test{POX}")
    )
    site.route("mail.example.test", "POST", POX, settings("imap.example.test"))
    site.route("old.example.test", "POST", POX, redirect_url(f"http://mail.example.test{POX}"))
    result = run(lab, "jane@example.test")
    assert result.trusted
    assert result.origin == f"https://mail.example.test{POX}"
    assert step(result, f"POST https://autodiscover.example.test{POX}")[1] == (
        f"redirectUrl to https://mail.example.test{POX} (hop 2)"
    )
    assert result.servers[0].endpoint.hostname == "imap.example.test"


def test_redirect_url_to_plain_http_is_refused(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("autodiscover.example.test", "mail.example.test")
    site.route(
        "autodiscover.example.test", "POST", POX, redirect_url(f"http://mail.example.test{POX}")
    )
    site.route("mail.example.test", "POST", POX, settings("imap.example.test"), scheme="both")
    result = run(lab, "jane@example.test")
    assert result.servers == ()
    status, detail = step(result, f"POST https://autodiscover.example.test{POX}")
    assert status is StepStatus.ERROR
    assert "plain HTTP refused" in detail
    assert not [r for r in site.requests if r.host == "mail.example.test" and r.method == "POST"]


def test_redirect_url_loop_is_bounded(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("autodiscover.example.test", "mail.example.test")
    site.route(
        "autodiscover.example.test", "POST", POX, redirect_url(f"https://mail.example.test{POX}")
    )
    site.route(
        "mail.example.test", "POST", POX, redirect_url(f"https://autodiscover.example.test{POX}")
    )
    result = run(lab, "jane@example.test")
    assert result.servers == ()
    assert any("redirectUrl loop" in w for w in result.warnings)
    assert len([r for r in site.requests if r.method == "POST"]) == 2


def test_redirect_addr_chain_is_followed(lab: Lab) -> None:
    lab.zone("a.test")
    lab.zone("b.test")
    site_a = lab.web("autodiscover.a.test")
    site_a.route("autodiscover.a.test", "POST", POX, redirect_addr("jane.doe@b.test"))
    site_b = lab.web("autodiscover.b.test")
    site_b.route("autodiscover.b.test", "POST", POX, settings("imap.b.test"))
    result = run(lab, "jane@a.test")
    assert step(result, f"POST https://autodiscover.a.test{POX}")[1] == (
        "redirectAddr to jane.doe@b.test (hop 2)"
    )
    assert [s.endpoint.hostname for s in result.servers] == ["imap.b.test", "imap.b.test"]
    assert result.servers[0].username is None  # no LoginName: the client's own choice
    assert [r.body.count(b"jane.doe@b.test") for r in site_b.requests if r.method == "POST"] == [1]


def test_redirect_addr_loop_is_detected(lab: Lab) -> None:
    lab.zone("a.test")
    lab.zone("b.test")
    site_a = lab.web("autodiscover.a.test")
    site_a.route("autodiscover.a.test", "POST", POX, redirect_addr("jane@b.test"))
    site_b = lab.web("autodiscover.b.test")
    site_b.route("autodiscover.b.test", "POST", POX, redirect_addr("jane@a.test"))
    result = run(lab, "jane@a.test")
    assert result.servers == ()
    assert any("redirectAddr loop" in w for w in result.warnings)
    assert posts(site_a) == 1
    assert posts(site_b) == 1


def test_redirect_addr_chain_is_bounded(lab: Lab) -> None:
    sites = []
    for name in ("a", "b", "c", "d"):
        lab.zone(f"{name}.test")
        site = lab.web(f"autodiscover.{name}.test")
        following = {"a": "b", "b": "c", "c": "d", "d": "e"}[name]
        site.route(
            f"autodiscover.{name}.test", "POST", POX, redirect_addr(f"jane@{following}.test")
        )
        sites.append(site)
    result = run(lab, "jane@a.test")
    assert result.servers == ()
    assert any("more than 2 times" in w for w in result.warnings)
    assert [posts(s) for s in sites] == [1, 1, 1, 0]


# ------------------------------------------------------------------ never above the domain


def test_never_climbs_to_the_public_suffix(lab: Lab) -> None:
    """a.b.example.co.uk may ask its own autodiscover host, never autodiscover.co.uk."""
    lab.zone("example.co.uk")
    lab.zone("co.uk")
    attacker = lab.web("autodiscover.co.uk")
    attacker.fallback(None, settings("evil.co.uk"))
    own = lab.web("autodiscover.a.b.example.co.uk")
    # Every pointer the domain controls tries to send us to autodiscover.co.uk.
    own.route(
        "autodiscover.a.b.example.co.uk",
        "POST",
        POX,
        redirect_url(f"https://autodiscover.co.uk{POX}"),
    )
    own.route(
        "autodiscover.a.b.example.co.uk",
        "GET",
        POX,
        redirect(f"https://autodiscover.co.uk{POX}"),
        scheme="http",
    )
    lab.records("example.co.uk", "_autodiscover._tcp.a.b SRV 0 0 443 autodiscover.co.uk.")
    result = run(lab, "jane@a.b.example.co.uk")

    assert attacker.requests == []
    assert result.servers == ()
    assert step(result, f"POST https://autodiscover.a.b.example.co.uk{POX}")[0] is StepStatus.ERROR
    assert len([w for w in result.warnings if "autodiscover.<public suffix co.uk>" in w]) == 3
    queried = {entry.name for entry in lab.dns.log}
    assert "autodiscover.co.uk." not in queried
    assert "autodiscover.example.co.uk." not in queried  # no label is ever stripped
    assert "example.co.uk." not in queried


def test_an_address_at_a_public_suffix_is_not_tried(lab: Lab) -> None:
    lab.zone("co.uk")
    attacker = lab.web("autodiscover.co.uk")
    attacker.fallback(None, settings("evil.co.uk"))
    result = run(lab, "jane@co.uk")
    assert attacker.requests == []
    assert result.servers == ()
    assert any("public suffix" in w for w in result.warnings)
    assert not [e for e in lab.dns.log if "autodiscover" in e.name]


def test_redirect_addr_to_a_public_suffix_is_refused(lab: Lab) -> None:
    lab.zone("a.test")
    lab.zone("co.uk")
    attacker = lab.web("autodiscover.co.uk")
    attacker.fallback(None, settings("evil.co.uk"))
    site = lab.web("autodiscover.a.test")
    site.route("autodiscover.a.test", "POST", POX, redirect_addr("jane@co.uk"))
    result = run(lab, "jane@a.test")
    assert attacker.requests == []
    assert result.servers == ()


# ------------------------------------------------------------------ web hosts and ranking


def test_html_catch_all_host_is_not_autodiscover(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("example.test", "www.example.test")
    site.fallback(None, html("<!DOCTYPE html><html><body>Parked domain</body></html>"))
    result = run(lab, "jane@example.test")
    assert step(result, f"POST https://example.test{POX}") == (
        StepStatus.ERROR,
        "HTML page, not Autodiscover",
    )
    assert step(result, "GET https://example.test/EWS/Exchange.asmx") == (
        StepStatus.NOT_FOUND,
        "HTML page, not EWS",
    )
    assert step(result, "OPTIONS https://example.test/Microsoft-Server-ActiveSync")[0] is (
        StepStatus.NOT_FOUND
    )
    assert result.exchange is None
    assert result.servers == ()


def test_outlook_order_decides_between_two_answers(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("example.test", "autodiscover.example.test")
    # The better-ranked candidate answers later: it still wins.
    site.route(
        "example.test",
        "POST",
        POX,
        delayed(settings("first.example.test"), 0.3),
    )
    site.route("autodiscover.example.test", "POST", POX, settings("second.example.test"))
    result = run(lab, "jane@example.test")
    assert result.servers[0].endpoint.hostname == "first.example.test"
    assert result.origin == f"https://example.test{POX}"


def test_a_slow_lower_ranked_candidate_is_cancelled(lab: Lab) -> None:
    lab.zone("example.test")
    site = lab.web("example.test", "autodiscover.example.test")
    site.route("example.test", "POST", POX, settings("first.example.test"))
    site.route(
        "autodiscover.example.test",
        "POST",
        POX,
        delayed(settings("second.example.test"), BLOCKED),
    )
    site.route("example.test", "GET", "/EWS/Exchange.asmx", unauthorized("NTLM"))
    # Budget and answer BLOCKED (600) s away: waiting for the lower-ranked
    # candidate instead of cancelling it could not return within 60 s.
    box: list[SourceResult] = []
    assert returns(lambda: box.append(run(lab, "jane@example.test", budget=BLOCKED)))
    result = box[0]
    assert result.servers[0].endpoint.hostname == "first.example.test"
    status, detail = step(result, f"POST https://autodiscover.example.test{POX}")
    assert status is StepStatus.SKIPPED
    assert "better-ranked" in detail


def test_srv_record_names_the_autodiscover_server(lab: Lab) -> None:
    lab.zone("example.test")
    lab.zone("hoster.test")
    site = lab.web("autodiscover.hoster.test", https_port=8443, http_port=None)
    site.route("autodiscover.hoster.test", "POST", POX, settings("imap.hoster.test"))
    lab.records(
        "example.test",
        "_autodiscover._tcp SRV 10 0 8443 autodiscover.hoster.test.\n"
        "_autodiscover._tcp SRV 20 0 443 backup.hoster.test.",
    )
    result = run(lab, "jane@example.test")
    assert [s.endpoint.hostname for s in result.servers] == ["imap.hoster.test"] * 2
    assert not result.trusted  # SRV without DNSSEC
    assert result.origin == f"https://autodiscover.hoster.test:8443{POX}"
    assert any(
        "another domain (autodiscover.hoster.test) without DNSSEC" in w for w in result.warnings
    )


def test_deadline_is_respected_when_everything_hangs(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.zone("example.test")
    site = lab.web("example.test", "autodiscover.example.test", "mail.example.test")
    site.fallback(None, Response(200, "late", delay=BLOCKED))
    # Requests not clamped to the 1.5 s budget would wait their own timeout,
    # made BLOCKED (600) s here: returning within 60 s is the budget's doing.
    monkeypatch.setattr("advisor.sources.autodiscover.REQUEST_TIMEOUT", BLOCKED)
    box: list[SourceResult] = []
    assert returns(lambda: box.append(run(lab, "jane@example.test", budget=1.5)))
    result = box[0]
    assert step(result, f"POST https://example.test{POX}")[0] is StepStatus.TIMEOUT


def delayed(response: Response, seconds: float) -> Response:
    """``response`` with its headers sent only after ``seconds``."""
    return Response(response.status, response.body, response.headers, delay=seconds)
