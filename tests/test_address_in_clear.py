"""The address never crosses the network in clear (issue 15, point 5).

Thunderbird asks ``http://autoconfig.D/...?emailaddress=A`` at the same time as the
HTTPS URL; we ask plain HTTP only once every HTTPS URL has failed, and never with the
address. The lab web server records every request it receives, on both schemes.
"""

from __future__ import annotations

import pytest

from tests.lab.servers import Lab
from tests.lab.web import WebServer, html, redirect, xml
from tests.test_discovery_sources import client_config, mail_servers, run

pytestmark = pytest.mark.lab

ADDRESS = "secret.person@clear.test"


def plain_requests(site: WebServer) -> list[str]:
    return [f"{r.method} {r.host}{r.target}" for r in site.requests if r.scheme == "http"]


def autoconfig_site(lab: Lab) -> WebServer:
    lab.zone("clear.test")
    mail_servers(lab, "clear.test")
    return lab.web("autoconfig.clear.test", "clear.test")


CONFIG = client_config(
    "clear.test",
    [("imap", "imap.clear.test", 993, "SSL")],
    ("smtp.clear.test", 465, "SSL"),
)


def test_https_answer_means_no_plain_http_request_at_all(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    site = autoconfig_site(lab)
    site.route("autoconfig.clear.test", "GET", "/mail/config-v1.1.xml", xml(CONFIG))
    site.route("autoconfig.clear.test", "GET", "/mail/config-v1.1.xml", xml(CONFIG), scheme="http")
    report = run(capsys, lab, ADDRESS, "--no-autodiscover", "--wait-all", "--timeout", "4")
    assert report["incoming"][0]["sources"][0] == "autoconfig"
    https = [r for r in site.requests if r.scheme == "https" and r.path.startswith("/mail")]
    assert https
    assert https[0].param("emailaddress") == ADDRESS  # over HTTPS, to the domain's own host
    assert plain_requests(site) == []


def test_plain_http_is_asked_after_https_failed_and_without_the_address(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    site = autoconfig_site(lab)
    # HTTPS: a web host answering 404 on both locations; plain HTTP has the file.
    site.route("autoconfig.clear.test", "GET", "/mail/config-v1.1.xml", xml(CONFIG), scheme="http")
    report = run(capsys, lab, ADDRESS, "--no-autodiscover", "--wait-all", "--timeout", "4")
    best = report["incoming"][0]
    assert (best["hostname"], best["sources"][0]) == ("imap.clear.test", "autoconfig")
    plain = [r for r in site.requests if r.scheme == "http"]
    # Both plain-HTTP locations, asked together (in either order), without a query.
    assert sorted(f"{r.host}{r.target}" for r in plain) == [
        "autoconfig.clear.test/mail/config-v1.1.xml",
        "clear.test/.well-known/autoconfig/mail/config-v1.1.xml",
    ]
    for request in plain:
        assert not request.contains("secret.person"), request.target
    # Every HTTPS attempt came first: none arrived after the first plain one.
    order = [r.scheme for r in site.requests if r.path.endswith("config-v1.1.xml")]
    assert order.index("http") == order.count("https") == 2


def test_https_redirect_to_plain_http_with_the_address_is_not_followed(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    site = autoconfig_site(lab)
    site.route(
        "autoconfig.clear.test",
        "GET",
        "/mail/config-v1.1.xml",
        lambda request: redirect(
            f"http://autoconfig.clear.test/plain.xml?{request.raw_query}", status=302
        ),
    )
    site.route("clear.test", "GET", "/.well-known/autoconfig/mail/config-v1.1.xml", html("", 404))
    site.route("autoconfig.clear.test", "GET", "/plain.xml", xml(CONFIG), scheme="http")
    report = run(capsys, lab, ADDRESS, "--no-autodiscover", "--wait-all", "--timeout", "4")
    steps = [s for s in report["steps"] if s["source"] == "autoconfig"]
    assert any("not followed" in s["detail"] for s in steps)
    for request in site.requests:
        if request.scheme == "http":
            assert not request.contains("secret.person"), request.target
