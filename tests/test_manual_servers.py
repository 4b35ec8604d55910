"""Servers the person gives (--imap/--pop3/--smtp/--ews, --config-dir, --protocol), on
every command, in an answers file, and against the lab's unknown domain.

The unknown domain ``nothing.test`` publishes nothing (its zone has only SOA/NS):
no MX, no SRV, no autoconfig. Its mail is on real servers of another zone
(``imap.mailhost.test``, ``smtp.mailhost.test``) that only the person knows about.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import typer.main

from advisor.cli import app
from advisor.cli_servers import SERVER_FIELDS
from advisor.errors import AdvisorError
from advisor.manual import ManualServers, from_values, parse_ews
from tests.lab.servers import Lab
from tests.test_discovery import run_cli

ADDRESS = "jane@nothing.test"
PASSWORD = "correct horse"
IMAP = "imap.mailhost.test:993:ssl"
SMTP = "smtp.mailhost.test:465:ssl"

# The smallest arguments each command runs with (before any network use).
COMMANDS: dict[str, tuple[str, ...]] = {
    "discover": (ADDRESS,),
    "recommend": (ADDRESS,),
    "export": (ADDRESS, "--out", "out"),
    "wizard": (ADDRESS,),
    "onboard": ("staff.csv", "--out", "out"),
    "verify": (ADDRESS,),
}


# ------------------------------------------------------------------ one table, every command


def _params(name: str) -> dict[str, Any]:
    group: Any = typer.main.get_command(app)
    command = group.commands[name]
    return {opt: p for p in command.params for opt in p.opts}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_the_same_server_options(command: str) -> None:
    params = _params(command)
    for field in SERVER_FIELDS:
        if command == "discover" and field.name == "protocol":
            assert field.flag not in params  # discovery chooses no protocol
            continue
        assert field.flag in params, f"{command} lacks {field.flag}"
        param = params[field.flag]
        assert param.metavar == field.metavar, (command, field.flag)
        assert param.multiple is field.repeatable, (command, field.flag)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--imap", "imap.example.com:993", "--imap 'imap.example.com:993': expected HOST:PORT"),
        ("--smtp", "smtp.example.com:25:plain", "security must be ssl or starttls"),
        ("--pop3", "pop.example.com:99999:ssl", "the port must be from 1 to 65535"),
        ("--ews", "http://mail.example.com/EWS/Exchange.asmx", "must start with https://"),
        ("--protocol", "mapi", "--protocol 'mapi': expected imap, pop3 or exchange"),
    ],
)
def test_every_command_checks_them_alike(
    command: str,
    flag: str,
    value: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if command == "discover" and flag == "--protocol":
        return
    monkeypatch.chdir(tmp_path)
    (tmp_path / "staff.csv").write_text("email\njane@nothing.test\n")
    code, out, err = run_cli(capsys, command, *COMMANDS[command], flag, value)
    assert code == 1, out + err
    assert err.startswith("advisor: error: "), err
    assert err.count("\n") == 1, err
    assert message in err
    assert list(tmp_path.iterdir()) == [tmp_path / "staff.csv"]  # nothing written


# ------------------------------------------------------------------ parsing


def test_values_from_every_place_are_checked_the_same_way(tmp_path: Path) -> None:
    flags = from_values({"imap": [IMAP], "smtp": [SMTP], "protocol": "IMAP"}, flags=True)
    cells = from_values({"imap": IMAP, "smtp": SMTP, "protocol": "imap"}, where="line 2: ")
    assert flags == cells
    assert flags.describe() == f"imap {IMAP}, smtp {SMTP}"
    with pytest.raises(AdvisorError, match=r"^line 2: imap 'x:1:tls'"):
        from_values({"imap": "x:1:tls"}, where="line 2: ")
    with pytest.raises(AdvisorError, match=r"unknown server setting 'config_dir'"):
        from_values({"config_dir": str(tmp_path)}, where="line 2: ")  # not in files
    several = from_values({"imap": "a.test:993:ssl; b.test:143:starttls"})
    assert [s.hostname for s in several.imap] == ["a.test", "b.test"]


def test_ews_url_or_host_name() -> None:
    assert parse_ews("mail.example.com") == "https://mail.example.com/EWS/Exchange.asmx"
    assert (
        parse_ews("https://Mail.Example.com:443/ews/exchange.asmx")
        == "https://mail.example.com/ews/exchange.asmx"
    )
    for bad in ("https://user:pw@mail.example.com/", "ftp://mail.example.com", "https://"):
        with pytest.raises(AdvisorError):
            parse_ews(bad)


def test_a_row_overrides_its_domain_setting_by_setting() -> None:
    domain = from_values({"imap": IMAP, "smtp": SMTP})
    row = from_values({"smtp": "smtp2.mailhost.test:587:starttls", "protocol": "imap"})
    merged = row.over(domain)
    assert merged.imap == domain.imap
    assert [s.hostname for s in merged.smtp] == ["smtp2.mailhost.test"]
    assert merged.protocol == "imap"
    assert not ManualServers()
    assert ManualServers().over(domain) == domain


# ------------------------------------------------------------------ the lab's unknown domain


@pytest.fixture
def unknown(lab: Lab) -> Lab:
    """nothing.test publishes nothing; its mail lives at mailhost.test."""
    lab.zone("nothing.test")
    users = {ADDRESS: PASSWORD}
    lab.dovecot("imap.mailhost.test", users=users)
    lab.smtp("smtp.mailhost.test", users=users)
    return lab


def lab_args(lab: Lab) -> tuple[str, ...]:
    return ("--dns", lab.dns_spec, "--ca-file", str(lab.ca_file), "--timeout", "5")


@pytest.mark.lab
def test_given_servers_are_probed_and_marked_given(
    unknown: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "discover", ADDRESS, "--json", *lab_args(unknown), "--imap", IMAP, "--smtp", SMTP
    )
    doc = json.loads(out)
    assert code == 0, err
    first_in, first_out = doc["incoming"][0], doc["outgoing"][0]
    assert (first_in["hostname"], first_in["verified"]) == ("imap.mailhost.test", True)
    assert first_in["sources"] == ["given"]
    assert first_in["probe"]["status"] == "ok"  # probed like any discovered server
    assert (first_out["hostname"], first_out["sources"]) == ("smtp.mailhost.test", ["given"])
    code, out, err = run_cli(capsys, "discover", ADDRESS, *lab_args(unknown), "--imap", IMAP)
    assert "(from given)" in " ".join(out.split()), out


@pytest.mark.lab
def test_export_of_an_unknown_domain_says_what_to_give_then_uses_it(
    unknown: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, _out, err = run_cli(capsys, "export", ADDRESS, "--out", str(out), *lab_args(unknown))
    assert code == 1
    assert "another --protocol" not in err
    assert "--imap HOST:PORT:ssl|starttls" in err
    assert "--smtp" in err
    assert "--config-dir DIR holding nothing.test.xml" in err
    assert not out.exists()
    code, _stdout, err = run_cli(
        capsys,
        "export",
        ADDRESS,
        "--out",
        str(out),
        "--client",
        "thunderbird",
        *lab_args(unknown),
        "--imap",
        IMAP,
        "--smtp",
        SMTP,
    )
    assert code == 0, err
    xml = (out / "thunderbird" / "nothing.test.xml").read_text()
    assert "<hostname>imap.mailhost.test</hostname>" in xml
    assert "<hostname>smtp.mailhost.test</hostname>" in xml


@pytest.mark.lab
def test_forced_protocol_that_cannot_be_set_up_names_the_flags(
    unknown: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = run_cli(
        capsys,
        "export",
        ADDRESS,
        "--out",
        str(tmp_path / "out"),
        *lab_args(unknown),
        "--imap",
        IMAP,
        "--smtp",
        SMTP,
        "--protocol",
        "pop3",
    )
    assert code == 1
    assert "discovery found no POP3 server for nothing.test" in err
    assert "choose --protocol imap" in err


@pytest.mark.lab
def test_recommend_and_an_answers_file_carry_the_servers(
    unknown: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text(
        f'clients = ["thunderbird"]\n\n[servers]\nimap = ["{IMAP}"]\nsmtp = "{SMTP}"\n'
    )
    code, out, err = run_cli(
        capsys, "recommend", ADDRESS, "--json", "--answers", str(answers), *lab_args(unknown)
    )
    doc = json.loads(out)
    assert code == 0, err
    assert doc["facts"]["offers.imap"] is True
    assert (doc["setup"]["protocol"], doc["setup"]["problem"]) == ("imap", "")
    # Without the servers, recommend says what an export would lack.
    code, out, err = run_cli(capsys, "recommend", ADDRESS, "--json", *lab_args(unknown))
    assert "--imap HOST:PORT" in json.loads(out)["setup"]["problem"]


@pytest.mark.lab
def test_verify_logs_in_to_the_given_servers(
    unknown: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = run_cli(
        capsys,
        "verify",
        ADDRESS,
        "--password-stdin",
        "--json",
        "--dns",
        unknown.dns_spec,
        "--ca-file",
        str(unknown.ca_file),
        "--imap",
        IMAP,
        "--smtp",
        SMTP,
    )
    doc: dict[str, Any] = json.loads(out)
    assert code == 0, out + err
    hosts = {c["host"]: c["result"] for c in doc["checks"]}
    assert hosts == {"imap.mailhost.test": "ok", "smtp.mailhost.test": "ok"}


def test_saved_report_gets_the_given_servers_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = {
        "schema": "advisor.discovery/1",
        "address": ADDRESS,
        "domain": "nothing.test",
        "domain_ascii": "nothing.test",
        "incoming": [],
        "outgoing": [],
        "exchange": None,
        "provider": None,
        "steps": [],
        "warnings": [],
        "live": True,
    }
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report))
    out = tmp_path / "out"
    code, _stdout, err = run_cli(
        capsys,
        "export",
        ADDRESS,
        "--from-json",
        str(saved),
        "--out",
        str(out),
        "--client",
        "apple",
        "--pop3",
        "pop.mailhost.test:995:ssl",
        "--smtp",
        SMTP,
    )
    assert code == 0, err
    profile = (out / "apple" / "nothing.test.mobileconfig").read_bytes()
    assert b"pop.mailhost.test" in profile
    assert b"EmailTypePOP" in profile


# ------------------------------------------------------------------ onboarding


def onboard_cli(
    capsys: pytest.CaptureFixture[str], lab: Lab, tmp_path: Path, staff: str, *extra: str
) -> tuple[int, str, dict[int, dict[str, str]]]:
    import csv

    csv_path = tmp_path / "staff.csv"
    csv_path.write_text(staff, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        capsys,
        "onboard",
        str(csv_path),
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        *lab_args(lab),
        *extra,
    )
    assert err == "", err
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = {int(row["line"]): row for row in csv.DictReader(handle)}
    return code, stdout, rows


@pytest.mark.lab
@pytest.mark.parametrize("processes", ["1", "2"])
def test_onboarding_an_unknown_domain_with_a_servers_file(
    unknown: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path, processes: str
) -> None:
    """In this process, and in worker processes (they get the rows' servers too)."""
    staff = (
        "email,name,clients\njane@nothing.test,Jane,thunderbird\nzoe@nothing.test,Zoé,apple-mail\n"
    )
    code, stdout, rows = onboard_cli(capsys, unknown, tmp_path, staff)
    assert code == 1  # nothing published, nothing given: both rows fail, saying what to give
    for row in rows.values():
        assert row["status"] == "failed"
        assert "--imap HOST:PORT" in row["message"]
    servers = tmp_path / "servers.csv"
    servers.write_text(f"domain;imap;smtp\nnothing.test;{IMAP};{SMTP}\n")
    code, stdout, rows = onboard_cli(
        capsys, unknown, tmp_path, staff, "--servers", str(servers), "--processes", processes
    )
    assert code == 0, stdout
    assert [(r["status"], r["protocol"]) for r in rows.values()] == [("done", "imap")] * 2
    xml = (tmp_path / "out" / "jane@nothing.test" / "thunderbird" / "nothing.test.xml").read_text()
    assert "<hostname>imap.mailhost.test</hostname>" in xml
    sheet = (tmp_path / "out" / "zoe@nothing.test" / "setup-sheet.md").read_text()
    assert "smtp.mailhost.test" in sheet
    assert f"nothing.test [imap {IMAP}, smtp {SMTP}]" in stdout  # the discovery, as given


@pytest.mark.lab
def test_onboarding_row_columns_win_and_fallback_is_explained(
    unknown: Lab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pop3 = "imap.mailhost.test:995:ssl"  # Dovecot there speaks POP3 too
    staff = (
        "email,microsoft,calendars,collaborative,imap,pop3,smtp,protocol\n"
        f"boss@nothing.test,exchange,share,yes,{IMAP},,{SMTP},\n"
        f"pop@nothing.test,,,,,{pop3},{SMTP},pop3\n"
    )
    # Offline: nothing can be checked, so Exchange is not ruled out; it is recommended
    # to the first row, and cannot be set up: IMAP, the next choice, is.
    code, stdout, rows = onboard_cli(capsys, unknown, tmp_path, staff, "--offline")
    assert code == 0, stdout
    boss, pop = rows[2], rows[3]
    assert (boss["status"], boss["protocol"]) == ("done", "imap")
    assert "Exchange was recommended, but discovery found no Exchange server" in boss["message"]
    sheet = (tmp_path / "out" / "boss@nothing.test" / "setup-sheet.md").read_text()
    assert "not the recommended Exchange" in sheet
    assert "Reason: discovery found no Exchange server for nothing.test." in sheet
    assert (pop["status"], pop["protocol"], pop["message"]) == ("done", "pop3", "")
    xml = (tmp_path / "out" / "pop@nothing.test" / "thunderbird" / "nothing.test.xml").read_text()
    assert '<incomingServer type="pop3">' in xml
    assert "<port>995</port>" in xml


def test_onboarding_refuses_a_bad_servers_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "staff.csv").write_text("email\njane@nothing.test\n")
    servers = tmp_path / "servers.csv"
    for text, message in (
        ("imap,smtp\nx:1:ssl,y:2:ssl\n", "expected a 'domain' column"),
        ("domain,imap\nnothing.test,imap.x.test:993:plain\n", "line 2: imap 'imap.x.test"),
        ("domain,imap\nnothing.test,a.test:1:ssl\nNOTHING.test,b.test:1:ssl\n", "twice"),
        ("domain,password\nnothing.test,x\n", "unknown server setting 'password'"),
    ):
        servers.write_text(text)
        code, _out, err = run_cli(
            capsys,
            "onboard",
            str(tmp_path / "staff.csv"),
            "--out",
            str(tmp_path / "out"),
            "--servers",
            str(servers),
            "--offline",
        )
        assert code == 1
        assert message in err
        assert err.count("\n") == 1
        assert not (tmp_path / "out").exists()
