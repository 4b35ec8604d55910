"""`advisor verify`: real logins against Dovecot (IMAP, POP3) and aiosmtpd (SMTP).

Every server here is a real one started by the lab; the assertions read what the
servers saw (aiosmtpd's AUTH attempts, Dovecot's log) as well as what we print.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from advisor.errors import AdvisorError
from advisor.net.resolver import DnsClient, parse_nameservers
from advisor.net.trust import client_context
from advisor.secrets import Secret
from advisor.verify import Check, Result, Target, VerifyOptions, run_checks
from tests.lab.dovecot import Dovecot
from tests.lab.ews_service import EWS_PATH, EwsService
from tests.lab.servers import Lab
from tests.lab.smtp import SmtpServer
from tests.probes.fakes import Peer, Scripted
from tests.test_discovery import run_cli

pytestmark = pytest.mark.lab

USER = "user@example.test"
PASSWORD = "correct horse"  # DEFAULT_USERS
WRONG = "wrong-Pa55word!"
TOKEN = "ya29.lab-Token_0123456789"
DOMAIN = "verify.test"
ACCENTED_USER = "zoe@example.test"
ACCENTED = "mot-de-passe-été"


class World:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        users = {USER: PASSWORD, ACCENTED_USER: ACCENTED}
        self.dovecot: Dovecot = lab.dovecot(
            f"imap.{DOMAIN}", f"pop.{DOMAIN}", oauth_token=TOKEN, users=users
        )
        self.smtp: SmtpServer = lab.smtp(
            f"smtp.{DOMAIN}",
            extra_mechanisms=("XOAUTH2", "OAUTHBEARER"),
            oauth_token=TOKEN,
            users=users,
        )
        # OAuth2 only: no password mechanism at all.
        self.oauth_smtp: SmtpServer = lab.smtp(
            f"oauth-smtp.{DOMAIN}",
            mechanisms=(),
            extra_mechanisms=("XOAUTH2", "OAUTHBEARER"),
            oauth_token=TOKEN,
        )
        # OAUTHBEARER (RFC 7628) and nothing else.
        self.bearer_smtp: SmtpServer = lab.smtp(
            f"bearer-smtp.{DOMAIN}",
            mechanisms=(),
            extra_mechanisms=("OAUTHBEARER",),
            oauth_token=TOKEN,
        )
        # No TLS at all: STARTTLS is not offered.
        self.plain: Dovecot = lab.dovecot(
            f"plain.{DOMAIN}", ssl="no", imaps=None, pop3s=None, disable_plaintext_auth=False
        )
        # A certificate from a CA nobody here trusts.
        self.untrusted: Dovecot = lab.dovecot(
            f"untrusted.{DOMAIN}", cert=lab.ca.issue_untrusted(f"untrusted.{DOMAIN}")
        )
        self.ews_site = lab.web(f"ews.{DOMAIN}", https_port=0, http_port=None)
        self.ews = EwsService(users).mount(self.ews_site, f"ews.{DOMAIN}")
        self.ews_url = self.ews.url(self.ews_site, f"ews.{DOMAIN}")
        lab.records(
            DOMAIN,
            f"_imaps._tcp SRV 0 1 993 imap.{DOMAIN}.\n"
            f"_submission._tcp SRV 0 1 587 smtp.{DOMAIN}.\n",
        )

    def dns(self) -> DnsClient:
        return DnsClient(parse_nameservers([self.lab.dns_spec]))

    def context(self) -> ssl.SSLContext:
        return client_context(self.lab.ca_file)

    def run(self, targets: list[Target], **options: Any) -> list[Check]:
        options.setdefault("password", Secret(PASSWORD))
        return run_checks(
            targets,
            VerifyOptions(address=USER, ca_file=self.lab.ca_file, **options),
            dns=self.dns(),
            context=self.context(),
        )


@pytest.fixture(scope="module")
def world(module_lab: Lab) -> World:
    return World(module_lab)


@pytest.fixture(autouse=True)
def _forget_attempts(world: World) -> None:
    world.smtp.auth_attempts.clear()
    world.oauth_smtp.auth_attempts.clear()


def imap(host: str = f"imap.{DOMAIN}", port: int = 993, security: str = "ssl") -> Target:
    return Target("incoming", "imap", host, port, security, USER)


def pop3(host: str = f"pop.{DOMAIN}", port: int = 995, security: str = "ssl") -> Target:
    return Target("incoming", "pop3", host, port, security, USER)


def smtp(host: str = f"smtp.{DOMAIN}", port: int = 587, security: str = "starttls") -> Target:
    return Target("outgoing", "smtp", host, port, security, USER)


def failed_logins(server: Dovecot) -> int:
    """Authentication attempts that failed, as Dovecot's log counts them."""
    text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    return sum(int(n) for n in re.findall(r"auth failed, (\d+) attempts", text))


