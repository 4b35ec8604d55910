"""A saved report is hostile input: crafted ``--from-json`` documents, through the CLI.

Each case here is one of issue 16's crafted inputs. Every one must end in a
one-line error (exit 1 or 2), write nothing anywhere, and never send a password
to a server the user did not choose (Dovecot's own log is the witness).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from advisor.errors import AdvisorError
from advisor.export import ClientKind, ExportFile
from advisor.formats.plan import ExchangeSetting, ServerSetting, UnsafeValueError
from advisor.models import Protocol, Security
from advisor.report import ReportError, WrongAddressError, from_json
from tests.lab.servers import Lab
from tests.test_discovery import run_cli
from tests.test_export import report, server

Doc = dict[str, Any]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def one_line_error(code: int, err: str) -> str:
    assert code in (1, 2), err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("advisor: error: "), err
    assert "internal error" not in err
    return lines[0]


def export_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, doc: Doc | str, *args: str
) -> str:
    """Run ``export`` of a crafted report into a deep --out; nothing may appear anywhere."""
    work = tmp_path / "work"
    out = work / "d1" / "d2" / "d3" / "out"
    out.parent.mkdir(parents=True)
    saved = tmp_path / "report.json"
    saved.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    code, stdout, err = run_cli(
        capsys,
        "export",
        "jane@example.test",
        "--from-json",
        str(saved),
        "--out",
        str(out),
        "--client",
        "all",
        *args,
    )
    line = one_line_error(code, err)
    assert files_under(work) == [], stdout
    assert "\x1b" not in line
    assert "\u202e" not in line
    return line


def with_server(**changes: Any) -> Doc:
    """The report with its IMAP candidate changed."""
    return report(incoming=[{**server("imap", "imap.example.test", 993, "ssl"), **changes}])


# ---------------------------------------------------------------- path traversal


@pytest.mark.parametrize("client", ["thunderbird", "apple", "outlook"])
def test_a_traversing_domain_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, client: str
) -> None:
    doc = report(domain_ascii="../../../../tmp/x")
    line = export_refused(capsys, tmp_path, doc, "--client", client, "--force")
    assert "domain_ascii" in line


# ---------------------------------------------------------- password to a stranger


def test_export_refuses_a_report_for_another_address(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = report(address="alice@gmx.com", domain="gmx.com", domain_ascii="gmx.com")
    line = export_refused(capsys, tmp_path, doc)
    assert "alice@gmx.com" in line
    assert "jane@example.test" in line


def test_recommend_refuses_a_report_for_another_address(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    saved = tmp_path / "alice.json"
    saved.write_text(json.dumps(report(address="alice@example.test")))
    code, out, err = run_cli(capsys, "recommend", "bob@example.test", "--from-json", str(saved))
    line = one_line_error(code, err)
    assert "alice@example.test" in line
    assert "bob@example.test" in line
    assert out == ""


def test_a_null_address_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = export_refused(capsys, tmp_path, report(address=None))
    assert "address" in line


def test_an_address_with_terminal_escapes_is_never_printed_raw(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    osc = "jane\x1b]0;owned\x07\u009d8;;http://x\u009c@example.test"
    line = export_refused(capsys, tmp_path, report(address=osc))
    assert "\x07" not in line
    assert "\u009d" not in line
    # The command's own ADDRESS too: C1 controls and bidi overrides are refused, escaped.
    for address in ("jane\u009d0;x\u009c@example.test", "jane\u202egnp.exe@example.test"):
        code, _out, err = run_cli(capsys, "recommend", address, "--offline")
        line = one_line_error(code, err)
        assert "\u009d" not in line
        assert "\u202e" not in line
        assert "\u009c" not in line


class TestVerifyWithAnotherMailboxReport:
    """`verify bob --from-json alice.json` sent Bob's password to Alice's servers."""

    DOMAIN = "trust.test"
    ALICE = "alice@trust.test"

    def test_no_login_is_attempted(
        self,
        module_lab: Lab,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        dovecot = module_lab.dovecot(f"imap.{self.DOMAIN}", users={self.ALICE: "alicepw"})
        saved = tmp_path / "alice.json"
        imap = {**server("imap", f"imap.{self.DOMAIN}", 993, "ssl"), "username": self.ALICE}
        doc = report(
            address=self.ALICE,
            domain=self.DOMAIN,
            domain_ascii=self.DOMAIN,
            incoming=[imap],
            outgoing=[],
        )
        saved.write_text(json.dumps(doc))

        def verify(address: str, password: str) -> tuple[int, str, str]:
            monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
            return run_cli(
                capsys,
                "verify",
                address,
                "--from-json",
                str(saved),
                "--password-stdin",
                "--dns",
                module_lab.dns_spec,
                "--ca-file",
                str(module_lab.ca_file),
            )

        code, out, err = verify("bob@example.org", "bobspw")
        line = one_line_error(code, err)
        assert self.ALICE in line
        assert "bob@example.org" in line
        assert "Logging in" not in out
        # Control: Alice's own wrong password is one attempt that Dovecot logs. Once
        # that line is in the log, every earlier attempt would be there too.
        code, out, err = verify(self.ALICE, "wrong")
        assert code == 4, out + err
        deadline = time.monotonic() + 10
        while "auth failed" not in dovecot.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = dovecot.log_path.read_text()
        attempts = [x for x in log.splitlines() if "auth failed" in x or "Login:" in x]
        assert len(attempts) == 1, log
        assert "bobspw" not in log
        assert "bob@example.org" not in log


# ------------------------------------------------------- values no file may carry

BAD_URLS = [
    "http://mail.example.test/EWS/Exchange.asmx",
    "javascript:alert(1)",
    "https://",
    "https://bad host/EWS",
    'https://mail.example.test/"><script>',
    "https://mail.example.test:0/EWS",
    "https://mail.example.test:99999/EWS",
    "https://user:pw@mail.example.test/EWS",
    "https://mail.example.test/\u202eEWS",
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("key", ["ews_url", "activesync_url", "autodiscover_url"])
def test_exchange_urls_must_be_https_with_a_host(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, key: str, url: str
) -> None:
    exchange = {"ews_url": None, "activesync_url": None, "hosted": "on-premises", key: url}
    line = export_refused(capsys, tmp_path, report(exchange=exchange), "--protocol", "exchange")
    assert f"exchange.{key}" in line


@pytest.mark.parametrize("port", [-1, 0, 70000, True, 993.7, 993.0, "993", None, 10**30])
def test_ports_are_integers_from_1_to_65535(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, port: object
) -> None:
    line = export_refused(capsys, tmp_path, with_server(port=port))
    assert "incoming[0].port" in line


def test_a_port_of_1e400_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = json.dumps(with_server(port=12345)).replace("12345", "1e400")
    assert "incoming[0].port" in export_refused(capsys, tmp_path, text)


@pytest.mark.parametrize(
    "host",
    [
        "imap example.test",
        'imap.example.test"',
        "imap.example.test'",
        "<script>alert(1)</script>",
        "imap.\u202etset.example",
        "imap.example.test\x00",
        "a" * 100_000,
        "",
        None,
        "../../etc",
    ],
)
def test_host_names_go_through_the_discovery_normaliser(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, host: object
) -> None:
    line = export_refused(capsys, tmp_path, with_server(hostname=host))
    assert "incoming[0].hostname" in line
    assert len(line) < 300


# ------------------------------------------- internal errors, now one-line errors


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"security": "tls"}, "incoming[0].security"),
        ({"security": None}, "incoming[0].security"),
        ({"protocol": "smtp"}, "incoming[0].protocol"),
        ({"stated_auth": "password-cleartext"}, "incoming[0].stated_auth"),
        ({"stated_auth": ["password-cleartext\n"]}, "incoming[0].stated_auth[0]"),
        ({"auth": [{"x": 1}]}, "incoming[0].auth[0]"),
        ({"username": "%EMAILADDRESS%"}, "incoming[0].username"),
        ({"username": "jane\x00"}, "incoming[0].username"),
        ({"verified": "yes"}, "incoming[0].verified"),
        ({"sources": ["elsewhere"]}, "incoming[0].sources[0]"),
    ],
)
def test_bad_candidates_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, changes: Doc, where: str
) -> None:
    assert where in export_refused(capsys, tmp_path, with_server(**changes))


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"incoming": {"protocol": "imap"}}, "incoming"),
        ({"incoming": [[]]}, "incoming[0]"),
        ({"outgoing": "smtp.example.test"}, "outgoing"),
        ({"schema": "advisor.discovery/2"}, "schema"),
        ({"domain": "example.org"}, "domain"),
        ({"provider": {"id": "x", "name": "Mail\u202e", "hosted_by": None}}, "provider.name"),
        ({"provider": {"id": "x", "name": "x", "requires_oauth2": 1}}, "provider.requires"),
        ({"exchange": {"hosted": "mars"}}, "exchange.hosted"),
        ({"exchange": {"auth": "NTLM"}}, "exchange.auth"),
        ({"live": None}, "live"),
        ({"warnings": ["x" * 5000]}, "warnings[0]"),
        ({"steps": [{"source": "dns"}] * 2000}, "steps"),
    ],
)
def test_bad_documents_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, changes: Doc, where: str
) -> None:
    assert where in export_refused(capsys, tmp_path, report(**changes))


def test_a_lone_surrogate_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = json.dumps(with_server(username="jane")).replace('"jane"', '"ja\\ud800ne"')
    line = export_refused(capsys, tmp_path, text)
    assert "incoming[0].username" in line
    assert "\\ud800" in line


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"schema": "advisor.discovery/1", "x": ' + "9" * 5000 + "}", "\xff"],
)
def test_documents_json_cannot_read_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str
) -> None:
    export_refused(capsys, tmp_path, text)


# ----------------------------------------------------------------- the model


def test_a_saved_report_reads_back_into_the_same_model() -> None:
    doc = report(
        exchange={
            "ews_url": "https://mail.example.test/EWS/Exchange.asmx",
            "activesync_url": None,
            "autodiscover_url": "https://autodiscover.example.test/autodiscover/autodiscover.xml",
            "auth": ["NTLM", "Negotiate"],
            "hosted": "on-premises",
        }
    )
    typed = from_json(doc, address="jane@example.test")
    assert typed.incoming[0].endpoint.port == 993
    assert typed.exchange is not None
    assert typed.exchange.auth == ("NTLM", "Negotiate")
    from advisor.report import to_json

    again = from_json(to_json(typed))
    assert again == typed
    with pytest.raises(WrongAddressError):
        from_json(doc, address="bob@example.test")
    with pytest.raises(ReportError, match=r"incoming\[2\]\.port"):
        from_json(report(incoming=[*doc["incoming"], {**doc["incoming"][0], "port": 1.5}]))


# ------------------------------------------------ writers: defence in depth


@pytest.mark.parametrize(
    "url",
    ["http://mail.example.test/EWS", "javascript:alert(1)", "https://a b/", "https://x.test\x00/"],
)
def test_plans_refuse_urls_no_file_may_carry(url: str) -> None:
    with pytest.raises(UnsafeValueError, match="URL"):
        ExchangeSetting(ews_url=url)
    with pytest.raises(UnsafeValueError, match="URL"):
        ExchangeSetting(activesync_url=url)


@pytest.mark.parametrize("port", [-1, 0, 65536, 70000, True, 993.7, "993"])
def test_plans_refuse_ports_out_of_range(port: Any) -> None:
    with pytest.raises(UnsafeValueError, match="port"):
        ServerSetting(Protocol.IMAP, "imap.example.test", port, Security.SSL, "jane")


@pytest.mark.parametrize(
    "host",
    [
        "imap example.test",
        'imap".example.test',
        "<script>",
        "imap.\u202eexample.test",
        "a\x00b.test",
    ],
)
def test_plans_refuse_host_names_no_file_may_carry(host: str) -> None:
    with pytest.raises(UnsafeValueError, match="host name"):
        ServerSetting(Protocol.IMAP, host, 993, Security.SSL, "jane")
    with pytest.raises(UnsafeValueError, match="Exchange server"):
        ExchangeSetting(server=host)


def test_plans_refuse_nul_and_bidi_in_names() -> None:
    good = ServerSetting(Protocol.IMAP, "imap.example.test", 993, Security.SSL, "jane")
    for bad in ("jane\x00", "jane\u202e", "ja\ud800ne"):
        with pytest.raises(UnsafeValueError, match="user name"):
            replace(good, username=bad)


def test_a_name_with_terminal_escapes_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = export_refused(capsys, tmp_path, report(), "--name", "Jane \x1b[2J\x1b]0;x\x07")
    assert "\\x1b" in line


def test_export_never_follows_a_link_out_of_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "thunderbird").symlink_to(elsewhere)
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report()))
    code, _out, err = run_cli(
        capsys, "export", "jane@example.test", "--from-json", str(saved), "--out", str(out)
    )
    line = one_line_error(code, err)
    assert "symbolic link" in line
    assert files_under(elsewhere) == []
    assert files_under(out) == []


@pytest.mark.parametrize("name", ["../x.xml", "/etc/x", "a/../../x", "thunderbird/..", "a\\b"])
def test_export_file_names_are_plain(name: str) -> None:
    with pytest.raises(AdvisorError, match="plain file name"):
        ExportFile(name, b"", ClientKind.ALL, "x")


# ------------------------------------------- text to a terminal or a file

HOSTILE_TEXT = "red \x1b[31m title \x1b]0;owned\x07 \u009b2J evil \u202egnp.exe \u2066x"


def no_raw_controls(text: str) -> None:
    for char in ("\x1b", "\x07", "\u009b", "\u202e", "\u2066"):
        assert char not in text, repr(text)


def test_rule_text_reaches_the_terminal_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    explain = json.dumps(HOSTILE_TEXT)  # a TOML basic string is a JSON string here
    (rules / "hostile.toml").write_text(
        f'[[rule]]\nid = "hostile"\nwhen = "true"\nscore = {{ imap = 5 }}\n'
        f"explain.en = {explain}\nexplain.fr = {explain}\n",
        encoding="utf-8",
    )
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(report()))
    code, out, err = run_cli(
        capsys, "recommend", "jane@example.test", "--from-json", str(saved), "--rules", str(rules)
    )
    assert code == 0, err
    no_raw_controls(out)
    assert "\\x1b[31m" in out
    assert "\\u202egnp.exe" in out


def test_discovery_text_is_escaped() -> None:
    from rich.console import Console

    from advisor.models import DiscoveryReport, ProviderFacts, Step, StepStatus
    from advisor.report import render_text

    # Built directly, as discovery would from a hostile server's answers.
    hostile = DiscoveryReport(
        address="jane@example.test",
        domain="example.test",
        domain_ascii="example.test",
        incoming=(),
        outgoing=(),
        exchange=None,
        provider=ProviderFacts(id="x", name=HOSTILE_TEXT),
        steps=(Step("autoconfig", HOSTILE_TEXT, StepStatus.ERROR, 1.0, HOSTILE_TEXT),),
        warnings=(HOSTILE_TEXT,),
        elapsed_ms=1.0,
        notes=(HOSTILE_TEXT,),
    )
    buffer = io.StringIO()
    render_text(hostile, Console(file=buffer, width=200, color_system=None))
    no_raw_controls(buffer.getvalue())
    assert "\\u202egnp.exe" in buffer.getvalue()


def test_readme_never_carries_controls() -> None:
    from advisor.export import account_plan
    from advisor.instructions import readme

    plan = account_plan(from_json(report()), protocol="imap", full_name="Jane")
    # A plan refuses such a login (advisor.formats.plan); the README escapes anyway.
    object.__setattr__(plan.incoming, "username", HOSTILE_TEXT)
    text = readme(plan, [ClientKind.THUNDERBIRD], lang="en")
    no_raw_controls(text)
    assert "\\u202egnp.exe" in text


def test_summary_csv_shows_controls_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    staff = tmp_path / "staff.csv"
    staff.write_text(f"email,name\njane@gmx.com,{HOSTILE_TEXT}\nbob@gmx.com,Bob\n")
    out = tmp_path / "out"
    code, _out, err = run_cli(
        capsys,
        "onboard",
        str(staff),
        "--out",
        str(out),
        "--offline",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-progress",
    )
    assert code == 1, err  # Jane's row fails: a name with control characters
    summary = (out / "summary.csv").read_text(encoding="utf-8-sig")
    no_raw_controls(summary)
    assert "\\x1b[31m" in summary
