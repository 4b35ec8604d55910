"""`advisor check` against real servers: one little Internet per publication scenario.

Each test serves a domain the way an administrator might publish it (lab DNS,
HTTPS/HTTP virtual hosts with the lab CA, Dovecot, aiosmtpd), runs the command
as a user would, and asserts what each simulated client does. Every assertion
on a client's outcome cites, in a comment, the line of that client's code or
specification the simulation follows:

- Thunderbird: comm-central mail/components/accountcreation/modules/
  (FindConfig.sys.mjs, FetchConfig.sys.mjs, GuessConfig.sys.mjs,
  ExchangeAutoDiscover.sys.mjs, readFromXML.sys.mjs);
- Thunderbird for Android: thunderbird-android feature/autodiscovery/;
- Outlook: MS-OXDSCLI / MS-OXDISCO;
- Apple Mail: Apple's published support articles.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from advisor.check.model import STEPS
from tests.lab.automx2 import MailDomain, MailServer, start_automx2
from tests.lab.servers import Lab
from tests.lab.web import Response, WebServer, redirect, xml
from tests.test_discovery import run_cli

pytestmark = pytest.mark.lab

POX = "/autodiscover/autodiscover.xml"
OUTER = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
INNER = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
ISPDB = "https://ispdb.lab.test/v1.1/"


def client_config(domain: str, imap: tuple[str, int, str], smtp: tuple[str, int, str]) -> str:
    (ihost, iport, isock), (shost, sport, ssock) = imap, smtp
    return (
        f'<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="{domain}">'
        f"<domain>{domain}</domain><displayName>Lab {domain}</displayName>"
        f'<incomingServer type="imap"><hostname>{ihost}</hostname><port>{iport}</port>'
        f"<socketType>{isock}</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></incomingServer>"
        f'<outgoingServer type="smtp"><hostname>{shost}</hostname><port>{sport}</port>'
        f"<socketType>{ssock}</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></outgoingServer>"
        "</emailProvider></clientConfig>"
    )


def pox(imap_host: str, smtp_host: str) -> Response:
    return xml(
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{OUTER}">'
        f'<Response xmlns="{INNER}"><Account><AccountType>email</AccountType>'
        "<Action>settings</Action>"
        f"<Protocol><Type>IMAP</Type><Server>{imap_host}</Server><Port>993</Port>"
        "<SSL>on</SSL><SPA>off</SPA></Protocol>"
        f"<Protocol><Type>SMTP</Type><Server>{smtp_host}</Server><Port>465</Port>"
        "<SSL>on</SSL><SPA>off</SPA></Protocol>"
        "</Account></Response></Autodiscover>"
    )


def publish_autoconfig(lab: Lab, domain: str, config: str, *, scheme: str = "https") -> WebServer:
    site = lab.web(f"autoconfig.{domain}")
    site.route(f"autoconfig.{domain}", "GET", "/mail/config-v1.1.xml", xml(config), scheme=scheme)  # type: ignore[arg-type]
    return site


def publish_autodiscover(lab: Lab, domain: str, answer: Response) -> WebServer:
    site = lab.web(f"autodiscover.{domain}")
    site.route(f"autodiscover.{domain}", "POST", POX, answer)
    return site


def check(capsys: pytest.CaptureFixture[str], lab: Lab, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(
        capsys,
        "check",
        *args,
        "--json",
        "--dns",
        lab.dns_spec,
        "--ca-file",
        str(lab.ca_file),
        "--ispdb-url",
        ISPDB,
        "--timeout",
        "8",
    )
    assert err == ""
    doc = json.loads(out)
    for client in doc["clients"].values():
        assert client["step"] in STEPS  # the language-independent form of `via`
    return code, doc


def outcomes(doc: dict[str, Any]) -> dict[str, str]:
    return {name: client["outcome"] for name, client in doc["clients"].items()}


def server(side: dict[str, Any] | None) -> tuple[str, int, str] | None:
    return None if side is None else (side["hostname"], side["port"], side["security"])


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in doc["publication"]:
        # The worst status of each check id.
        rank = {"ok": 0, "warning": 1, "error": 2}
        if rank[p["status"]] >= rank.get(out.get(p["check"], "ok"), 0):
            out[p["check"]] = p["status"]
    return out


def codes(client: dict[str, Any]) -> set[str]:
    return {p["code"] for p in client["problems"]}


# ------------------------------------------------------------------ scenarios


def test_well_published_domain(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone(
        "good.test",
        "_imaps._tcp SRV 0 1 993 imap.good.test.\n_submissions._tcp SRV 0 1 465 smtp.good.test.",
    )
    lab.dovecot("imap.good.test")
    lab.smtp("smtp.good.test")
    config = client_config(
        "good.test", ("imap.good.test", 993, "SSL"), ("smtp.good.test", 465, "SSL")
    )
    publish_autoconfig(lab, "good.test", config)
    publish_autodiscover(lab, "good.test", pox("imap.good.test", "smtp.good.test"))
    code, doc = check(capsys, lab, "good.test")
    assert doc["schema"] == "advisor.check/1"
    assert doc["domain"] == "good.test"
    tb = doc["clients"]["thunderbird"]
    # FindConfig.sys.mjs: `const lookups = ["fromDisk", "fromISP", "fromDB", "forMX"];`
    # -- the provider's own file (fromISP) wins over everything but the isp/ folder.
    assert tb["outcome"] == "configured"
    assert tb["via"].startswith("autoconfig https://autoconfig.good.test/")
    assert tb["step"] == "autoconfig"
    assert server(tb["incoming"]) == ("imap.good.test", 993, "ssl")
    assert server(tb["outgoing"]) == ("smtp.good.test", 465, "ssl")
    android = doc["clients"]["thunderbird-android"]
    # RealAutoconfigFetcher.kt: `isTrusted = fetchResult.isTrusted` -- HTTPS all the way,
    # so no approval is asked.
    assert android["outcome"] == "configured"
    assert server(android["incoming"]) == ("imap.good.test", 993, "ssl")
    outlook = doc["clients"]["outlook"]
    # MS-OXDSCLI: POST https://autodiscover.<domain>/autodiscover/autodiscover.xml answers;
    # IMAP/SMTP <Protocol> entries configure an internet account without a prompt.
    assert outlook["outcome"] == "configured"
    assert outlook["via"].startswith("Autodiscover https://autodiscover.good.test/")
    assert server(outlook["incoming"]) == ("imap.good.test", 993, "ssl")
    apple = doc["clients"]["apple-mail"]
    # Apple documents only its built-in account types; for any other domain Mail "tries
    # to find" the settings, undocumented: the user may have to type them.
    assert apple["outcome"] == "manual"
    assert apple["unknowable"]
    assert set(statuses(doc).values()) == {"ok"}
    assert doc["grade"] == "A"
    assert code == 3  # not every client configures by itself (Apple Mail)


def test_autoconfig_only(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("aconly.test")
    lab.dovecot("imap.aconly.test")
    lab.smtp("smtp.aconly.test")
    config = client_config(
        "aconly.test", ("imap.aconly.test", 993, "SSL"), ("smtp.aconly.test", 587, "STARTTLS")
    )
    publish_autoconfig(lab, "aconly.test", config)
    code, doc = check(capsys, lab, "aconly.test")
    # FindConfig.sys.mjs: `const lookups = ["fromDisk", "fromISP", "fromDB", "forMX"];`
    assert doc["clients"]["thunderbird"]["outcome"] == "configured"
    assert server(doc["clients"]["thunderbird"]["outgoing"]) == (
        "smtp.aconly.test",
        587,
        "starttls",
    )
    # createDefaultAutoDiscoveries: createProviderAutoconfigDiscovery first.
    assert doc["clients"]["thunderbird-android"]["outcome"] == "configured"
    outlook = doc["clients"]["outlook"]
    # No Autodiscover: Outlook asks Microsoft's cloud for IMAP settings, not the domain.
    assert outlook["outcome"] == "manual"
    assert "not-deterministic" in codes(outlook)
    assert statuses(doc)["autodiscover"] == "warning"
    fix = next(p["fix"] for p in doc["publication"] if p["check"] == "autodiscover")
    assert "advisor autoconfig aconly.test --out autodiscover.xml --format autodiscover" in fix
    assert "--imap imap.aconly.test:993:ssl" in fix
    assert statuses(doc)["autoconfig"] == "ok"
    assert code == 3


def test_autodiscover_only(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("adonly.test")
    lab.dovecot("mx.adonly.test")
    lab.smtp("out.adonly.test")
    publish_autodiscover(lab, "adonly.test", pox("mx.adonly.test", "out.adonly.test"))
    code, doc = check(capsys, lab, "adonly.test")
    tb = doc["clients"]["thunderbird"]
    # FindConfig.sys.mjs: when "All priority-ordered config fetching mechanisms failed",
    # `return autodiscoverResult.value;` -- readAutoDiscoverXML reads IMAP and SMTP.
    assert tb["outcome"] == "configured"
    assert tb["via"].startswith("Autodiscover ")
    assert server(tb["incoming"]) == ("mx.adonly.test", 993, "ssl")
    android = doc["clients"]["thunderbird-android"]
    # RealAutoDiscoveryRegistry: autoconfig, ISPDB and MX lookup only -- no Autodiscover.
    assert android["outcome"] == "manual"
    # MS-OXDSCLI: the Autodiscover answer configures Outlook.
    assert doc["clients"]["outlook"]["outcome"] == "configured"
    assert statuses(doc)["autoconfig"] == "error"
    fix = next(p["fix"] for p in doc["publication"] if p["check"] == "autoconfig")
    assert "https://autoconfig.adonly.test/mail/config-v1.1.xml" in fix
    assert code == 3


def test_srv_only(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone(
        "srvonly.test",
        "_imaps._tcp SRV 0 1 993 box.srvonly.test.\n"
        "_submissions._tcp SRV 0 1 465 relay.srvonly.test.",
    )
    lab.dovecot("box.srvonly.test")
    lab.smtp("relay.srvonly.test")
    code, doc = check(capsys, lab, "srvonly.test")
    # GuessConfig.sys.mjs `_hostnamesToTry`: imap., pop3., pop., mail., the domain --
    # Thunderbird "uses no RFC 6186 SRV records", so box.srvonly.test is never tried.
    assert doc["clients"]["thunderbird"]["outcome"] == "manual"
    # The srvrecords module is not in RealAutoDiscoveryRegistry's default list.
    assert doc["clients"]["thunderbird-android"]["outcome"] == "manual"
    assert doc["clients"]["outlook"]["outcome"] == "manual"
    assert doc["clients"]["apple-mail"]["outcome"] == "manual"
    assert statuses(doc)["srv"] == "ok"
    fix = next(p["fix"] for p in doc["publication"] if p["check"] == "autoconfig")
    # The fix publishes the servers SRV names, which verified live.
    assert "--imap box.srvonly.test:993:ssl --smtp relay.srvonly.test:465:ssl" in fix
    assert doc["grade"] == "F"
    assert code == 3


def test_nothing_published(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("bare.test")
    code, doc = check(capsys, lab, "bare.test")
    # GuessConfig.sys.mjs `_checkFinished`: "ran out of options" -> manual set-up.
    assert outcomes(doc) == {
        "thunderbird": "manual",
        "thunderbird-android": "manual",
        "outlook": "manual",
        "apple-mail": "manual",
    }
    assert doc["grade"] == "F"
    assert code == 3


def test_plaintext_only(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("plain.test")
    lab.dovecot(
        "imap.plain.test", ssl="no", imaps=None, pop3=None, pop3s=None, disable_plaintext_auth=False
    )
    lab.smtp("smtp.plain.test")
    code, doc = check(capsys, lab, "plain.test")
    tb = doc["clients"]["thunderbird"]
    # GuessConfig.sys.mjs `sortTriesByPreference`: "Prefer SSL/STARTTLS above all else" --
    # the plain try (IMAP_PORTS[NONE] = 143) comes last, and it is what answers here.
    assert (tb["via"], tb["step"]) == ("guessing", "guess")
    assert server(tb["incoming"]) == ("imap.plain.test", 143, "plain")
    assert tb["outcome"] == "prompted"
    assert "plaintext" in codes(tb)
    assert statuses(doc)["plaintext"] == "error"
    assert code == 3


def test_bad_certificate(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("badcert.test")
    lab.dovecot(
        "imap.badcert.test", cert=lab.ca.issue_expired("imap.badcert.test"), pop3=None, pop3s=None
    )
    lab.smtp("smtp.badcert.test")
    config = client_config(
        "badcert.test", ("imap.badcert.test", 993, "SSL"), ("smtp.badcert.test", 465, "SSL")
    )
    publish_autoconfig(lab, "badcert.test", config)
    code, doc = check(capsys, lab, "badcert.test")
    tb = doc["clients"]["thunderbird"]
    # FindConfig: the autoconfig file wins; the expired certificate of its IMAP server
    # brings Thunderbird's certificate-exception dialog when it connects.
    assert tb["outcome"] == "prompted"
    assert "certificate" in codes(tb)
    assert doc["clients"]["thunderbird-android"]["outcome"] == "prompted"
    assert statuses(doc)["certificates"] == "error"
    assert statuses(doc)["autoconfig-servers"] == "error"
    assert code == 3


def test_autoconfig_and_autodiscover_disagree(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("split.test")
    lab.dovecot("imap.split.test")
    lab.dovecot("legacy.split.test")
    lab.smtp("smtp.split.test")
    config = client_config(
        "split.test", ("imap.split.test", 993, "SSL"), ("smtp.split.test", 465, "SSL")
    )
    publish_autoconfig(lab, "split.test", config)
    publish_autodiscover(lab, "split.test", pox("legacy.split.test", "smtp.split.test"))
    code, doc = check(capsys, lab, "split.test")
    # FindConfig.sys.mjs: fromISP wins; Autodiscover is only added as an Exchange alternative.
    assert server(doc["clients"]["thunderbird"]["incoming"]) == ("imap.split.test", 993, "ssl")
    # MS-OXDSCLI: Outlook reads only Autodiscover, so it ends with the other server.
    assert server(doc["clients"]["outlook"]["incoming"]) == ("legacy.split.test", 993, "ssl")
    # Each client says what it gets wrong: the other publication names another server.
    assert "disagreement" in codes(doc["clients"]["thunderbird"])
    assert "disagreement" in codes(doc["clients"]["outlook"])
    assert statuses(doc)["consistency"] == "warning"
    detail = next(p["detail"] for p in doc["publication"] if p["check"] == "consistency")
    assert "imap.split.test" in detail
    assert "legacy.split.test" in detail
    assert code == 3


def test_plain_http_autoconfig_and_redirected_autodiscover(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("hosted.test")
    lab.zone("hoster.test")
    lab.dovecot("imap.hosted.test")
    lab.smtp("smtp.hosted.test")
    config = client_config(
        "hosted.test", ("imap.hosted.test", 993, "SSL"), ("smtp.hosted.test", 465, "SSL")
    )
    publish_autoconfig(lab, "hosted.test", config, scheme="http")
    lab.web("autodiscover.hosted.test", https_port=None).route(
        "autodiscover.hosted.test",
        "GET",
        POX,
        redirect("https://ad.hoster.test/autodiscover/autodiscover.xml"),
        scheme="http",
    )
    lab.web("ad.hoster.test").route(
        "ad.hoster.test", "POST", POX, pox("imap.hosted.test", "smtp.hosted.test")
    )
    code, doc = check(capsys, lab, "hosted.test")
    tb = doc["clients"]["thunderbird"]
    # FetchConfig.sys.mjs: `call.foundMsg = url.startsWith("https") ? "https" : "http";`
    # -- the http:// file is used as is, without a prompt; the problem is reported.
    assert tb["outcome"] == "configured"
    assert "autoconfig-http" in codes(tb)
    # RealAutoconfigFetcher.kt: `isTrusted = fetchResult.isTrusted` is false over HTTP:
    # the user must approve the settings.
    assert doc["clients"]["thunderbird-android"]["outcome"] == "prompted"
    outlook = doc["clients"]["outlook"]
    # MS-OXDISCO: "If this URI results in an HTTP 302 redirect, prompt the user to warn
    # them of the redirection."
    assert outlook["outcome"] == "prompted"
    assert "autodiscover-redirect" in codes(outlook)
    assert statuses(doc)["autoconfig-https"] == "error"
    assert code == 3


def test_autodiscover_through_srv_record(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("srvad.test", "_autodiscover._tcp SRV 0 0 443 ad.hoster3.test.")
    lab.zone("hoster3.test")
    lab.dovecot("imap.srvad.test")
    lab.smtp("smtp.srvad.test")
    lab.web("ad.hoster3.test").route(
        "ad.hoster3.test", "POST", POX, pox("imap.srvad.test", "smtp.srvad.test")
    )
    code, doc = check(capsys, lab, "srvad.test")
    outlook = doc["clients"]["outlook"]
    # MS-OXDSCLI / MS-OXDISCO: the SRV record is Outlook's last candidate, and a host it
    # names is not the user's domain: Outlook asks before using it.
    assert outlook["outcome"] == "prompted"
    assert "autodiscover-redirect" in codes(outlook)
    assert server(outlook["incoming"]) == ("imap.srvad.test", 993, "ssl")
    assert statuses(doc)["autodiscover-leak"] == "warning"
    tb = doc["clients"]["thunderbird"]
    # ExchangeAutoDiscover.sys.mjs builds url1, url2 and url3 only -- no SRV lookup -- so
    # Thunderbird falls through to guessing, which finds imap.srvad.test.
    assert tb["step"] == "guess"
    assert server(tb["incoming"]) == ("imap.srvad.test", 993, "ssl")
    assert code == 3


def test_pop3_first_thunderbird_takes_it_android_reads_only_imap(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("popfirst.test")
    lab.dovecot("imap.popfirst.test", pop3=None, pop3s=None)
    lab.smtp("smtp.popfirst.test")
    pop3 = (
        '<incomingServer type="pop3"><hostname>pop.popfirst.test</hostname><port>995</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></incomingServer>"
    )
    config = client_config(
        "popfirst.test", ("imap.popfirst.test", 993, "SSL"), ("smtp.popfirst.test", 465, "SSL")
    ).replace("<incomingServer", pop3 + "<incomingServer", 1)
    publish_autoconfig(lab, "popfirst.test", config)
    code, doc = check(capsys, lab, "popfirst.test")
    tb = doc["clients"]["thunderbird"]
    # readFromXML.sys.mjs: "first valid" <incomingServer> becomes d.incoming -- the POP3
    # server, which does not exist, so the login check fails.
    assert server(tb["incoming"]) == ("pop.popfirst.test", 995, "ssl")
    assert tb["outcome"] == "manual"
    android = doc["clients"]["thunderbird-android"]
    # RealAutoconfigParser.kt: `parseServer("imap", ...)` skips the POP3 server.
    assert server(android["incoming"]) == ("imap.popfirst.test", 993, "ssl")
    assert android["outcome"] == "configured"
    assert code == 3


def test_stale_ispdb_entry(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("moved.test")
    lab.zone("lab.test")
    lab.dovecot("mail.moved.test")
    lab.smtp("mail.moved.test")
    old = client_config(
        "moved.test", ("imap.moved.test", 993, "SSL"), ("smtp.moved.test", 465, "SSL")
    )
    lab.web("ispdb.lab.test").route("ispdb.lab.test", "GET", "/v1.1/moved.test", xml(old))
    publish_autodiscover(lab, "moved.test", pox("mail.moved.test", "mail.moved.test"))
    code, doc = check(capsys, lab, "moved.test")
    tb = doc["clients"]["thunderbird"]
    # FindConfig.sys.mjs: "fromDB" (the ISPDB) ranks before Autodiscover, which is used only
    # when "All priority-ordered config fetching mechanisms failed": the stale entry wins.
    assert tb["via"].startswith("ISPDB https://ispdb.lab.test/")
    assert server(tb["incoming"]) == ("imap.moved.test", 993, "ssl")
    assert tb["outcome"] == "manual"  # ConfigVerifier: the login to a dead server fails
    assert {"unreachable", "disagreement"} <= codes(tb)
    # MS-OXDSCLI: Outlook never reads the ISPDB; the domain's Autodiscover answer wins.
    assert server(doc["clients"]["outlook"]["incoming"]) == ("mail.moved.test", 993, "ssl")
    assert code == 3


def test_microsoft_365_domain(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("tenant.test", "@ MX 0 tenant-test.mail.protection.outlook.com.")
    code, doc = check(capsys, lab, "tenant.test")
    outlook = doc["clients"]["outlook"]
    # REFERENCE.md §2: "Outlook 2016+ asks Microsoft 365 first ("direct connect"),
    # whatever DNS says" -- and here DNS says Microsoft 365 (MX at
    # mail.protection.outlook.com).
    assert outlook["outcome"] == "configured"
    assert outlook["via"] == "Microsoft 365 (direct connect)"
    assert outlook["step"] == "microsoft365"
    assert outlook["exchange_url"]
    # Apple: "Microsoft Exchange" is a built-in account type; the device uses Autodiscover.
    assert doc["clients"]["apple-mail"]["outcome"] == "configured"
    assert code == 3


def test_domain_served_by_automx2(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("mx2.test")
    lab.dovecot("imap.mx2.test")
    lab.smtp("smtp.mx2.test")
    servers = (MailServer("imap", "imap.mx2.test", 993), MailServer("smtp", "smtp.mx2.test", 587))
    start_automx2(lab, [MailDomain("mx2.test", "MX2 Mail", servers)])
    code, doc = check(capsys, lab, "mx2.test")
    tb = doc["clients"]["thunderbird"]
    # FetchConfig.sys.mjs: `callArgs = { urlArgs: { emailaddress: emailAddress } }` -- the
    # address is sent, so automx2 answers; readFromXML accepts its "plain"
    # (`// @deprecated TODO remove` / `plain: Ci.nsMsgAuthMethod.passwordCleartext`).
    assert tb["outcome"] == "configured"
    assert tb["via"].startswith("autoconfig https://autoconfig.mx2.test/")
    assert server(tb["outgoing"]) == ("smtp.mx2.test", 587, "starttls")
    android = doc["clients"]["thunderbird-android"]
    # RealAutoDiscoveryRegistry: `includeEmailAddress = false` -- automx2 answers 400
    # without ?emailaddress=, so the app finds nothing.
    assert android["outcome"] == "manual"
    assert "needs-address" in codes(android)
    outlook = doc["clients"]["outlook"]
    # MS-OXDSCLI: POST https://autodiscover.<domain>/autodiscover/autodiscover.xml -- automx2
    # answers the POX request with the same servers.
    assert outlook["outcome"] == "configured"
    assert server(outlook["incoming"]) == ("imap.mx2.test", 993, "ssl")
    assert statuses(doc)["autoconfig-no-address"] == "warning"
    assert statuses(doc)["consistency"] == "ok"
    assert code == 3


def test_android_parser_refuses_what_thunderbird_reads(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("oldauth.test")
    lab.dovecot("imap.oldauth.test")
    lab.smtp("smtp.oldauth.test")
    config = client_config(
        "oldauth.test", ("imap.oldauth.test", 993, "SSL"), ("smtp.oldauth.test", 465, "SSL")
    ).replace("password-cleartext", "plain")
    publish_autoconfig(lab, "oldauth.test", config)
    code, doc = check(capsys, lab, "oldauth.test")
    # readFromXML.sys.mjs: `plain: Ci.nsMsgAuthMethod.passwordCleartext` (deprecated, read).
    assert doc["clients"]["thunderbird"]["outcome"] == "configured"
    android = doc["clients"]["thunderbird-android"]
    # RealAutoconfigParser.kt: `else -> { Timber.d("Ignoring unknown 'authentication'
    # value ...") }`, then `parserError("No usable 'authentication' element found")`.
    assert android["outcome"] == "manual"
    assert "android-parser" in codes(android)
    assert any("No usable 'authentication'" in p["message"] for p in android["problems"])
    assert code == 3


# ------------------------------------------------------------------ output and input


def test_text_report_and_html_file(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab.zone("txt.test")
    page = tmp_path / "report.html"
    code, out, err = run_cli(
        capsys,
        "check",
        "txt.test",
        "--html",
        str(page),
        "--dns",
        lab.dns_spec,
        "--ca-file",
        str(lab.ca_file),
        "--ispdb-url",
        ISPDB,
        "--timeout",
        "5",
    )
    assert code == 3
    assert err == ""
    assert "Thunderbird for Android: the user must type the settings" in out
    assert "Grade: F" in out
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in text
    assert "<script" not in text
    assert "txt.test" in text
    # Never over an existing file without --force.
    code, _out, err = run_cli(
        capsys, "check", "txt.test", "--html", str(page), "--dns", lab.dns_spec, "--timeout", "2"
    )
    assert code == 1
    assert "--force" in err


def test_domains_file_streams_json_lines(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab.zone("one.test")
    lab.zone("two.test")
    listing = tmp_path / "domains.txt"
    listing.write_text("# customers\none.test\n\ntwo.test\nnot a domain\n", encoding="utf-8")
    code, out, err = run_cli(
        capsys,
        "check",
        "--domains",
        str(listing),
        "--jobs",
        "2",
        "--dns",
        lab.dns_spec,
        "--ispdb-url",
        ISPDB,
        "--timeout",
        "5",
    )
    assert err == ""
    docs = [json.loads(line) for line in out.splitlines()]
    assert sorted(d["domain"] for d in docs) == ["not a domain", "one.test", "two.test"]
    bad = next(d for d in docs if d["domain"] == "not a domain")
    assert bad["line"] == 5
    assert bad["error"]
    assert code == 1  # a line could not be checked


def test_domains_in_worker_processes_with_html(
    lab: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab.zone("w1.test")
    lab.zone("w2.test")
    lab.zone("w3.test")
    lab.dovecot("imap.w2.test")
    lab.smtp("smtp.w2.test")
    listing = tmp_path / "domains.txt"
    listing.write_text("w1.test\nw2.test\nw3.test\n", encoding="utf-8")
    page = tmp_path / "all.html"
    code, out, err = run_cli(
        capsys,
        "check",
        "--domains",
        str(listing),
        "--processes",
        "2",
        "--jobs",
        "2",
        "--html",
        str(page),
        "--lang",
        "fr",
        "--dns",
        lab.dns_spec,
        "--ca-file",
        str(lab.ca_file),
        "--ispdb-url",
        ISPDB,
        "--timeout",
        "5",
    )
    assert err == ""
    docs = {d["domain"]: d for d in map(json.loads, out.splitlines())}
    assert sorted(docs) == ["w1.test", "w2.test", "w3.test"]
    # GuessConfig.sys.mjs `_hostnamesToTry`: imap.<domain> is the first guess -- found
    # by the worker process as in this one.
    tb = docs["w2.test"]["clients"]["thunderbird"]
    assert tb["via"] == "essais"  # the worker speaks the run's language
    assert tb["step"] == "guess"
    assert server(tb["incoming"]) == ("imap.w2.test", 993, "ssl")
    text = page.read_text(encoding="utf-8")
    assert text.count("<h2>") == 3
    assert text.rstrip().endswith("</html>")
    assert code == 3


def test_french_report(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("fr.test")
    code, out, _err = run_cli(
        capsys,
        "check",
        "fr.test",
        "--lang",
        "fr",
        "--dns",
        lab.dns_spec,
        "--ispdb-url",
        ISPDB,
        "--timeout",
        "5",
    )
    assert code == 3
    assert "Note\u202f: F" in out
    assert "Thunderbird for Android\u202f: l'utilisateur doit saisir les paramètres" in out


def test_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(capsys, "check")[0] == 2
    code, _out, err = run_cli(capsys, "check", "a..b")
    assert code == 1
    assert "empty label" in err
    code, _out, err = run_cli(capsys, "check", "jane@example.test")
    assert code == 1
    assert "give the domain, not an address (e.g. 'example.test')" in err or (
        "give the domain, not an address (e.g. example.test)" in err
    )
    code, _out, err = run_cli(capsys, "check", "--domains", str(tmp_path / "missing.txt"))
    assert code == 1
    assert "cannot read" in err


def test_progress_bar_on_a_terminal(lab: Lab, tmp_path: Path) -> None:
    import os
    import sys

    import pexpect

    lab.zone("tty1.test")
    lab.zone("tty2.test")
    listing = tmp_path / "domains.txt"
    listing.write_text("tty1.test\ntty2.test\n", encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(PYTHONPATH=str(root), COLUMNS="100", LINES="24", TERM="xterm", LANG="C.UTF-8")
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "advisor",
            "check",
            "--domains",
            str(listing),
            "--jobs",
            "2",
            "--timeout",
            "5",
            "--dns",
            lab.dns_spec,
            "--ispdb-url",
            ISPDB,
        ],
        env=env,
        cwd=str(root),
        encoding="utf-8",
        timeout=60,
        dimensions=(24, 100),
    )
    output = child.read()
    child.close()
    # The bar counts domains done of all, with the failures and an ETA (rich, on stderr);
    # the JSON lines (stdout) share the terminal here.
    assert re.search(r"Domains.*2/2.*0 failed", output)
    assert output.count('"schema": "advisor.check/1"') == 2
    assert child.exitstatus == 3


def test_domains_file_that_is_not_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_bytes(b"ok.test\n\xff\xfe bad\n")
    code, out, err = run_cli(capsys, "check", "--domains", str(listing))
    assert code == 1
    assert "line 2: not UTF-8 text" in err
    assert out == ""  # a bad file stops the run before anything is checked
