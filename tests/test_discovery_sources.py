"""Every discovery source at once, through `advisor discover --json`, against the lab.

Autoconfig and the ISPDB are served by lab web hosts (HTTPS with the lab CA,
or plain HTTP), resolved through the lab DNS server like every other name;
the servers they name are real Dovecot / aiosmtpd instances, probed live.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.lab.servers import Lab
from tests.lab.web import Request, Response, html, json_response, redirect, unauthorized, xml
from tests.test_discovery import discover_json, run_cli

pytestmark = pytest.mark.lab

ISPDB = "https://ispdb.lab.test/v1.1/"


def client_config(
    domain: str, incoming: list[tuple[str, str, int, str]], smtp: tuple[str, int, str]
) -> str:
    servers = "".join(
        f'<incomingServer type="{kind}"><hostname>{host}</hostname><port>{port}</port>'
        f"<socketType>{socket}</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication>"
        + (
            "<pop3><leaveMessagesOnServer>true</leaveMessagesOnServer></pop3>"
            if kind == "pop3"
            else ""
        )
        + "</incomingServer>"
        for kind, host, port, socket in incoming
    )
    host, port, socket = smtp
    return (
        f'<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="{domain}">'
        f"<domain>{domain}</domain><displayName>Lab {domain}</displayName>{servers}"
        f'<outgoingServer type="smtp"><hostname>{host}</hostname><port>{port}</port>'
        f"<socketType>{socket}</socketType><username>%EMAILLOCALPART%</username>"
        "<authentication>password-cleartext</authentication></outgoingServer>"
        "</emailProvider></clientConfig>"
    )


def mail_servers(lab: Lab, domain: str) -> None:
    lab.dovecot(f"imap.{domain}", f"pop.{domain}")
    lab.smtp(f"smtp.{domain}")


def ispdb_site(lab: Lab) -> Any:
    lab.zone("lab.test")
    return lab.web("ispdb.lab.test")


def step_for(report: dict[str, Any], source: str, needle: str) -> dict[str, Any]:
    for step in report["steps"]:
        if step["source"] == source and needle in step["target"]:
            return step
    raise AssertionError(
        f"no {source} step with {needle}: {[s['target'] for s in report['steps']]}"
    )


def run(capsys: pytest.CaptureFixture[str], lab: Lab, address: str, *extra: str) -> dict[str, Any]:
    code, report = discover_json(capsys, lab, address, "--ispdb-url", ISPDB, *extra)
    report["exit_code"] = code
    return report


# ------------------------------------------------------------ autoconfig


def test_provider_autoconfig_over_https_is_trusted_and_ranked_first(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("ac.test", "_imaps._tcp SRV 0 1 993 imap.ac.test.")
    mail_servers(lab, "ac.test")
    site = lab.web("autoconfig.ac.test")
    config = client_config(
        "ac.test",
        [("pop3", "pop.ac.test", 995, "SSL"), ("imap", "imap.ac.test", 993, "SSL")],
        ("smtp.ac.test", 587, "STARTTLS"),
    )
    site.route("autoconfig.ac.test", "GET", "/mail/config-v1.1.xml", xml(config))
    report = run(capsys, lab, "jane@ac.test")
    assert report["exit_code"] == 0
    best = report["incoming"][0]
    # The provider's own file says POP3 first: its preference order wins over SRV.
    assert (best["protocol"], best["hostname"], best["port"]) == ("pop3", "pop.ac.test", 995)
    assert best["sources"][0] == "autoconfig"
    assert best["verified"] is True
    assert best["leave_on_server"] is True
    assert best["stated_auth"] == ["password-cleartext"]
    smtp = report["outgoing"][0]
    assert (smtp["hostname"], smtp["port"], smtp["username"]) == ("smtp.ac.test", 587, "jane")
    step = step_for(report, "autoconfig", "https://autoconfig.ac.test/mail/config-v1.1.xml")
    assert step["status"] == "found"
    assert step["trusted"] is True
    # The address went to the domain's own host, as Thunderbird sends it.
    assert site.requests[0].param("emailaddress") == "jane@ac.test"
    assert any("srv names" in w and "autoconfig" in w for w in report["warnings"])


def test_no_send_address_keeps_the_address_private(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("private.test")
    site = lab.web("autoconfig.private.test")
    site.route(
        "autoconfig.private.test",
        "GET",
        "/mail/config-v1.1.xml",
        xml(
            client_config(
                "private.test",
                [("imap", "imap.private.test", 993, "SSL")],
                ("smtp.private.test", 465, "SSL"),
            )
        ),
    )
    ispdb = ispdb_site(lab)
    run(capsys, lab, "secret.person@private.test", "--no-send-address", "--timeout", "4")
    assert site.requests
    for request in site.requests + ispdb.requests:
        assert not request.contains("secret.person")


def test_plain_http_autoconfig_is_used_but_not_trusted(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("plainweb.test")
    mail_servers(lab, "plainweb.test")
    site = lab.web("autoconfig.plainweb.test")
    config = client_config(
        "plainweb.test",
        [("imap", "imap.plainweb.test", 143, "STARTTLS")],
        ("smtp.plainweb.test", 587, "STARTTLS"),
    )
    site.route(
        "autoconfig.plainweb.test", "GET", "/mail/config-v1.1.xml", xml(config), scheme="http"
    )
    report = run(capsys, lab, "a@plainweb.test")
    step = step_for(report, "autoconfig", "http://autoconfig.plainweb.test/mail/config-v1.1.xml")
    assert step["status"] == "found"
    assert step["trusted"] is False
    assert any("without HTTPS" in w for w in report["warnings"])
    best = report["incoming"][0]
    assert (best["port"], best["sources"][0], best["verified"]) == (143, "autoconfig", True)


def test_well_known_location_on_the_domain_itself(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("wk.test")
    mail_servers(lab, "wk.test")
    site = lab.web("wk.test")
    config = client_config(
        "wk.test", [("imap", "imap.wk.test", 993, "SSL")], ("smtp.wk.test", 465, "SSL")
    )
    site.route("wk.test", "GET", "/.well-known/autoconfig/mail/config-v1.1.xml", xml(config))
    report = run(capsys, lab, "a@wk.test")
    assert report["incoming"][0]["sources"][0] == "autoconfig"
    assert step_for(report, "autoconfig", "https://wk.test/.well-known")["trusted"] is True


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (
            xml(
                '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><clientConfig>&lol2;</clientConfig>'
            ),
            "not allowed",
        ),
        (
            Response(200, b"<clientConfig>" + b" " * (2 << 20), {"Content-Type": "text/xml"}),
            "larger than 1 MiB",
        ),
        (html("<html><body>Welcome to our site</body></html>"), "root element is <html>"),
        (xml("<clientConfig><emailProvider"), "syntax error"),
        (redirect("https://autoconfig.bad.test/mail/config-v1.1.xml"), "loop"),
    ],
)
def test_broken_autoconfig_answers_are_steps_not_crashes(
    lab: Lab, capsys: pytest.CaptureFixture[str], answer: Response, words: str
) -> None:
    lab.zone("bad.test")
    lab.dovecot("imap.bad.test")
    lab.smtp("smtp.bad.test")
    site = lab.web("autoconfig.bad.test")
    site.route("autoconfig.bad.test", "GET", "/mail/config-v1.1.xml", answer)
    report = run(capsys, lab, "a@bad.test")
    step = step_for(report, "autoconfig", "https://autoconfig.bad.test/")
    assert step["status"] == "error"
    assert words in step["detail"]
    # Guessing still finds the live servers.
    assert report["exit_code"] == 0
    assert report["incoming"][0]["hostname"] == "imap.bad.test"


def test_html_catch_all_web_host_is_neither_autoconfig_nor_autodiscover(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("parked.test")
    site = lab.web("parked.test", "autoconfig.parked.test", "autodiscover.parked.test")
    site.fallback(None, html("<html><body>This domain is parked</body></html>"))
    report = run(capsys, lab, "a@parked.test", "--timeout", "5")
    assert report["exit_code"] == 3
    assert report["exchange"] is None
    details = " ".join(
        s["detail"] for s in report["steps"] if s["source"] in ("autoconfig", "autodiscover")
    )
    assert "root element is <html>" in details
    assert "HTML" in details


# ------------------------------------------------------------- ISPDB, MX


def test_ispdb_lookup_never_sends_the_address(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("isp.test")
    mail_servers(lab, "isp.test")
    site = ispdb_site(lab)
    config = client_config(
        "isp.test", [("imap", "imap.isp.test", 993, "SSL")], ("smtp.isp.test", 465, "SSL")
    )
    site.route("ispdb.lab.test", "GET", "/v1.1/isp.test", xml(config))
    report = run(capsys, lab, "someone@isp.test")
    best = report["incoming"][0]
    assert best["sources"][:1] == ["ispdb"]
    assert step_for(report, "ispdb", "isp.test")["trusted"] is True
    assert all(not r.contains("someone") for r in site.requests)


def test_mx_derived_configuration_is_untrusted_until_verified(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("customer.test", "@ MX 10 mx1.hoster.test.")
    lab.zone("hoster.test")
    lab.dovecot("imap.hoster.test")
    lab.smtp("smtp.hoster.test")
    site = ispdb_site(lab)
    config = client_config(
        "hoster.test", [("imap", "imap.hoster.test", 993, "SSL")], ("smtp.hoster.test", 465, "SSL")
    )
    site.route("ispdb.lab.test", "GET", "/v1.1/hoster.test", xml(config))
    report = run(capsys, lab, "a@customer.test")
    best = report["incoming"][0]
    assert (best["hostname"], best["sources"], best["verified"]) == (
        "imap.hoster.test",
        ["mx"],
        True,
    )
    assert any(
        "through the MX host mx1.hoster.test is not trusted" in w for w in report["warnings"]
    )


# ------------------------------------------------------------ local folder


def test_local_override_folder_wins_and_is_trusted(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab.zone("local.test", "_imaps._tcp SRV 0 1 993 imap.local.test.")
    lab.dovecot("imap.local.test", "mail.local.test")
    lab.smtp("smtp.local.test")
    (tmp_path / "local.test.xml").write_text(
        client_config(
            "local.test",
            [("imap", "mail.local.test", 143, "STARTTLS")],
            ("smtp.local.test", 587, "STARTTLS"),
        )
    )
    report = run(capsys, lab, "a@local.test", "--config-dir", str(tmp_path))
    best = report["incoming"][0]
    assert (best["hostname"], best["port"], best["sources"][0]) == ("mail.local.test", 143, "local")
    local_step = next(s for s in report["steps"] if s["source"] == "local")
    assert local_step["trusted"] is True
    assert any("srv names imap://imap.local.test:993" in w for w in report["warnings"])


# ------------------------------------------------------------- Microsoft


def test_microsoft_365_like_domain(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone(
        "m365.test",
        """
        @ MX 0 m365-test.mail.protection.outlook.com.
        @ TXT "v=spf1 include:spf.protection.outlook.com -all"
        autodiscover CNAME autodiscover.outlook.test.
        """,
    )
    lab.zone("outlook.test")
    v2 = lab.web("v2.outlook.test", "autodiscover.outlook.test")

    def answer(request: Request) -> Response:
        protocol = request.param("Protocol")
        url = {
            "EWS": "https://v2.outlook.test/EWS/Exchange.asmx",
            "ActiveSync": "https://v2.outlook.test/Microsoft-Server-ActiveSync",
        }.get(protocol or "", "")
        return json_response({"Protocol": protocol, "Url": url})

    v2.route("v2.outlook.test", "GET", "/autodiscover/autodiscover.json", answer)
    bearer = unauthorized(
        'Bearer authorization_uri="https://login.lab.test/common"', 'Basic realm="v2"'
    )
    v2.route("v2.outlook.test", "POST", "/EWS/Exchange.asmx", bearer)
    v2.route("v2.outlook.test", "GET", "/EWS/Exchange.asmx", bearer)
    v2.route("v2.outlook.test", "OPTIONS", "/Microsoft-Server-ActiveSync", bearer)
    v2.route("autodiscover.outlook.test", "POST", "/autodiscover/autodiscover.xml", bearer)
    monkey = pytest.MonkeyPatch()
    monkey.setenv(
        "ADVISOR_AUTODISCOVER_V2_URL", "https://v2.outlook.test/autodiscover/autodiscover.json"
    )
    try:
        report = run(capsys, lab, "a@m365.test")
    finally:
        monkey.undo()
    assert report["provider"]["hosted_by"] == "microsoft365"
    assert report["provider"]["requires_oauth2"] is True
    assert report["exchange"]["hosted"] == "microsoft365"
    assert "Bearer" in report["exchange"]["auth"]
    assert any("OAuth2" in n for n in report["notes"])
    assert v2.requests
    assert any(r.param("Email") == "a@m365.test" for r in v2.requests)


def test_v2_is_not_asked_for_domains_elsewhere(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("elsewhere.test", "@ MX 10 mx.elsewhere.test.")
    lab.zone("outlook.test")
    v2 = lab.web("v2.outlook.test")
    v2.fallback(None, json_response({"Protocol": "EWS", "Url": "https://v2.outlook.test/EWS"}))
    monkey = pytest.MonkeyPatch()
    monkey.setenv(
        "ADVISOR_AUTODISCOVER_V2_URL", "https://v2.outlook.test/autodiscover/autodiscover.json"
    )
    try:
        run(capsys, lab, "a@elsewhere.test", "--timeout", "4")
    finally:
        monkey.undo()
    assert v2.requests == []  # the address never went to "Microsoft"


def test_on_premises_exchange(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("corp.test")
    site = lab.web("autodiscover.corp.test", "mail.corp.test")
    challenge = unauthorized("Negotiate", "NTLM")
    site.route("autodiscover.corp.test", "POST", "/autodiscover/autodiscover.xml", challenge)
    site.route("mail.corp.test", "POST", "/EWS/Exchange.asmx", challenge)
    site.route("mail.corp.test", "GET", "/EWS/Exchange.asmx", challenge)
    site.route("mail.corp.test", "OPTIONS", "/Microsoft-Server-ActiveSync", challenge)
    site.route("autodiscover.corp.test", "POST", "/EWS/Exchange.asmx", challenge)
    site.route("autodiscover.corp.test", "OPTIONS", "/Microsoft-Server-ActiveSync", challenge)
    report = run(capsys, lab, "a@corp.test", "--timeout", "6")
    exchange = report["exchange"]
    assert exchange is not None
    assert {"Negotiate", "NTLM"} <= set(exchange["auth"])
    assert exchange["ews_url"]
    assert report["exit_code"] == 0  # Exchange endpoints are a usable answer
    assert all(not r.header("Authorization") for r in site.requests)


# ---------------------------------------------------- offline, catalogue


def test_offline_answers_from_the_catalogue_without_any_query(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run(capsys, lab, "someone@gmail.com", "--offline")
    assert report["exit_code"] == 0
    assert report["live"] is False
    best = report["incoming"][0]
    assert (best["hostname"], best["port"], best["security"]) == ("imap.gmail.com", 993, "ssl")
    assert best["sources"] == ["catalogue"]
    assert best["verified"] is False
    assert any("offline" in w for w in report["warnings"])
    assert lab.dns.log == []  # not one DNS query


def test_offline_knows_a_microsoft_365_tenant_domain(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run(capsys, lab, "jo@contoso.onmicrosoft.com", "--offline")
    assert report["provider"]["id"] == "microsoft365"
    assert report["provider"]["hosted_by"] == "microsoft365"
    assert report["provider"]["requires_oauth2"] is True
    assert report["exchange"]["hosted"] == "microsoft365"
    assert report["incoming"][0]["hostname"] == "outlook.office365.com"
    assert lab.dns.log == []


def test_dead_dns_falls_back_to_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "discover", "someone@gmail.com", "--json", "--dns", "127.0.0.1:9", "--timeout", "2"
    )
    report = json.loads(out)
    assert code == 0
    assert report["live"] is False
    assert report["incoming"][0]["sources"] == ["catalogue"]
    assert any("answered no query" in w for w in report["warnings"])
    assert any("built-in catalogue" in w for w in report["warnings"])


def test_dead_dns_names_the_config_dir_folder_as_the_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "dupont-avocats.fr.xml").write_text(
        client_config(
            "dupont-avocats.fr",
            [("imap", "mail.dupont-avocats.fr", 993, "SSL")],
            ("mail.dupont-avocats.fr", 465, "SSL"),
        )
    )
    _code, out, _ = run_cli(
        capsys,
        *("discover", "jean@dupont-avocats.fr", "--json", "--dns", "127.0.0.1:9"),
        *("--timeout", "2", "--config-dir", str(tmp_path)),
    )
    report = json.loads(out)
    assert report["incoming"][0]["sources"] == ["local"]
    unverified = [w for w in report["warnings"] if w.startswith("nothing could be checked live")]
    assert unverified == [
        "nothing could be checked live: the servers listed come from the --config-dir folder"
        " and are unverified"
    ]


def test_filtered_dns_view_answers_from_the_catalogue(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone(".", "@ SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 60\n@ NS ns.invalid.")
    report = run(capsys, lab, "someone@gmail.com", "--timeout", "4")
    assert report["exit_code"] == 0
    assert report["incoming"][0]["hostname"] == "imap.gmail.com"
    assert report["incoming"][0]["sources"] == ["catalogue"]
    assert any("filtered or offline" in w and "catalogue" in w for w in report["warnings"])
