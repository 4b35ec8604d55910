"""``advisor verify`` on Exchange (advisor.verify_ews) against a fake EWS on loopback.

The fake (tests/lab/ews_service.py) answers the requests exchangelib sends, on
the lab's HTTPS web server with a lab-CA certificate; names come from the lab's
DNS server, which only our DnsClient asks. Tests that need exchangelib skip
without it, and fail when CI=true (CI installs the ``exchange`` extra).
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from advisor.exchange import INSTALL_HINT
from advisor.net.resolver import DnsClient, parse_nameservers
from advisor.secrets import Secret
from advisor.verify_ews import EwsOutcome, EwsResult, verify_ews
from tests.lab.ews import ntlm_user_file
from tests.lab.ews_service import EWS_PATH, EwsService
from tests.lab.hostile import Blackhole
from tests.lab.servers import Lab
from tests.lab.support import BLOCKED, returns
from tests.lab.web import Request, WebServer

USER = "user@example.test"
PASSWORD = "correct horse"  # tests.lab.servers.DEFAULT_USERS
HOST = "mail.example.test"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.lab-token.sig"
BEARER_ONLY = ('Bearer authorization_uri="https://login.example.test/common/oauth2/authorize"',)
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Ews:
    """One fake EWS host: its web server, the EWS handler and its URLs."""

    site: WebServer
    service: EwsService

    @property
    def url(self) -> str:
        return self.service.url(self.site, HOST)

    @property
    def http_url(self) -> str:
        return self.service.url(self.site, HOST, "http")

    @property
    def requests(self) -> list[Request]:
        return [r for r in self.site.requests if r.path == EWS_PATH]

    def authorizations(self) -> list[str]:
        """The Authorization scheme of each request ("" for none), in order."""
        return [(r.header("Authorization") or "").partition(" ")[0] for r in self.requests]

    @property
    def credentialed(self) -> list[Request]:
        return [r for r in self.requests if r.header("Authorization")]

    def handshakes(self, failed: int) -> list[bool]:
        """Whether each TLS handshake completed, once ``failed`` of them have failed:
        the server thread records a handshake the client broke off after the client
        has returned."""
        give_up = time.monotonic() + 2.0
        while [h.ok for h in self.site.handshakes].count(False) < failed:
            if time.monotonic() > give_up:
                break
            time.sleep(0.01)
        return [h.ok for h in self.site.handshakes]


Serve = Callable[..., Ews]
Run = Callable[..., EwsOutcome]


@pytest.fixture
def serve(lab: Lab, exchangelib_installed: None) -> Serve:
    """``serve(cert=None, **service_options)``: a fake EWS on mail.example.test, HTTPS
    and HTTP on free ports."""
    lab.zone("example.test")

    def start(cert: Any = None, **options: Any) -> Ews:
        site = lab.web(HOST, cert=cert, https_port=0, http_port=0)
        service = EwsService(lab.users, **options).mount(site, HOST)
        return Ews(site, service)

    return start


@pytest.fixture
def run(lab: Lab, exchangelib_installed: None) -> Run:
    """``run(url, password=PASSWORD, budget=8.0, **options)`` against ``lab``'s DNS."""
    dns = DnsClient(parse_nameservers([lab.dns_spec]))

    def call(
        url: str,
        *,
        password: str = PASSWORD,
        username: str = USER,
        oauth: bool = False,
        budget: float = 8.0,
        **options: Any,
    ) -> EwsOutcome:
        return verify_ews(
            address=USER,
            ews_url=url,
            username=username,
            secret=Secret(password),
            oauth=oauth,
            dns=dns,
            ca_file=lab.ca_file,
            deadline=time.monotonic() + budget,
            **options,
        )

    return call


# ---------------------------------------------------------------------- signing in


