"""`advisor discover` end to end against the real-server lab on loopback.

Every scenario builds its own little Internet: zones in the lab DNS server,
Dovecot and aiosmtpd on their own 127.0.1.x addresses with the standard
ports, certificates from the throw-away CA, and hostile servers where a
scenario needs one. The product is driven through its CLI entry point (JSON
output) or the ``Discovery`` class, exactly as a user's run would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from advisor.address import parse_address
from advisor.cli import main
from advisor.discovery import Discovery
from advisor.models import DiscoveryReport, ProbeStatus, Security, StepStatus
from advisor.net.resolver import DnsClient, parse_nameserver
from advisor.net.trust import client_context
from advisor.report import from_json, to_json
from tests.lab.hostile import (
    BadTLS,
    Blackhole,
    EndlessGreeting,
    EndlessLines,
    Garbage,
    Reset,
    SlowDrip,
    WrongProtocol,
)
from tests.lab.servers import Lab

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    assert isinstance(code, int)
    return code, out, err


def discover_json(
    capsys: pytest.CaptureFixture[str], lab: Lab, address: str, *extra: str
) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli(
        capsys,
        "discover",
        address,
        "--json",
        "--dns",
        lab.dns_spec,
        "--ca-file",
        str(lab.ca_file),
        *extra,
    )
    assert err == ""
    doc = json.loads(out)  # exactly one JSON document, nothing else
    # What discovery writes, a saved report reads back as: the same model, the same JSON.
    assert to_json(from_json(doc, address=address)) == doc
    return code, doc


def discover(
    lab: Lab, address: str, *, timeout: float = 10.0, wait_all: bool = False
) -> DiscoveryReport:
    engine = Discovery(
        parse_address(address),
        dns=DnsClient([parse_nameserver(lab.dns_spec)]),
        tls_context=client_context(lab.ca_file),
        timeout=timeout,
        wait_all=wait_all,
    )
    return engine.run()


def servers(entries: list[dict[str, Any]]) -> list[tuple[str, str, int, str, bool]]:
    return [
        (e["protocol"], e["hostname"], e["port"], e["security"], e["verified"]) for e in entries
    ]


def probe_step(report: DiscoveryReport, hostname: str, port: int) -> Any:
    for step in report.steps:
        if step.source == "probe" and step.target.endswith(f" {hostname}:{port}"):
            return step
    raise AssertionError(f"no probe step for {hostname}:{port}: {report.steps}")


# ------------------------------------------------------------------ sources


def test_srv_records_and_live_servers(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone(
        "example.test",
        """
        @ MX 10 mx.example.test.
        _imaps._tcp SRV 0 1 993 imap.example.test.
        _submission._tcp SRV 0 1 587 smtp.example.test.
        _pop3._tcp SRV 0 0 0 .
        """,
    )
    lab.dovecot("imap.example.test", "pop.example.test")
    lab.smtp("smtp.example.test", submissions=None)
    code, report = discover_json(capsys, lab, "user@example.test", "--wait-all")
    assert code == 0
    assert report["schema"] == "advisor.discovery/1"
    best = report["incoming"][0]
    assert (best["protocol"], best["hostname"], best["port"], best["security"]) == (
        "imap",
        "imap.example.test",
        993,
        "ssl",
    )
    assert best["verified"] is True
    assert best["sources"] == ["srv", "guess"]
    assert best["username"] == "user@example.test"
    assert "PLAIN" in best["auth"]
    assert best["probe"]["tls"]["certificate"]["valid"] is True
    assert "imap.example.test" in best["probe"]["tls"]["certificate"]["names"]
    # STARTTLS on 143 of the same Dovecot is found by guessing, ranked after 993.
    assert ("imap", "imap.example.test", 143, "starttls", True) in servers(report["incoming"])
    out = report["outgoing"][0]
    assert (out["hostname"], out["port"], out["security"], out["sources"]) == (
        "smtp.example.test",
        587,
        "starttls",
        ["srv", "guess"],
    )
    steps = {(s["source"], s["target"]): s for s in report["steps"]}
    assert steps[("srv", "_imaps._tcp.example.test")]["status"] == "found"
    assert steps[("srv", "_pop3._tcp.example.test")]["detail"] == "not offered (target '.')"
    assert steps[("mx", "example.test MX")]["detail"] == "mx.example.test (10)"
    # Dovecot also answers POP3 on 110 although SRV says POP3 is not offered.
    assert any("not offered, yet" in w and ":110" in w for w in report["warnings"])


def test_srv_priorities_can_prefer_pop3(lab: Lab) -> None:
    lab.zone(
        "pop.test",
        """
        _imaps._tcp SRV 10 1 993 mail.pop.test.
        _pop3s._tcp SRV 0 1 995 mail.pop.test.
        """,
    )
    lab.dovecot("mail.pop.test")
    lab.smtp("smtp.pop.test")
    report = discover(lab, "someone@pop.test", wait_all=True)
    # The SRV-named servers in priority order, then what guessing found.
    first, second = report.incoming[0], report.incoming[1]
    assert (first.endpoint.protocol.value, first.endpoint.port, first.srv_priority) == (
        "pop3",
        995,
        0,
    )
    assert (second.endpoint.protocol.value, second.endpoint.port, second.srv_priority) == (
        "imap",
        993,
        10,
    )
    guessed = [c.endpoint.protocol.value for c in report.incoming[2:]]
    assert guessed == sorted(guessed, key=lambda p: p != "pop3")  # POP3 first among guesses


def test_guessing_alone_finds_starttls_only_servers(lab: Lab) -> None:
    lab.zone("guess.test")
    lab.dovecot("mail.guess.test", imaps=None, pop3s=None)
    lab.smtp("mail.guess.test", submissions=None)
    report = discover(lab, "a@guess.test", wait_all=True)
    best = report.incoming[0]
    assert (best.endpoint.hostname, best.endpoint.port) == ("mail.guess.test", 143)
    assert best.endpoint.security is Security.STARTTLS
    assert best.verified
    assert best.probe is not None
    # Dovecot on a non-local address hides LOGIN until STARTTLS (RFC 3501 §6.2.3).
    assert "LOGINDISABLED" in best.probe.facts.capabilities_before
    assert not best.probe.facts.login_disabled
    assert report.outgoing[0].endpoint.port == 587
    assert report.usable


def test_plaintext_only_server_is_listed_never_verified(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    lab.zone("plain.test")
    lab.dovecot("imap.plain.test", ssl="no", imaps=None, pop3s=None, disable_plaintext_auth=False)
    code, report = discover_json(capsys, lab, "a@plain.test", "--wait-all")
    assert code == 3  # a password must never cross the network in clear: nothing usable
    assert ("imap", "imap.plain.test", 143, "plain", False) in servers(report["incoming"])
    assert any("no encryption" in w for w in report["warnings"])


def test_invalid_certificate_is_reported_with_its_names(lab: Lab) -> None:
    lab.zone("badcert.test")
    expired = lab.ca.issue_expired("imap.badcert.test")
    lab.dovecot("imap.badcert.test", cert=expired, pop3=None, pop3s=None)
    wrong = lab.cert("mail.elsewhere.test")
    lab.smtp("smtp.badcert.test", cert=wrong)
    report = discover(lab, "a@badcert.test", wait_all=True)
    assert not report.usable
    imaps = next(c for c in report.incoming if c.endpoint.port == 993)
    assert imaps.verified is False
    assert imaps.probe is not None
    assert imaps.probe.status is ProbeStatus.CERT_INVALID
    assert imaps.probe.facts.tls is not None
    assert imaps.probe.facts.tls.certificate is not None
    assert "expired" in (imaps.probe.facts.tls.certificate.error or "")
    assert any("expired" in w for w in report.warnings)
    smtp = next(c for c in report.outgoing if c.endpoint.port == 465)
    assert smtp.probe is not None
    assert "mail.elsewhere.test" in smtp.probe.detail


# --------------------------------------------------------------- firewalls


def test_dropped_port_does_not_hold_the_answer(lab: Lab) -> None:
    lab.zone("fw.test")
    lab.dovecot("imap.fw.test", imaps=None, pop3=None, pop3s=None)
    lab.hostile(Blackhole, "imap.fw.test", 993)
    lab.smtp("smtp.fw.test")
    report = discover(lab, "a@fw.test", timeout=10.0)
    best = report.incoming[0]
    assert (best.endpoint.port, best.endpoint.security, best.verified) == (
        143,
        Security.STARTTLS,
        True,
    )
    step = probe_step(report, "imap.fw.test", 993)
    assert step.status is StepStatus.TIMEOUT
    # Decided from the host's round trip, not by waiting out the budget.
    assert "although the host answered another port" in step.detail
    assert any("firewall" in w for w in report.warnings)


def test_budget_bounds_a_fully_firewalled_host(lab: Lab) -> None:
    lab.zone("wall.test")
    lab.firewalled("mail.wall.test", ports=(993, 143))
    report = discover(lab, "a@wall.test", timeout=1.0)
    assert not report.usable
    for port in (993, 143):
        step = probe_step(report, "mail.wall.test", port)
        assert step.status is StepStatus.TIMEOUT
        # Cut by the budget: the engine's own words, or connect()'s at the deadline.
        assert "time budget ran out" in step.detail or "no TCP handshake" in step.detail
    # No seam reaches the kernel's SYN retries, so one bound stays, as a logic
    # check: a connect not clamped to the budget waits the kernel's SYN timeout
    # (over 60 s) per port; 10 s is 10 times the 1 s budget, out of any load's reach.
    assert report.elapsed_ms < 10 * 1000


# ----------------------------------------------------------- hostile peers


@pytest.mark.parametrize(
    ("server", "options", "port", "words"),
    [
        (Garbage, {}, 993, ("TLS",)),
        (Garbage, {}, 143, ("not IMAP",)),
        (EndlessGreeting, {"prefix": b"* OK "}, 143, ("exceeded", "too long", "line")),
        (EndlessLines, {"prefix": b"* OK "}, 143, ("exceeded", "KiB")),
        (Reset, {"greeting": b"* OK hi\r\n"}, 143, ("closed", "reset")),
        (BadTLS, {"mode": "junk"}, 993, ("TLS",)),
        (BadTLS, {"mode": "alert"}, 993, ("TLS",)),
        (WrongProtocol, {"greeting": WrongProtocol.SMTP}, 143, ("not IMAP",)),
    ],
)
def test_hostile_imap_peers_give_a_reason_not_a_crash(
    lab: Lab, server: Any, options: dict[str, Any], port: int, words: tuple[str, ...]
) -> None:
    lab.zone("hostile.test")
    lab.hostile(server, "imap.hostile.test", port, **options)
    report = discover(lab, "a@hostile.test", timeout=3.0, wait_all=True)
    step = probe_step(report, "imap.hostile.test", port)
    assert step.status in (StepStatus.ERROR, StepStatus.TIMEOUT), step
    assert any(w.lower() in step.detail.lower() for w in words), step.detail
    assert "\n" not in step.detail
    assert not report.usable


def test_slow_drip_is_cut_at_the_budget(lab: Lab) -> None:
    lab.zone("drip.test")
    greeting = b"* OK " + b"x" * 200  # 205 bytes, one every 0.2 s: 41 s in all
    drip = lab.hostile(SlowDrip, "imap.drip.test", 143, greeting=greeting, interval=0.2)
    report = discover(lab, "a@drip.test", timeout=1.5, wait_all=True)
    step = probe_step(report, "imap.drip.test", 143)
    assert step.status is StepStatus.TIMEOUT
    # The engine answered (and cancelled the probe) before the drip was over:
    # waiting for the probe instead of the budget would have let all 205 bytes out.
    assert drip.sent < len(greeting)


# ---------------------------------------------------------- names and DNS


def test_international_domain(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.zone("xn--bcher-kva.test")
    lab.dovecot("imap.xn--bcher-kva.test")
    lab.smtp("smtp.xn--bcher-kva.test")
    code, report = discover_json(capsys, lab, "jürgen@bücher.test")
    assert code == 0
    assert report["domain"] == "bücher.test"
    assert report["address"] == "jürgen@bücher.test"
    assert report["incoming"][0]["hostname"] == "imap.xn--bcher-kva.test"
    assert report["incoming"][0]["verified"] is True


def test_microsoft_365_signals_name_the_provider(lab: Lab) -> None:
    lab.zone(
        "contoso.test",
        """
        @ MX 0 contoso-test.mail.protection.outlook.com.
        @ TXT "v=spf1 include:spf.protection.outlook.com -all"
        autodiscover CNAME autodiscover.outlook.com.
        """,
    )
    report = discover(lab, "a@contoso.test", timeout=3.0)
    assert report.provider is not None
    assert report.provider.hosted_by == "microsoft365"


def test_dead_dns_server_is_said_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "discover", "a@example.test", "--json", "--dns", "127.0.0.1:9", "--timeout", "2"
    )
    assert code == 3
    report = json.loads(out)
    assert any("answered no query" in w for w in report["warnings"])
    # What this guards is a hang on the dead server (no budget at all); the
    # bound is 10 times the 2 s budget, a logic check out of any load's reach.
    assert report["elapsed_ms"] < 10 * 2000


def test_filtered_resolver_view_is_not_taken_for_a_missing_domain(lab: Lab) -> None:
    # A "root" that knows nothing: every public name is NXDOMAIN, as on this
    # workplace's machines and behind captive portals.
    lab.zone(".", "@ SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 60\n@ NS ns.invalid.")
    report = discover(lab, "a@gmail.com", timeout=3.0)
    assert any("looks filtered or offline" in w for w in report.warnings)
    assert not any("does not exist according" in w for w in report.warnings)


def test_missing_domain(lab: Lab) -> None:
    lab.zone("test")  # the TLD exists...
    report = discover(lab, "a@nowhere.test", timeout=3.0)  # ...the domain does not
    assert any("does not exist according" in w for w in report.warnings)


# ------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "address", ["a@", "@b.test", "a b@c.test", '"q"@c.test', "a@" + "x" * 300 + ".test"]
)
def test_bad_address_is_one_line_exit_1(capsys: pytest.CaptureFixture[str], address: str) -> None:
    code, out, err = run_cli(capsys, "discover", address)
    assert code == 1
    assert out == ""
    assert err.startswith("advisor: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "discover")[0] == 2
    assert run_cli(capsys, "discover", "a@b.test", "--timeout", "soon")[0] == 2
    assert run_cli(capsys, "nonsense")[0] == 2


def test_bad_ca_file_is_a_user_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    code, _, err = run_cli(capsys, "discover", "a@b.test", "--ca-file", str(bogus))
    assert code == 1
    assert "--ca-file" in err


def test_human_report_fits_80_columns(lab: Lab) -> None:
    lab.zone("human.test", "_imaps._tcp SRV 0 1 993 imap.human.test.")
    lab.dovecot("imap.human.test")
    lab.smtp("smtp.human.test")
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "advisor", "discover", "a@human.test", "--dns", lab.dns_spec],
        capture_output=True,
        text=True,
        env={**env, "ADVISOR_CA_FILE": str(lab.ca_file)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "\x1b[" not in result.stdout  # NO_COLOR and not a terminal: no escapes
    assert any(line.startswith("Incoming: IMAP imap.human.test:993 SSL") for line in lines)


def test_ctrl_c_exits_130_at_once(lab: Lab) -> None:
    import signal
    import time

    lab.zone("slow.test")
    lab.firewalled("mail.slow.test", ports=(993, 143))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor", "discover", "a@slow.test", "--dns", lab.dns_spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # Interrupt once discovery runs (it has asked the lab's DNS about the domain),
        # not at a fixed time: on a loaded machine the imports alone can take seconds,
        # and a SIGINT during them is Python's, not ours.
        deadline = time.monotonic() + 60
        while not any("slow.test" in entry.name for entry in lab.dns.log):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "discovery never asked the DNS"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # generous: the exit code proves the rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert "interrupted" in err
    assert "Traceback" not in err