def settled_failures(server: Dovecot, before: int) -> int:
    """New failures, once Dovecot has logged the disconnection (it does so a moment
    after answering NO)."""
    deadline = time.monotonic() + 5
    while failed_logins(server) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a second attempt would be logged by now
    return failed_logins(server) - before


# ------------------------------------------------------------------ right password


@pytest.mark.parametrize(
    ("target", "mailbox"),
    [
        (imap(), "INBOX: 0 messages"),
        (imap(port=143, security="starttls"), "INBOX: 0 messages"),
        (pop3(), "0 messages, 0 bytes"),
        (pop3(port=110, security="starttls"), "0 messages, 0 bytes"),
    ],
    ids=["imap-993", "imap-143-starttls", "pop3-995", "pop3-110-stls"],
)
def test_right_password_logs_in_and_reads_the_mailbox(
    world: World, target: Target, mailbox: str
) -> None:
    (check,) = world.run([target])
    assert check.result is Result.OK, check.detail
    assert check.mailbox == mailbox
    assert check.mechanism == "PLAIN"
    assert str(check.tls).startswith("TLSv1")
    assert check.reply  # the server's own words ("Logged in")
    assert not check.insecure


@pytest.mark.parametrize(
    ("port", "security"), [(587, "starttls"), (465, "ssl")], ids=["587-starttls", "465-tls"]
)
def test_smtp_authenticates_once_and_sends_nothing(world: World, port: int, security: str) -> None:
    (check,) = world.run([smtp(port=port, security=security)])
    assert check.result is Result.OK, check.detail
    assert check.reply.startswith("235")
    assert [(a.mechanism, a.login, a.success) for a in world.smtp.auth_attempts] == [
        ("PLAIN", USER, True)
    ]
    assert world.smtp.messages == []


def test_send_test_to_sends_one_message(world: World) -> None:
    world.smtp.messages.clear()
    (check,) = world.run([smtp()], send_test_to="it@example.test")
    assert check.result is Result.OK, check.detail
    assert check.sent == "sent to it@example.test"
    (message,) = world.smtp.messages
    assert message.rcpt_tos == ("it@example.test",)
    assert b"Subject: advisor verify: test message" in message.data
    assert PASSWORD.encode() not in message.data


@pytest.mark.parametrize("target", [imap(), pop3(), smtp()], ids=["imap", "pop3", "smtp"])
def test_a_password_with_accents(world: World, target: Target) -> None:
    (check,) = world.run([target], username=ACCENTED_USER, password=Secret(ACCENTED))
    assert check.result is Result.OK, check.detail
    assert check.mechanism == "PLAIN"  # UTF-8 as is (RFC 4616)


def test_send_test_to_a_refused_recipient_is_an_error(world: World) -> None:
    world.smtp.messages.clear()
    (check,) = world.run([smtp()], send_test_to="refused@example.test")
    assert check.result is Result.ERROR
    assert str(check.sent).startswith("not sent: recipient refused: 550")
    assert "User unknown" in str(check.sent)
    assert world.smtp.messages == []


# ------------------------------------------------------------------ wrong password


def test_wrong_password_one_attempt_then_nothing_else(world: World) -> None:
    before = failed_logins(world.dovecot)
    checks = world.run([imap(), smtp(), pop3()], password=Secret(WRONG))
    assert [c.result for c in checks] == [Result.AUTH_FAILED, Result.SKIPPED, Result.SKIPPED]
    assert "AUTHENTICATIONFAILED" in checks[0].reply or "failed" in checks[0].reply.lower()
    assert "b'" not in checks[0].reply
    # The SMTP server was never asked: one failure is all the account pays.
    assert world.smtp.auth_attempts == []
    assert "not tried" in checks[1].detail
    assert settled_failures(world.dovecot, before) == 1