def test_right_password_reads_the_inbox_count(serve: Serve, run: Run) -> None:
    ews = serve(inbox=7)

    outcome = run(ews.url)

    assert outcome.result == "ok"
    assert outcome.mailbox == "Inbox: 7 items"
    assert outcome.mechanism == "Basic"
    assert not outcome.insecure
    assert outcome.reply == "HTTP 200 OK: NoError"
    assert outcome.detail == (
        f"signed in as {USER} (Basic) and read the Inbox: 7 items; server build 15.1.2507.6"
    )
    # exchangelib's probe without credentials (the auth type), then one GetFolder.
    assert ews.authorizations() == ["", "Basic"]
    probe, get_folder = ews.requests
    assert b"<m:ConvertId " in probe.body
    assert b"<m:GetFolder>" in get_folder.body
    assert b'<t:DistinguishedFolderId Id="inbox">' in get_folder.body
    assert f"<t:EmailAddress>{USER}</t:EmailAddress>".encode() in get_folder.body
    assert b'FieldURI="folder:TotalCount"' in get_folder.body
    assert (
        base64.b64decode((get_folder.header("Authorization") or "")[6:])
        == f"{USER}:{PASSWORD}".encode()
    )
    assert {r.scheme for r in ews.requests} == {"https"}
    assert ews.service.versions == ["Exchange2013"]  # the SOAP it read: GetFolder


def test_one_item_is_singular(serve: Serve, run: Run) -> None:
    assert run(serve(inbox=1).url).mailbox == "Inbox: 1 item"


def test_wrong_password_is_one_attempt_with_the_servers_reply(serve: Serve, run: Run) -> None:
    ews = serve()

    outcome = run(ews.url, password="not the password")

    assert outcome.result == "auth-failed"
    assert outcome.detail == (
        f"the server refused the credentials of {USER} (Basic, HTTP 401); "
        "stopped after this one attempt"
    )
    assert outcome.reply == (
        "HTTP 401 Unauthorized: 401 - Unauthorized: Access is denied due to invalid credentials."
    )
    assert outcome.mechanism == "Basic"
    assert outcome.mailbox is None
    assert len(ews.credentialed) == 1  # no retry that would count towards a lockout
    assert ews.authorizations() == ["", "Basic"]  # and no other auth type tried


@pytest.mark.parametrize(("password", "result"), [(PASSWORD, "ok"), ("wrong", "auth-failed")])
def test_ntlm_is_one_handshake(
    serve: Serve,
    run: Run,
    lab: Lab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    result: str,
) -> None:
    # What on-premises Exchange offers: exchangelib prefers NTLM to Basic.
    monkeypatch.setenv("NTLM_USER_FILE", str(ntlm_user_file(tmp_path, lab.users)))
    ews = serve(challenges=("Negotiate", "NTLM", 'Basic realm="x"'))

    outcome = run(ews.url, password=password)

    assert outcome.result == result
    assert outcome.mechanism == "NTLM"
    # The probe; GetFolder, which requests_ntlm sends bare first and then again with
    # NEGOTIATE and AUTHENTICATE on one connection. Never a Basic header.
    assert ews.authorizations() == ["", "", "NTLM", "NTLM"]
    assert len({r.client for r in ews.credentialed}) == 1


def test_a_bearer_token_is_sent_as_it_is(serve: Serve, run: Run) -> None:
    ews = serve(challenges=BEARER_ONLY, tokens=(TOKEN,), inbox=3)

    outcome = run(ews.url, password=TOKEN, oauth=True)

    assert outcome.result == "ok"
    assert outcome.mechanism == "Bearer"
    assert outcome.mailbox == "Inbox: 3 items"
    # No probe: the token goes with the GetFolder, over verified TLS, in one request.
    assert [r.header("Authorization") for r in ews.requests] == [f"Bearer {TOKEN}"]


def test_a_refused_token_is_auth_failed(serve: Serve, run: Run) -> None:
    ews = serve(challenges=BEARER_ONLY, tokens=(TOKEN,))

    outcome = run(ews.url, password=TOKEN + "x", oauth=True)

    assert outcome.result == "auth-failed"
    assert outcome.detail.startswith("the server refused the access token (Bearer, HTTP 401)")
    assert len(ews.credentialed) == 1


