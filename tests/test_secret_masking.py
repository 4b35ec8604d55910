"""A server that echoes the secret back, in every form it took on the wire, gets it
masked: in what `advisor verify` prints (text and JSON), on stderr and in every log
record, whichever library made it (imapclient logs each server line at DEBUG).

The server is a real one on loopback (a scripted IMAP server over TLS with a lab
certificate, found through the lab's DNS); the command is the real CLI.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from advisor.secrets import Secret
from tests.lab.servers import Lab
from tests.probes.fakes import Peer, Scripted
from tests.test_discovery import run_cli

pytestmark = pytest.mark.lab

USER = "bob@mask.test"
HOST = "imap.mask.test"
PASSWORDS = {
    "quote-backslash": 'pa"ss\\wo"rd',
    "tab": "tab\there\tpw",
    "two-chars": "Q7",
    "one-char": "Z",
}
Echo = Callable[[bytes, str], bytes]


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data)


ECHOES: dict[str, Echo] = {
    # LOGIN: the command line as received, the password in IMAP's quoted form.
    "login-line": lambda line, _pw: line,
    # AUTHENTICATE PLAIN: the blob, decoded (NULs and all), re-encoded without the
    # leading NUL, and the password inside other blobs at each base64 alignment.
    "plain-blob": lambda blob, _pw: blob,
    "plain-decoded": lambda blob, _pw: base64.b64decode(blob),
    "user-nul-pass": lambda blob, _pw: _b64(base64.b64decode(blob)[1:]),
    "align-0": lambda _blob, pw: _b64(pw.encode() + b"!"),
    "align-1": lambda _blob, pw: _b64(b"x" + pw.encode() + b"!"),
    "align-2": lambda _blob, pw: _b64(b"xy" + pw.encode() + b"!"),
}


def echoing_server(echo: Echo, password: str) -> Callable[[Peer], None]:
    login = echo is ECHOES["login-line"]

    def script(peer: Peer) -> None:
        peer.send(b"* OK ready\r\n")
        while (line := peer.line()) is not None:
            tag, _, rest = line.partition(b" ")
            command = rest.split(b" ", 1)[0].upper()
            if command == b"CAPABILITY":
                caps = b"IMAP4rev1" if login else b"IMAP4rev1 AUTH=PLAIN"
                peer.send(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n")
            elif command == b"LOGIN":
                peer.send(tag + b" NO [AUTHENTICATIONFAILED] you sent " + echo(line, password))
                peer.send(b"\r\n")
            elif command == b"AUTHENTICATE":
                peer.send(b"+ \r\n")
                blob = peer.line() or b""
                peer.send(tag + b" NO [AUTHENTICATIONFAILED] you sent " + echo(blob, password))
                peer.send(b"\r\n")
            elif command == b"LOGOUT":
                peer.send(b"* BYE\r\n" + tag + b" OK bye\r\n")
                return

    return script


def leaks(password: str) -> Iterator[re.Pattern[str]]:
    """Every way the password could show in text, as the test sees it independently."""
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    texts = set()
    for text in (password, quoted):
        folded = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        texts |= {text, folded, repr(text)[1:-1], repr(text.encode())[2:-1]}
    raw = password.encode()
    user = USER.encode()
    for blob in (b"\0" + user + b"\0" + raw, user + b"\0" + raw, raw):
        texts.add(_b64(blob).decode())
    for prefix in range(3):
        # The characters of base64(prefix bytes + password + more) that only the
        # password's bytes decide: whole 3-byte groups inside it.
        start = (3 - prefix) % 3
        inner = raw[start:][: (len(raw) - start) // 3 * 3]
        if inner:
            texts.add(_b64(inner).decode())
    for text in texts:
        if len(text) >= 3:
            yield re.compile(re.escape(text))
        else:  # a short one is a leak where it stands alone, as a word
            yield re.compile(rf"(?<![0-9A-Za-z]){re.escape(text)}(?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def config(module_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    folder = tmp_path_factory.mktemp("mask")

    def make(port: int) -> Path:
        path = folder / f"config-{port}.xml"
        path.write_text(
            f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="mask.test">
    <domain>mask.test</domain>
    <incomingServer type="imap">
      <hostname>{HOST}</hostname><port>{port}</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
  </emailProvider>
</clientConfig>
"""
        )
        return path

    return make


@pytest.mark.parametrize(
    ("echo_kind", "password_kind"),
    [
        (echo, kind)
        for echo in ECHOES
        for kind, password in PASSWORDS.items()
        # No whole base64 group inside a password this short: nothing to find.
        if not (echo.startswith("align") and len(password) < 3)
    ],
)
@pytest.mark.parametrize("output", ["text", "json"])
def test_an_echoed_secret_is_masked_everywhere(
    module_lab: Lab,
    config: Callable[[int], Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    password_kind: str,
    echo_kind: str,
    output: str,
) -> None:
    password = PASSWORDS[password_kind]
    cert = module_lab.ca.issue(HOST)
    server = Scripted(
        echoing_server(ECHOES[echo_kind], password),
        context=cert.server_context(),
        implicit_tls=True,
    )
    caplog.set_level(logging.DEBUG)
    with server as fake:
        module_lab.host(HOST, fake.address[0])
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        code, out, err = run_cli(
            capsys,
            "verify",
            USER,
            "--config",
            str(config(fake.address[1])),
            "--dns",
            module_lab.dns_spec,
            "--ca-file",
            str(module_lab.ca_file),
            "--password-stdin",
            *(["--json"] if output == "json" else []),
        )
    assert code == 4, err
    texts = {"stdout": out, "stderr": err}
    if output == "json":
        (check,) = json.loads(out)["checks"]
        assert check["result"] == "auth-failed"
        texts |= {f"json {k}": str(v) for k, v in check.items()}
        assert "********" in check["reply"]  # the echo was there, and was masked
    else:
        assert "server said: " in out
        assert "********" in out
    records = [r for r in caplog.records if r.name.startswith("imapclient")]
    assert any(r.getMessage().startswith("< ") for r in records)  # server lines were logged
    for number, record in enumerate(caplog.records):
        texts[f"log record {number} ({record.name})"] = f"{record.getMessage()} {record.msg}"
    for where, text in texts.items():
        for leak in leaks(password):
            assert not leak.search(text), (where, leak.pattern, text)


def test_short_secrets_are_masked_as_words_only() -> None:
    from advisor.secrets import Masker

    mask = Masker(Secret("Q7"), USER)
    assert mask('a1 NO LOGIN bob "Q7" failed') == 'a1 NO LOGIN bob "********" failed'
    assert mask("Q77 xQ7 aQ7b") == "Q77 xQ7 aQ7b"  # inside a longer word: not the password


def test_every_log_record_is_masked_while_checking(caplog: pytest.LogCaptureFixture) -> None:
    from advisor.secrets import Masker, masking_log_records

    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("some.library")
    with masking_log_records(Masker(Secret("hunter2"), USER)):
        log.debug("< %r", b"a1 NO hunter2")
        try:
            raise ValueError("bad hunter2")
        except ValueError:
            log.exception("failed")
    log.debug("after: hunter2")  # outside the check: left as it is
    shown = [(r.getMessage(), r.exc_text) for r in caplog.records]
    assert shown[0] == ("< b'a1 NO ********'", None)
    assert "hunter2" not in str(shown[1])
    assert "ValueError: bad ********" in str(shown[1][1])
    assert shown[2][0] == "after: hunter2"
