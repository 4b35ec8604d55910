"""Issue 18, part 2: CalDAV/CardDAV discovery per RFC 6764 against a real Radicale
behind the lab's HTTPS, with SRV, TXT and well-known records, and hostile answers."""

from __future__ import annotations

from typing import Any

import pytest

from advisor.report import from_json
from tests.lab.radicale import Radicale
from tests.lab.servers import Lab
from tests.lab.web import huge, redirect, unauthorized
from tests.test_discovery import discover_json

pytestmark = pytest.mark.lab


def run(capsys: pytest.CaptureFixture[str], lab: Lab, address: str) -> dict[str, Any]:
    _code, report = discover_json(capsys, lab, address, "--timeout", "8")
    from_json(report)  # what discovery writes, a saved report reads back
    return report


def dav_steps(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in report["steps"] if s["source"] == "dav"]


def test_srv_txt_and_well_known_on_the_srv_target_reach_radicale(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone(
        "davlab.test",
        "_caldavs._tcp SRV 0 1 443 dav.davlab.test.\n"
        '_caldavs._tcp TXT "path=/jane/"\n'
        "_carddavs._tcp SRV 0 1 443 dav.davlab.test.\n"
        "_caldav._tcp SRV 0 1 80 dav.davlab.test.\n",
    )
    ip = lab.host("dav.davlab.test")
    lab.serve(Radicale(ip, lab.ca.issue("dav.davlab.test", ip)))
    report = run(capsys, lab, "jane@davlab.test")
    caldav, carddav = report["dav"]["caldav"], report["dav"]["carddav"]
    assert [(e["url"], e["sources"], e["verified"]) for e in caldav] == [
        ("https://dav.davlab.test/jane/", ["srv"], True)
    ]
    assert "calendar-access" in caldav[0]["detail"]
    # No TXT: /.well-known/carddav on the SRV target, which Radicale redirects to /.
    assert [(e["url"], e["sources"], e["verified"]) for e in carddav] == [
        ("https://dav.davlab.test/", ["srv"], True)
    ]
    assert any("_caldav._tcp.davlab.test" in w and "without TLS" in w for w in report["warnings"])


def test_well_known_on_the_domain_itself(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("wkdav.test")
    ip = lab.host("wkdav.test")
    lab.serve(Radicale(ip, lab.ca.issue("wkdav.test", ip)))
    report = run(capsys, lab, "jane@wkdav.test")
    for kind in ("caldav", "carddav"):
        found = report["dav"][kind]
        assert [(e["url"], e["sources"], e["verified"]) for e in found] == [
            ("https://wkdav.test/", ["well-known"], True)
        ]


def test_hostile_dav_answers_verify_nothing(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("evildav.test")
    site = lab.web("evildav.test")
    # A redirect loop, an off-domain redirect (the password would go there), a huge body.
    site.route("evildav.test", "OPTIONS", "/.well-known/caldav", redirect("/a", 301))
    site.route("evildav.test", "OPTIONS", "/a", redirect("/.well-known/caldav", 301))
    site.route(
        "evildav.test",
        "OPTIONS",
        "/.well-known/carddav",
        redirect("https://dav.elsewhere.test/", 301),
    )
    report = run(capsys, lab, "jane@evildav.test")
    assert report["dav"] == {"caldav": [], "carddav": []}
    details = " ".join(s["detail"] for s in dav_steps(report))
    assert "redirect loop" in details
    assert "another domain (dav.elsewhere.test)" in details
    huge_site = lab.web("bigdav.test")
    lab.zone("bigdav.test", f"@ A {lab.hosts['bigdav.test']}")
    huge_site.route("bigdav.test", "OPTIONS", "/.well-known/caldav", huge(50_000_000))
    huge_site.route(
        "bigdav.test",
        "OPTIONS",
        "/.well-known/carddav",
        unauthorized("Basic", body=b"x" * 10_000_000),
    )
    report = run(capsys, lab, "jane@bigdav.test")
    assert report["dav"] == {"caldav": [], "carddav": []}


def test_a_challenge_on_propfind_is_a_dav_server(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("challenge.test")
    site = lab.web("challenge.test")
    site.route("challenge.test", "OPTIONS", "/.well-known/caldav", unauthorized("Basic"))
    site.route(
        "challenge.test", "PROPFIND", "/.well-known/caldav", unauthorized('Basic realm="dav"')
    )
    report = run(capsys, lab, "jane@challenge.test")
    assert [(e["url"], e["verified"]) for e in report["dav"]["caldav"]] == [
        ("https://challenge.test/.well-known/caldav", True)
    ]
    assert "401" in report["dav"]["caldav"][0]["detail"]
    assert report["dav"]["carddav"] == []
    assert all(not r.header("Authorization") for r in site.requests)


def test_autoconfig_and_autodiscover_name_dav_servers(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.lab.web import xml

    lab.zone("named.test")
    site = lab.web("autoconfig.named.test", "autodiscover.named.test")
    config = (
        '<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="named.test">'
        "<domain>named.test</domain>"
        '<incomingServer type="imap"><hostname>imap.named.test</hostname><port>993</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></incomingServer>"
        '<outgoingServer type="smtp"><hostname>smtp.named.test</hostname><port>465</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></outgoingServer>"
        "</emailProvider>"
        '<calendar type="caldav"><username>%EMAILADDRESS%</username>'
        "<serverURL>https://cal.named.test/dav/</serverURL></calendar>"
        '<addressBook type="carddav"><serverURL>http://book.named.test/</serverURL>'
        "</addressBook></clientConfig>"
    )
    site.route("autoconfig.named.test", "GET", "/mail/config-v1.1.xml", xml(config))
    outer = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
    inner = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
    pox = (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{outer}">'
        f'<Response xmlns="{inner}"><Account><AccountType>email</AccountType>'
        "<Action>settings</Action>"
        "<Protocol><Type>IMAP</Type><Server>imap.named.test</Server><Port>993</Port>"
        "<SSL>on</SSL></Protocol>"
        "<Protocol><Type>CalDAV</Type><Server>https://cal.named.test/dav/</Server></Protocol>"
        "<Protocol><Type>CardDAV</Type><Server>https://book.named.test/</Server></Protocol>"
        "</Account></Response></Autodiscover>"
    )
    site.route("autodiscover.named.test", "POST", "/autodiscover/autodiscover.xml", xml(pox))
    report = run(capsys, lab, "jane@named.test")
    caldav, carddav = report["dav"]["caldav"], report["dav"]["carddav"]
    assert [(e["url"], e["sources"], e["verified"]) for e in caldav] == [
        ("https://cal.named.test/dav/", ["autoconfig", "autodiscover"], False)
    ]
    # The autoconfig's plain-http address book is not taken; Autodiscover's https one is.
    assert [(e["url"], e["sources"]) for e in carddav] == [
        ("https://book.named.test/", ["autodiscover"])
    ]
