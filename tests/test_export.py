"""`advisor export`, `advisor autoconfig` and `advisor lint` from the command line.

Saved discovery reports stand in for the network here (the discovery itself
is tested against the lab elsewhere); what is checked is that every written
file is whole, parses back with an independent reader, says what was meant,
and never holds a password.
"""

from __future__ import annotations

import configparser
import json
import plistlib
from pathlib import Path
from typing import Any

import pytest

from advisor.formats.autodiscover import parse_response
from advisor.formats.mozilla import parse_client_config
from advisor.formats.thunderbird import check_account_graph, parse_user_js
from tests.test_discovery import run_cli

ROOT = Path(__file__).resolve().parents[1]
ISPDB = ROOT.parent / "shared" / "ispdb"


def server(protocol: str, host: str, port: int, security: str, **extra: Any) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "hostname": host,
        "port": port,
        "security": security,
        "username": extra.pop("username", "jane@example.test"),
        "auth": ["PLAIN"],
        "verified": True,
        "sources": ["autoconfig"],
        "stated_auth": extra.pop("stated_auth", ["password-cleartext"]),
        **extra,
    }


def report(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema": "advisor.discovery/1",
        "address": "jane@example.test",
        "domain": "example.test",
        "domain_ascii": "example.test",
        "incoming": [
            server("imap", "imap.example.test", 993, "ssl"),
            server("pop3", "pop.example.test", 995, "ssl"),
        ],
        "outgoing": [server("smtp", "smtp.example.test", 587, "starttls")],
        "exchange": None,
        "provider": {"id": "example.test", "name": "Example Mail", "hosted_by": None},
        "steps": [],
        "warnings": [],
        "elapsed_ms": 1.0,
        "live": True,
    }
    base.update(changes)
    return base


def save(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc))
    return path


def export(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, doc: dict[str, Any], *args: str
) -> tuple[int, str, str, Path]:
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        capsys,
        "export",
        doc["address"],
        "--from-json",
        str(save(tmp_path, doc)),
        "--out",
        str(out),
        *args,
    )
    return code, stdout, stderr, out