def test_a_bearer_only_server_gets_no_password(serve: Serve, run: Run) -> None:
    ews = serve(challenges=BEARER_ONLY)

    outcome = run(ews.url)

    assert outcome.result == "oauth2-required"
    assert outcome.detail == (
        "HTTP 401 offering Bearer: the server wants OAuth2 (modern authentication), "
        "not a password; nothing sent"
    )
    assert outcome.reply.startswith("HTTP 401 Unauthorized")
    assert ews.credentialed == []
    assert len(ews.requests) == 1  # exchangelib alone would ask once per API version


def test_a_server_offering_only_kerberos_gets_nothing(serve: Serve, run: Run) -> None:
    ews = serve(challenges=("Negotiate",))

    outcome = run(ews.url)

    assert outcome.result == "error"
    assert outcome.detail == (
        "HTTP 401 offering Negotiate: no sign-in method this check can use "
        "(Basic, NTLM or Digest); nothing sent"
    )
    assert ews.credentialed == []


# ---------------------------------------------------------------------- TLS


def test_an_untrusted_certificate_gets_nothing(serve: Serve, run: Run, lab: Lab) -> None:
    ews = serve(cert=lab.ca.issue_untrusted(HOST))

    outcome = run(ews.url)

    assert outcome.result == "tls-refused"
    assert outcome.detail == (
        f"{HOST}: certificate rejected: unable to get local issuer certificate; nothing sent"
        " (--allow-insecure to send it anyway)"
    )
    assert outcome.reply == ""
    assert ews.site.requests == []  # the client hung up in the handshake
    assert ews.handshakes(failed=1) == [False]
    assert not outcome.insecure


def test_an_untrusted_certificate_with_allow_insecure_signs_in(
    serve: Serve, run: Run, lab: Lab
) -> None:
    ews = serve(cert=lab.ca.issue_untrusted(HOST))

    outcome = run(ews.url, allow_insecure=True)

    assert outcome.result == "ok"
    assert outcome.insecure
    assert outcome.detail.endswith(
        " [INSECURE: certificate not trusted: unable to get local issuer certificate]"
    )
    # The verified attempt stopped in the handshake; the second went on without checks.
    assert sorted(ews.handshakes(failed=1)) == [False, True, True]  # probe, GetFolder
    assert ews.authorizations() == ["", "Basic"]


@pytest.mark.parametrize("allow_insecure", [False, True])
def test_a_token_meets_an_untrusted_certificate(
    serve: Serve, run: Run, lab: Lab, allow_insecure: bool
) -> None:
    ews = serve(cert=lab.ca.issue_untrusted(HOST), challenges=BEARER_ONLY, tokens=(TOKEN,))

    outcome = run(ews.url, password=TOKEN, oauth=True, allow_insecure=allow_insecure)

    # The token rides on the first request: a failed handshake means it never left.
    if allow_insecure:
        assert (outcome.result, outcome.insecure) == ("ok", True)
        assert [r.header("Authorization") for r in ews.requests] == [f"Bearer {TOKEN}"]
    else:
        assert (outcome.result, outcome.insecure) == ("tls-refused", False)
        assert ews.site.requests == []


def test_a_trusted_certificate_with_allow_insecure_is_not_insecure(serve: Serve, run: Run) -> None:
    ews = serve()

    outcome = run(ews.url, allow_insecure=True)

    assert (outcome.result, outcome.insecure) == ("ok", False)


def test_a_plain_http_url_gets_nothing(serve: Serve, run: Run) -> None:
    ews = serve()

    outcome = run(ews.http_url)

    assert outcome.result == "tls-refused"
    assert outcome.detail.startswith(f"{ews.http_url} is plain HTTP: the password would cross")
    assert ews.site.requests == []