def test_smtp_wrong_password_quotes_the_server(world: World) -> None:
    (check,) = world.run([smtp()], password=Secret(WRONG))
    assert check.result is Result.AUTH_FAILED
    assert check.reply.startswith("535")
    assert [a.success for a in world.smtp.auth_attempts] == [False]  # no LOGIN retry


def test_pop3_wrong_password(world: World) -> None:
    (check,) = world.run([pop3()], password=Secret(WRONG))
    assert check.result is Result.AUTH_FAILED
    assert check.reply.startswith("-ERR")


# ------------------------------------------------------------------ refusing to send


def test_plain_configuration_is_refused_without_connecting(world: World) -> None:
    (check,) = world.run([imap(f"plain.{DOMAIN}", 143, "plain")])
    assert check.result is Result.TLS_REFUSED
    assert "--allow-insecure" in check.detail


def test_missing_starttls_is_refused_before_any_login(world: World) -> None:
    before = failed_logins(world.plain)
    checks = world.run(
        [imap(f"plain.{DOMAIN}", 143, "starttls"), pop3(f"plain.{DOMAIN}", 110, "starttls")]
    )
    assert [c.result for c in checks] == [Result.TLS_REFUSED, Result.TLS_REFUSED]
    assert "STARTTLS not offered" in checks[0].detail
    assert "STLS not offered" in checks[1].detail
    log = world.plain.log_path.read_text(errors="replace")
    assert "Login:" not in log
    assert failed_logins(world.plain) == before


def test_allow_insecure_goes_on_in_clear_and_says_so(world: World) -> None:
    (check,) = world.run([imap(f"plain.{DOMAIN}", 143, "starttls")], allow_insecure=True)
    assert check.result is Result.OK, check.detail
    assert check.insecure
    assert "INSECURE" in check.detail
    assert check.tls is None


def test_untrusted_certificate_is_refused(world: World) -> None:
    checks = world.run([imap(f"untrusted.{DOMAIN}"), imap(f"untrusted.{DOMAIN}", 143, "starttls")])
    assert [c.result for c in checks] == [Result.TLS_REFUSED, Result.TLS_REFUSED]
    assert "certificate not trusted" in checks[0].detail
    assert "Login:" not in world.untrusted.log_path.read_text(errors="replace")


def test_untrusted_certificate_with_allow_insecure(world: World) -> None:
    (check,) = world.run([imap(f"untrusted.{DOMAIN}")], allow_insecure=True)
    assert check.result is Result.OK, check.detail
    assert check.insecure
    assert "certificate not trusted" in check.detail


def test_unreachable(world: World) -> None:
    ip = world.lab.host(f"nothing.{DOMAIN}")
    checks = world.run([imap(f"nothing.{DOMAIN}"), imap(f"nxdomain.{DOMAIN}")], timeout=3)
    assert [c.result for c in checks] == [Result.UNREACHABLE, Result.UNREACHABLE]
    assert ip  # the first has an address, nothing listens
    assert "refused" in checks[0].detail.lower()


# ------------------------------------------------------------------ OAuth2


def test_oauth2_only_server_gets_no_password(world: World) -> None:
    (check,) = world.run([smtp(f"oauth-smtp.{DOMAIN}")])
    assert check.result is Result.OAUTH2_REQUIRED
    assert "--oauth-token-stdin" in check.detail
    assert world.oauth_smtp.auth_attempts == []


def test_provider_known_to_require_oauth2_gets_no_password(world: World) -> None:
    target = Target("incoming", "imap", f"imap.{DOMAIN}", 993, "ssl", USER, oauth2_required=True)
    (check,) = world.run([target])
    assert check.result is Result.OAUTH2_REQUIRED