def no_password_anywhere(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_bytes().lower()
            assert b"correct horse" not in text
            assert b"<key>incomingpassword</key>" not in text
            assert b"<key>outgoingpassword</key>" not in text
            assert not path.name.startswith(".")  # no temp file left behind


def test_imap_export_for_every_client(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, stdout, stderr, out = export(
        capsys, tmp_path, report(), "--laptops", "1", "--phones", "1", "--name", "Jane Doe"
    )
    assert code == 0, stderr
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == [
        "README.txt",
        "apple/example.test.mobileconfig",
        "outlook/autodiscover-example.test.reg",
        "outlook/autodiscover-example.test.xml",
        "outlook/example.test.prf",
        "thunderbird/enterprise/defaults/pref/autoconfig.js",
        "thunderbird/enterprise/mozilla.cfg",
        "thunderbird/example.test.xml",
        "thunderbird/user.js",
    ]
    assert "IMAP settings for jane@example.test" in stdout
    # Thunderbird isp/ file: our own parser reads back the same servers, with placeholders.
    config = parse_client_config((out / "thunderbird/example.test.xml").read_bytes())
    provider = config.providers[0]
    assert [
        (s.hostname, s.port, s.security.value if s.security else None, s.username)
        for s in provider.incoming
    ] == [("imap.example.test", 993, "ssl", "%EMAILADDRESS%")]
    assert provider.outgoing[0].port == 587
    prefs = parse_user_js((out / "thunderbird/user.js").read_text())
    assert check_account_graph(prefs) == []
    assert "imap.example.test" in prefs.values()
    assert "Jane Doe" in prefs.values()
    # Outlook: the POX answer parses back; the PRF is INI.
    pox = parse_response((out / "outlook/autodiscover-example.test.xml").read_bytes())
    assert {p.type for p in pox.protocols} >= {"IMAP", "SMTP"}
    prf = configparser.ConfigParser(interpolation=None, strict=False)
    prf.read_string((out / "outlook/example.test.prf").read_text(encoding="utf-16"))
    assert prf.has_section("Account1")
    # Apple: a plist.
    profile = plistlib.loads((out / "apple/example.test.mobileconfig").read_bytes())
    assert profile["PayloadContent"][0]["PayloadType"] == "com.apple.mail.managed"
    readme = (out / "README.txt").read_text()
    assert "No file contains a password" in readme
    assert "isp" in readme
    no_password_anywhere(out)


def test_pop3_export_keeps_the_leave_on_server_choice(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, stderr, out = export(
        capsys,
        tmp_path,
        report(),
        "--protocol",
        "pop3",
        "--client",
        "thunderbird",
        "--desktops",
        "1",
        "--phones",
        "0",
        "--no-backed-up",
    )
    assert code == 0, stderr
    prefs = parse_user_js((out / "thunderbird/user.js").read_text())
    assert prefs.get("mail.server.server1.type") == "pop3"
    assert prefs.get("mail.server.server1.leave_on_server") is True
    assert prefs.get("mail.server.server1.num_days_to_leave_on_server") == 14
    config = parse_client_config((out / "thunderbird/example.test.xml").read_bytes())
    pop3 = config.providers[0].incoming[0]
    assert pop3.pop3 is not None
    assert pop3.pop3.leave_messages_on_server is True
    assert "14 days" in (out / "README.txt").read_text()


def test_exchange_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = report(
        exchange={
            "ews_url": "https://mail.example.test/EWS/Exchange.asmx",
            "activesync_url": "https://mail.example.test/Microsoft-Server-ActiveSync",
            "autodiscover_url": None,
            "auth": ["NTLM", "Negotiate"],
            "hosted": "on-premises",
        }
    )
    code, _, stderr, out = export(capsys, tmp_path, doc, "--protocol", "exchange", "--lang", "fr")
    assert code == 0, stderr
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "apple/example.test.mobileconfig" in names
    assert "thunderbird/user.js" not in names  # no Thunderbird file for Exchange: README says why
    profile = plistlib.loads((out / "apple/example.test.mobileconfig").read_bytes())
    assert profile["PayloadContent"][0]["PayloadType"] == "com.apple.eas.account"
    readme = (out / "README.txt").read_text()
    assert "Exchange" in readme
    assert "nouvel Outlook" in readme
    no_password_anywhere(out)


def test_existing_files_are_refused_then_replaced_with_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, _, out = export(capsys, tmp_path, report(), "--client", "apple")
    assert code == 0
    profile = out / "apple/example.test.mobileconfig"
    profile.write_bytes(b"edited by hand")
    code, _, stderr, _ = export(capsys, tmp_path, report(), "--client", "apple")
    assert code == 1
    assert "already exist" in stderr
    assert "--force" in stderr
    assert profile.read_bytes() == b"edited by hand"  # nothing was touched
    code, _, _, _ = export(capsys, tmp_path, report(), "--client", "apple", "--force")
    assert code == 0
    assert profile.read_bytes().startswith(b"<?xml")


def test_plaintext_only_server_is_not_exported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = report(incoming=[server("imap", "imap.example.test", 143, "plain")])
    code, _, stderr, out = export(capsys, tmp_path, doc, "--protocol", "imap")
    assert code == 1
    assert "clear text" in stderr
    assert not out.exists()


def test_missing_protocol_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, stderr, _ = export(capsys, tmp_path, report(), "--protocol", "exchange")
    assert code == 1
    assert "no Exchange server" in stderr


def test_oauth2_provider_selects_oauth2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = report(
        provider={
            "id": "microsoft365",
            "name": "Microsoft 365",
            "hosted_by": "microsoft365",
            "requires_oauth2": True,
        },
        incoming=[server("imap", "outlook.office365.com", 993, "ssl")],
        outgoing=[server("smtp", "smtp.office365.com", 587, "starttls")],
    )
    code, _, stderr, out = export(
        capsys, tmp_path, doc, "--protocol", "imap", "--client", "thunderbird"
    )
    assert code == 0, stderr
    prefs = parse_user_js((out / "thunderbird/user.js").read_text())
    assert prefs.get("mail.server.server1.authMethod") == 10  # OAuth2
    config = parse_client_config((out / "thunderbird/example.test.xml").read_bytes())
    assert config.providers[0].incoming[0].auth == ("OAuth2",)
    assert "OAuth2" in (out / "README.txt").read_text()


def test_autoconfig_for_domain_admins(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "config-v1.1.xml"
    code, stdout, stderr = run_cli(
        capsys,
        "autoconfig",
        "bücher.example",
        "--out",
        str(target),
        "--imap",
        "imap.xn--bcher-kva.example:993:ssl",
        "--pop3",
        "pop.xn--bcher-kva.example:995:ssl",
        "--smtp",
        "smtp.xn--bcher-kva.example:587:starttls",
        "--name",
        "Bücher Mail",
    )
    assert code == 0, stderr
    assert "https://autoconfig.xn--bcher-kva.example/mail/config-v1.1.xml" in stdout
    assert "_imaps._tcp.xn--bcher-kva.example. IN SRV 0 1 993 imap.xn--bcher-kva.example." in stdout
    config = parse_client_config(target.read_bytes())
    provider = config.providers[0]
    assert provider.domains == ("xn--bcher-kva.example",)
    assert [s.kind for s in provider.incoming] == ["imap", "pop3"]
    assert provider.incoming[0].username == "%EMAILADDRESS%"
    pox_target = tmp_path / "autodiscover.xml"
    code, stdout, _ = run_cli(
        capsys,
        "autoconfig",
        "bücher.example",
        "--out",
        str(pox_target),
        "--format",
        "autodiscover",
        "--imap",
        "imap.xn--bcher-kva.example:993:ssl",
        "--smtp",
        "smtp.xn--bcher-kva.example:465:ssl",
    )
    assert code == 0
    assert "_autodiscover._tcp" in stdout
    assert {p.type for p in parse_response(pox_target.read_bytes()).protocols} == {"IMAP", "SMTP"}
    # A second run does not overwrite.
    code, _, stderr = run_cli(
        capsys,
        "autoconfig",
        "bücher.example",
        "--out",
        str(target),
        "--imap",
        "imap.xn--bcher-kva.example:993:ssl",
        "--smtp",
        "smtp.xn--bcher-kva.example:587:starttls",
    )
    assert code == 1
    assert "already exist" in stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--imap", "imap.x.example:143:plain", "--smtp", "s.x.example:587:starttls"],
            "plain would send",
        ),
        (["--imap", "imap.x.example", "--smtp", "s.x.example:587:starttls"], "HOST:PORT:SECURITY"),
        (["--imap", "imap.x.example:993:ssl"], "one --smtp server"),
        (["--imap", "bad host:993:ssl", "--smtp", "s.x.example:587:starttls"], "not a host name"),
    ],
)
def test_autoconfig_bad_server_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    code, _, stderr = run_cli(
        capsys, "autoconfig", "x.example", "--out", str(tmp_path / "c.xml"), *args
    )
    assert code == 1
    assert words in stderr


@pytest.mark.skipif(
    not ISPDB.is_dir(), reason=f"the ISPDB corpus is not at {ISPDB} (CI has it there)"
)
def test_lint_cli_over_ispdb_samples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "lint", str(ISPDB / "arubapec.it.xml"), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["files"][0]["errors"]
    code, out, _ = run_cli(capsys, "lint", str(ISPDB / "gmx.net.xml"))
    assert code == 0


def test_lint_checks_every_file_even_after_a_missing_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "good.xml"
    bad = tmp_path / "bad.xml"
    good.write_text(
        '<clientConfig version="1.1"><emailProvider id="example.test">'
        "<domain>example.test</domain>"
        '<incomingServer type="imap"><hostname>imap.example.test</hostname><port>993</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></incomingServer>"
        '<outgoingServer type="smtp"><hostname>smtp.example.test</hostname><port>465</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></outgoingServer>"
        "</emailProvider></clientConfig>"
    )
    bad.write_text("<clientConfig>")
    missing = tmp_path / "missing.xml"
    code, out, err = run_cli(capsys, "lint", str(good), str(bad), str(missing), "--json")
    assert code == 1
    assert err == ""
    files = {Path(f["file"]).name: f for f in json.loads(out)["files"]}
    assert files["good.xml"]["errors"] == []
    assert files["bad.xml"]["errors"][0]["code"] == "parse"
    assert files["missing.xml"]["errors"][0]["code"] == "unreadable"
    code, out, _ = run_cli(capsys, "lint", str(missing), str(good))
    assert code == 1
    assert "missing.xml: error [unreadable] file: cannot read" in out


@pytest.mark.lab
def test_autoconfig_from_live_discovery(
    lab: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab.zone("admin.test", "_imaps._tcp SRV 0 1 993 imap.admin.test.")
    lab.dovecot("imap.admin.test")
    lab.smtp("smtp.admin.test")
    target = tmp_path / "config-v1.1.xml"
    code, stdout, stderr = run_cli(
        capsys,
        "autoconfig",
        "admin.test",
        "--out",
        str(target),
        "--dns",
        lab.dns_spec,
        "--ca-file",
        str(lab.ca_file),
    )
    assert code == 0, stderr
    provider = parse_client_config(target.read_bytes()).providers[0]
    assert (provider.incoming[0].hostname, provider.incoming[0].port) == ("imap.admin.test", 993)
    assert provider.incoming[0].username == "%EMAILADDRESS%"
    assert provider.outgoing[0].hostname == "smtp.admin.test"
    assert "autoconfig.admin.test" in stdout
    # What we write, our linter accepts.
    code, _, _ = run_cli(capsys, "lint", str(target))
    assert code == 0


@pytest.mark.parametrize(
    ("provider_id", "written"),
    [
        ("Example Mail", "example.test"),
        ("Mail.Example.TEST", "mail.example.test"),
        (None, "example.test"),
    ],
)
def test_provider_id_is_always_a_host_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, provider_id: str | None, written: str
) -> None:
    """A domain's own autoconfig may name its provider freely; Thunderbird refuses a
    whole file whose <emailProvider id> is not a host name (tests/thunderbird)."""
    doc = report(provider={"id": provider_id, "name": "Example Mail", "hosted_by": None})
    code, _out, err, out = export(capsys, tmp_path, doc, "--protocol", "imap")
    assert code == 0, err
    parsed = parse_client_config((out / "thunderbird" / "example.test.xml").read_bytes())
    assert [p.id for p in parsed.providers] == [written]
    lint_code, lint_out, _ = run_cli(capsys, "lint", str(out / "thunderbird" / "example.test.xml"))
    assert "provider-id" not in lint_out, lint_out
    assert lint_code == 0