def test_a_plain_http_url_with_allow_insecure_signs_in(serve: Serve, run: Run) -> None:
    ews = serve()

    outcome = run(ews.http_url, allow_insecure=True)

    assert (outcome.result, outcome.insecure) == ("ok", True)
    assert outcome.detail.endswith(" [INSECURE: no encryption: sent in clear]")
    assert [r.scheme for r in ews.credentialed] == ["http"]


# ---------------------------------------------------------------------- unreachable, other


def test_a_name_without_address_is_unreachable(run: Run, lab: Lab) -> None:
    lab.zone("example.test")

    outcome = run(f"https://nowhere.example.test{EWS_PATH}")

    assert outcome.result == "unreachable"
    assert outcome.detail.startswith("nowhere.example.test: ")


def test_a_closed_port_is_unreachable(run: Run, lab: Lab) -> None:
    lab.zone("example.test")
    lab.host("closed.example.test")  # an address nothing listens on

    outcome = run(f"https://closed.example.test:8443{EWS_PATH}")

    assert outcome.result == "unreachable"
    assert "refused" in outcome.detail


def test_a_silent_host_is_unreachable_within_the_budget(
    run: Run, lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.zone("example.test")
    hole = lab.hostile(Blackhole, "silent.example.test", 0)
    # A connect not clamped to the 1 s budget would wait the HTTP timeout, made
    # BLOCKED (600) s here: returning within 60 s is the budget's doing.
    monkeypatch.setattr("advisor.exchange.HTTP_TIMEOUT", BLOCKED)
    monkeypatch.setattr("advisor.verify_ews.HTTP_TIMEOUT", BLOCKED)

    box: list[Any] = []
    url = f"https://silent.example.test:{hole.port}{EWS_PATH}"
    assert returns(lambda: box.append(run(url, budget=1.0)))
    outcome = box[0]

    assert outcome.result == "unreachable"


def test_a_web_page_is_not_ews(run: Run, lab: Lab, exchangelib_installed: None) -> None:
    lab.zone("example.test")
    site = lab.web(HOST, https_port=0, http_port=None)

    outcome = run(f"https://{HOST}:{site.https_port}{EWS_PATH}")

    assert outcome.result == "error"
    assert outcome.detail == "HTTP 404: no EWS service at this URL; nothing sent"
    assert outcome.reply == "HTTP 404 Not Found: not found"


def test_a_server_error_after_sign_in_is_quoted(serve: Serve, run: Run) -> None:
    ews = serve(folder_error=("ErrorAccessDenied", "Access is denied. Check credentials."))

    outcome = run(ews.url)

    assert outcome.result == "error"
    assert outcome.mechanism == "Basic"
    assert outcome.detail == (
        f"signed in (Basic), but the server did not open the Inbox of {USER}: "
        "AccessDenied: Access is denied. Check credentials."
    )
    assert outcome.reply == ("HTTP 200 OK: ErrorAccessDenied: Access is denied. Check credentials.")
    assert len(ews.credentialed) == 1


def test_an_unknown_mailbox_is_the_servers_word(serve: Serve, run: Run, lab: Lab) -> None:
    ews = serve(mailboxes=("someone.else@example.test",))

    outcome = run(ews.url)

    assert outcome.result == "error"
    assert "NonExistentMailbox: The SMTP address has no mailbox" in outcome.detail


def test_each_check_stands_alone(serve: Serve, run: Run) -> None:
    """exchangelib caches a Protocol per (URL, credentials) for the whole process, and
    replays failures from it; a check must not see an earlier one."""
    from exchangelib.protocol import CachingProtocol

    ews = serve()

    outcomes = [run(ews.url, password="wrong"), run(ews.url), run(ews.url, password="wrong")]

    assert [o.result for o in outcomes] == ["auth-failed", "ok", "auth-failed"]
    assert ews.authorizations() == ["", "Basic"] * 3  # each check probed and signed in anew
    assert not [key for key in CachingProtocol._protocol_cache if EWS_PATH in str(key[0])]


def test_the_system_resolver_is_never_asked(
    serve: Serve, run: Run, system_resolver_calls: list[object]
) -> None:
    ews = serve()
    asked = system_resolver_calls

    assert run(ews.url).result == "ok"
    assert asked == []


# ---------------------------------------------------------------------- the secret stays secret


def test_the_secret_is_in_no_outcome_log_record_or_output(
    serve: Serve,
    run: Run,
    lab: Lab,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "s3cret-Hunter2!"
    lab.users[USER] = secret
    echo = serve(folder_error=("ErrorInvalidRequest", f"bad password {secret}"))
    bearer = serve(
        challenges=BEARER_ONLY, tokens=(secret,), folder_error=("ErrorAccessDenied", secret)
    )
    caplog.set_level(logging.DEBUG)

    outcomes = [
        run(echo.url, password=secret),  # signs in; the server echoes the password
        run(echo.url, password=secret + "x"),  # refused
        run(echo.url, password=secret, username="other@example.test"),  # refused
        run(bearer.url, password=secret, oauth=True),  # the token echoed as well
        run(echo.http_url, password=secret),  # plain HTTP, refused by us
    ]

    assert [o.result for o in outcomes] == [
        "error",
        "auth-failed",
        "auth-failed",
        "error",
        "tls-refused",
    ]
    assert outcomes[0].reply == "HTTP 200 OK: ErrorInvalidRequest: bad password ********"
    assert "bad password ********" in outcomes[0].detail
    forms = {secret, secret + "x"}
    forms |= {base64.b64encode(f"{u}:{p}".encode()).decode() for u in (USER,) for p in forms}
    forms.add(base64.b64encode(f"other@example.test:{secret}".encode()).decode())
    for outcome in outcomes:
        for name in (f.name for f in fields(outcome)):
            assert all(form not in str(getattr(outcome, name)) for form in forms), name
    records = caplog.records
    for record in records:
        text = record.getMessage() + str(record.args) + str(record.exc_text or "")
        assert all(form not in text for form in forms), record
    assert not [r for r in records if r.name.startswith(("exchangelib", "requests_ntlm"))]
    assert any(r.name == "advisor.verify_ews" for r in records)  # we still say what we do
    out, err = capsys.readouterr()
    assert all(form not in out + err for form in forms)


# ---------------------------------------------------------------------- without exchangelib


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() + "\n" + done.stderr


def test_without_exchangelib_the_outcome_says_how_to_install_it() -> None:
    out = _python(
        "import sys, time\n"
        "sys.modules['exchangelib'] = None\n"
        "from advisor.verify_ews import verify_ews\n"
        "from advisor.net.resolver import DnsClient, Nameserver\n"
        "from advisor.secrets import Secret\n"
        "o = verify_ews(address='user@example.test', ews_url='https://mail.example.test/EWS/"
        "Exchange.asmx', username='u', secret=Secret('p'), oauth=False,"
        " dns=DnsClient([Nameserver('127.0.0.1', 9)]), ca_file=None,"
        " deadline=time.monotonic() + 1)\n"
        "print(o.result, o.detail, sep='|')\n"
    )
    assert out.splitlines()[0] == f"error|{INSTALL_HINT}"


def test_importing_the_module_imports_neither_exchangelib_nor_requests() -> None:
    out = _python(
        "import sys, advisor.verify_ews\n"
        "print(sorted(m for m in sys.modules"
        " if m.partition('.')[0] in ('exchangelib', 'requests', 'urllib3')))\n"
    )
    assert out.splitlines()[0] == "[]"
    imported = [line.rpartition("|")[2].strip() for line in out.splitlines()[1:]]
    assert not [m for m in imported if m.startswith(("exchangelib", "requests", "urllib3"))]


def test_the_results_are_the_six_the_caller_knows() -> None:
    expected = {"ok", "auth-failed", "tls-refused", "unreachable", "oauth2-required", "error"}
    assert {str(result) for result in EwsResult} == expected