@pytest.mark.parametrize("host", [f"smtp.{DOMAIN}", f"oauth-smtp.{DOMAIN}"])
def test_smtp_xoauth2_with_a_token(world: World, host: str) -> None:
    server = world.smtp if host.startswith("smtp") else world.oauth_smtp
    (check,) = world.run([smtp(host)], password=None, token=Secret(TOKEN))
    assert check.result is Result.OK, check.detail
    assert check.mechanism == "XOAUTH2"
    assert [(a.mechanism, a.success) for a in server.auth_attempts] == [("XOAUTH2", True)]


def test_smtp_oauthbearer_with_a_token(world: World) -> None:
    world.bearer_smtp.auth_attempts.clear()
    (check,) = world.run([smtp(f"bearer-smtp.{DOMAIN}")], password=None, token=Secret(TOKEN))
    assert check.result is Result.OK, check.detail
    assert check.mechanism == "OAUTHBEARER"
    (bad,) = world.run([smtp(f"bearer-smtp.{DOMAIN}")], password=None, token=Secret("nope-y"))
    assert bad.result is Result.AUTH_FAILED
    assert [(a.mechanism, a.login, a.success) for a in world.bearer_smtp.auth_attempts] == [
        ("OAUTHBEARER", USER, True),
        ("OAUTHBEARER", USER, False),
    ]


def test_smtp_bad_token_is_one_failure(world: World) -> None:
    (check,) = world.run([smtp(f"oauth-smtp.{DOMAIN}")], password=None, token=Secret("nope-x"))
    assert check.result is Result.AUTH_FAILED
    assert check.reply.startswith("535")
    assert len(world.oauth_smtp.auth_attempts) == 1


@pytest.mark.parametrize("target", [imap(), pop3()], ids=["imap", "pop3"])
def test_dovecot_xoauth2_with_a_token(world: World, target: Target) -> None:
    (check,) = world.run([target], password=None, token=Secret(TOKEN))
    assert check.result is Result.OK, check.detail
    assert check.mechanism == "XOAUTH2"


def test_dovecot_bad_token(world: World) -> None:
    (check,) = world.run([imap()], password=None, token=Secret("not-the-token"))
    assert check.result is Result.AUTH_FAILED
    assert "not-the-token" not in json.dumps(check.__dict__, default=str)


# ------------------------------------------------------------------ the command


def verify_cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    world: World,
    secret: str,
    *args: str,
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
    return run_cli(
        capsys,
        "verify",
        USER,
        "--dns",
        world.lab.dns_spec,
        "--ca-file",
        str(world.lab.ca_file),
        *args,
    )


def report_for(
    tmp_path: Path, incoming: list[dict[str, Any]], outgoing: list[dict[str, Any]]
) -> Path:
    doc = {
        "schema": "advisor.discovery/1",
        "address": USER,
        "domain": "example.test",
        "incoming": incoming,
        "outgoing": outgoing,
        "exchange": None,
        "provider": None,
        "steps": [],
        "warnings": [],
        "elapsed_ms": 1.0,
        "live": True,
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc))
    return path


def server(protocol: str, host: str, port: int, security: str) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "hostname": host,
        "port": port,
        "security": security,
        "username": USER,
        "verified": True,
        "sources": ["srv"],
    }


@pytest.mark.parametrize("secret", [PASSWORD, WRONG])
def test_the_password_never_shows(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    secret: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    report = report_for(
        tmp_path,
        [server("imap", f"imap.{DOMAIN}", 993, "ssl")],
        [server("smtp", f"smtp.{DOMAIN}", 587, "starttls")],
    )
    for extra in ((), ("--json",)):
        code, out, err = verify_cli(
            capsys,
            monkeypatch,
            world,
            secret,
            "--from-json",
            str(report),
            "--password-stdin",
            *extra,
        )
        assert code == (0 if secret == PASSWORD else 4), out + err
        everything = out + err + "\n".join(r.getMessage() for r in caplog.records)
        for form in (secret, secret.replace(" ", "")):
            assert form not in everything
        import base64

        assert base64.b64encode(f"\0{USER}\0{secret}".encode()).decode() not in everything
        caplog.clear()


def test_human_output(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = report_for(
        tmp_path,
        [server("imap", f"imap.{DOMAIN}", 993, "ssl")],
        [server("smtp", f"smtp.{DOMAIN}", 587, "starttls")],
    )
    code, out, err = verify_cli(
        capsys, monkeypatch, world, PASSWORD, "--from-json", str(report), "--password-stdin"
    )
    assert code == 0, out + err
    assert f"Logging in as {USER} to 2 servers" in out
    assert f"✓ incoming  IMAP imap.{DOMAIN}:993 (TLS)" in out
    assert "ok: logged in as" in out
    assert "INBOX: 0 messages" in out
    assert "server said:" in out
    assert f"✓ outgoing  SMTP smtp.{DOMAIN}:587 (STARTTLS)" in out


def test_json_output_and_exit_code(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = report_for(
        tmp_path,
        [server("imap", f"imap.{DOMAIN}", 993, "ssl")],
        [server("smtp", f"oauth-smtp.{DOMAIN}", 587, "starttls")],
    )
    code, out, _err = verify_cli(
        capsys,
        monkeypatch,
        world,
        PASSWORD,
        "--from-json",
        str(report),
        "--password-stdin",
        "--json",
    )
    assert code == 4
    doc = json.loads(out)
    assert doc["schema"] == "advisor.verify/1"
    assert doc["ok"] is False
    assert [c["result"] for c in doc["checks"]] == ["ok", "oauth2-required"]
    assert doc["checks"][0]["mailbox"] == "INBOX: 0 messages"
    assert doc["checks"][0]["username"] == USER


def test_allow_insecure_warns_loudly(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = report_for(tmp_path, [server("imap", f"untrusted.{DOMAIN}", 993, "ssl")], [])
    code, out, err = verify_cli(
        capsys,
        monkeypatch,
        world,
        PASSWORD,
        "--from-json",
        str(report),
        "--password-stdin",
        "--allow-insecure",
    )
    assert code == 0, out + err
    assert "WARNING" in err
    assert "without verified encryption" in err


def test_discovery_then_login(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --from-json: discovery (SRV here) finds the servers, then the logins run."""
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = run_cli(
        capsys,
        "verify",
        f"user@{DOMAIN}",
        "--username",
        USER,
        "--dns",
        world.lab.dns_spec,
        "--ca-file",
        str(world.lab.ca_file),
        "--password-stdin",
        "--json",
    )
    doc = json.loads(out)
    assert doc["source"] == "discovery"
    assert [(c["protocol"], c["port"], c["result"]) for c in doc["checks"]] == [
        ("imap", 993, "ok"),
        ("smtp", 587, "ok"),
    ], err
    assert code == 0


def test_config_file_from_export(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--config reads an autoconfig XML with placeholders, as `advisor autoconfig` writes."""
    xml = tmp_path / f"{DOMAIN}.xml"
    xml.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{DOMAIN}">
    <domain>{DOMAIN}</domain>
    <incomingServer type="pop3">
      <hostname>pop.{DOMAIN}</hostname><port>995</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%@example.test</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.{DOMAIN}</hostname><port>465</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%@example.test</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = run_cli(
        capsys,
        "verify",
        f"user@{DOMAIN}",
        "--config",
        str(xml),
        "--dns",
        world.lab.dns_spec,
        "--ca-file",
        str(world.lab.ca_file),
        "--password-stdin",
        "--json",
    )
    doc = json.loads(out)
    assert [(c["protocol"], c["username"], c["result"]) for c in doc["checks"]] == [
        ("pop3", USER, "ok"),
        ("smtp", USER, "ok"),
    ], err
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from-json", "a.json", "--config", "b.xml"), "not both"),
        (("--protocol", "jmap"), "expected imap, pop3 or exchange"),
        (("--password-stdin", "--oauth-token-stdin"), "not both"),
        (("--send-test-to", "not an address"), "address"),
    ],
)
def test_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _out, err = run_cli(capsys, "verify", USER, *args)
    assert code != 0
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_no_password_from_a_pipe_without_the_flag(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    world: World,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    report = report_for(tmp_path, [server("imap", f"imap.{DOMAIN}", 993, "ssl")], [])
    code, _out, err = run_cli(
        capsys, "verify", USER, "--from-json", str(report), "--dns", world.lab.dns_spec
    )
    assert code == 1
    assert "--password-stdin" in err


def test_nothing_reachable_asks_for_no_password_and_says_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lab: Lab
) -> None:
    # A resolver whose view is filtered: even the top-level domain "does not exist".
    lab.zone(".", "@ SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 60\n@ NS ns.invalid.")
    stdin = io.StringIO(PASSWORD + "\n")
    monkeypatch.setattr("sys.stdin", stdin)
    code, out, err = run_cli(
        capsys,
        "verify",
        "jean@dupont-avocats.fr",
        "--imap",
        "mail.dupont-avocats.fr:993:ssl",
        "--smtp",
        "mail.dupont-avocats.fr:465:ssl",
        "--dns",
        lab.dns_spec,
        "--password-stdin",
    )
    assert code == 4
    assert stdin.read() == PASSWORD + "\n"  # never read: nothing could have used it
    assert out.count("unreachable: mail.dupont-avocats.fr") == 2
    assert "NXDOMAIN" in out
    assert "top-level domain 'fr' does not exist: its view looks filtered or offline" in err
    assert "no server could be reached, so no password was asked for or sent" in err


def test_one_server_reachable_is_enough_to_ask(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    code, out, _ = verify_cli(
        capsys,
        monkeypatch,
        world,
        PASSWORD,
        "--imap",
        f"imap.{DOMAIN}:993:ssl",
        "--smtp",
        f"nxdomain.{DOMAIN}:465:ssl",
        "--password-stdin",
    )
    assert code == 4
    assert "✓" in out
    assert "unreachable" in out


# ------------------------------------------------------------------ hostile servers


def echoing_imap(flood: bool = False) -> Any:
    """Answers AUTHENTICATE with a NO that repeats what the client sent, in base64 and
    decoded; or (``flood``) with an endless reply."""

    def script(peer: Peer) -> None:
        peer.send(b"* OK ready\r\n")
        while (line := peer.line()) is not None:
            tag, _, rest = line.partition(b" ")
            command = rest.split(b" ", 1)[0].upper()
            if command == b"CAPABILITY":
                peer.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            elif command == b"AUTHENTICATE":
                peer.send(b"+ \r\n")
                blob = peer.line() or b""
                if flood:
                    peer.send(tag + b" NO " + b"x" * (8 << 20) + b"\r\n")
                    return
                said = base64.b64decode(blob).replace(b"\0", b" ")
                peer.send(tag + b" NO [AUTHENTICATIONFAILED] got " + blob + b" = " + said + b"\r\n")
            elif command == b"LOGOUT":
                peer.send(b"* BYE\r\n" + tag + b" OK bye\r\n")
                return

    return script


@pytest.mark.parametrize("flood", [False, True], ids=["echo", "flood"])
def test_hostile_replies_are_scrubbed_and_bounded(world: World, flood: bool) -> None:
    host = f"echo.{DOMAIN}"
    cert = world.lab.ca.issue(host)
    with Scripted(echoing_imap(flood), context=cert.server_context(), implicit_tls=True) as fake:
        world.lab.host(host, fake.address[0])
        (check,) = world.run([imap(host, fake.address[1])])
    shown = json.dumps(check.__dict__, default=str)
    assert PASSWORD not in shown
    assert base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode() not in shown
    if flood:
        assert check.result is Result.ERROR
        assert len(check.detail) < 300
    else:
        assert check.result is Result.AUTH_FAILED
        assert "********" in check.reply


# ------------------------------------------------------------------ where the servers come from


AUTODISCOVER = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>IMAP</Type><Server>imap.example.test</Server><Port>143</Port>
        <Encryption>TLS</Encryption><LoginName>jane</LoginName>
      </Protocol>
      <Protocol>
        <Type>SMTP</Type><Server>smtp.example.test</Server><Port>465</Port>
        <SSL>on</SSL><LoginName>jane</LoginName>
      </Protocol>
      <Protocol>
        <Type>EXCH</Type><Server>mail.example.test</Server>
        <EwsUrl>https://mail.example.test/EWS/Exchange.asmx</EwsUrl>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>
"""


def test_targets_from_an_autodiscover_file(tmp_path: Path) -> None:
    from advisor.verify import targets_from_config

    path = tmp_path / "autodiscover.xml"
    path.write_text(AUTODISCOVER)
    targets = targets_from_config(path, "jane@example.test")
    assert [(t.protocol, t.host, t.port, t.security, t.username) for t in targets] == [
        ("imap", "imap.example.test", 143, "starttls", "jane"),
        ("smtp", "smtp.example.test", 465, "ssl", "jane"),
        ("ews", "mail.example.test", 443, "https", "jane@example.test"),
    ]
    (only,) = targets_from_config(path, "jane@example.test", "exchange")
    assert only.url == "https://mail.example.test/EWS/Exchange.asmx"
    with pytest.raises(AdvisorError, match="no POP3 server"):
        targets_from_config(path, "jane@example.test", "pop3")


def test_targets_from_a_report_follow_the_export(tmp_path: Path) -> None:
    from advisor.report import from_json
    from advisor.verify import targets_from_report

    doc = json.loads(
        report_for(
            tmp_path,
            [
                {**server("pop3", "pop.example.test", 995, "ssl"), "verified": False},
                server("imap", "imap.example.test", 993, "ssl"),
            ],
            [server("smtp", "smtp.example.test", 587, "starttls")],
        ).read_text()
    )
    doc["provider"] = {"id": "m365", "requires_oauth2": True}
    doc["exchange"] = {"ews_url": "https://outlook.office365.com/EWS/Exchange.asmx"}
    typed = from_json(doc)
    targets = targets_from_report(typed)
    # The verified one first, as `advisor export` picks it; OAuth2 known from the provider.
    assert [(t.protocol, t.oauth2_required) for t in targets] == [
        ("imap", True),
        ("smtp", True),
        ("ews", False),
    ]
    assert [t.protocol for t in targets_from_report(typed, "pop3")] == ["pop3", "smtp"]


@pytest.mark.parametrize(
    "content", [b"<clientConfig><emailProvider", b"\x00" * 10, b"<Autodiscover><Response"]
)
def test_broken_config_files_are_one_line_errors(tmp_path: Path, content: bytes) -> None:
    from advisor.verify import targets_from_config

    path = tmp_path / "broken.xml"
    path.write_bytes(content)
    with pytest.raises(AdvisorError) as info:
        targets_from_config(path, USER)
    assert "\n" not in str(info.value)


def test_token_from_stdin() -> None:
    from advisor.secrets import read_token

    assert read_token(io.StringIO(TOKEN + "\n")).reveal() == TOKEN
    with pytest.raises(AdvisorError, match="empty"):
        read_token(io.StringIO("\n"))
    with pytest.raises(AdvisorError, match="not a bearer token"):
        read_token(io.StringIO("two words\n"))


# ------------------------------------------------------------------ with Exchange


def ews_report(world: World, tmp_path: Path) -> Path:
    path = report_for(
        tmp_path,
        [server("imap", f"imap.{DOMAIN}", 993, "ssl")],
        [server("smtp", f"smtp.{DOMAIN}", 465, "ssl")],
    )
    doc = json.loads(path.read_text())
    doc["exchange"] = {"ews_url": world.ews_url}
    path.write_text(json.dumps(doc))
    return path


def ews_credentialed(world: World) -> int:
    return sum(
        1 for r in world.ews_site.requests if r.path == EWS_PATH and r.header("Authorization")
    )


@pytest.mark.parametrize("secret", [PASSWORD, WRONG])
def test_exchange_with_the_mail_servers(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    secret: str,
    exchangelib_installed: None,
) -> None:
    before = ews_credentialed(world)
    code, out, err = verify_cli(
        capsys,
        monkeypatch,
        world,
        secret,
        "--from-json",
        str(ews_report(world, tmp_path)),
        "--password-stdin",
        "--json",
    )
    doc = json.loads(out)
    results = [(c["protocol"], c["result"]) for c in doc["checks"]]
    if secret == PASSWORD:
        assert results == [("imap", "ok"), ("smtp", "ok"), ("ews", "ok")], err
        assert doc["checks"][2]["mailbox"] == "Inbox: 12 items"
        assert ews_credentialed(world) - before == 1
        assert code == 0
    else:
        assert results == [("imap", "auth-failed"), ("smtp", "skipped"), ("ews", "skipped")]
        assert ews_credentialed(world) == before  # Exchange never saw the wrong password
        assert code == 4
    assert secret not in out + err
