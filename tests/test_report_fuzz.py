"""Random mutations of a real saved report, fed to every writer.

A report made by ``advisor discover --json`` against the lab (Dovecot, aiosmtpd,
the lab's DNS and CA) is mutated at random places: values replaced by nulls,
booleans, huge or fractional numbers, hostile strings, lists or objects; keys
removed. ``advisor export`` then runs for every client and every protocol.
Whatever the mutation, the outcome is one of two:

* a one-line error (exit 1 or 2, never "internal error") and no file anywhere;
* files that are all inside ``--out`` and pass the format checks: lint for the
  autoconfig and Autodiscover XML, plistlib for the profile, the user.js and
  PRF readers, and no control or bidi character in any text file.
"""

from __future__ import annotations

import configparser
import contextlib
import copy
import io
import json
import plistlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from advisor.cli import main
from advisor.formats.apple import parse_mobileconfig
from advisor.formats.autodiscover import parse_response
from advisor.formats.lint import lint
from advisor.formats.text import unsafe_char
from advisor.formats.thunderbird import parse_user_js
from tests.lab.servers import Lab

pytestmark = pytest.mark.lab

ADDRESS = "jane@fuzz.test"
PROTOCOLS = ("imap", "pop3", "exchange")

NASTY_STRINGS = [
    "../../../../tmp/x",
    "..",
    "/etc/passwd",
    "http://mail.fuzz.test/EWS/Exchange.asmx",
    "javascript:alert(1)",
    "https://mail.fuzz.test/\u202eEWS",
    "https://mail.fuzz.test:0/",
    "%EMAILADDRESS%",
    "a\x00b",
    "\x1b]0;owned\x07",
    "\u009b2J",
    "\ud800",
    "imap.fuzz.test\u202e",
    "<script>alert(1)</script>",
    'imap.fuzz.test"',
    "imap fuzz.test",
    "x" * 3000,
    "alice@gmx.com",
    "fuzz.test",
    "imap.fuzz.test",
    "ssl",
    "plain",
    "starttls",
    "smtp",
    "imap",
    "OAuth2",
    "microsoft365",
    "",
]
HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 65535, 65536, 70000, 993, 587]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY_STRINGS),
    st.sampled_from(NASTY_STRINGS),  # twice as likely: they include values that are valid
    st.text(max_size=20),
    st.lists(st.sampled_from(NASTY_STRINGS), max_size=3),
    st.dictionaries(st.sampled_from(["protocol", "port", "x"]), st.integers(), max_size=2),
)

# Values that a report may well hold, by key: odd but valid, so that the writers,
# not only the report checks, meet them.
NAME_TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=30)
HOST = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9_]{1,8}){1,3}", fullmatch=True)
URL = st.from_regex(
    r"https://[a-z]{1,8}\.fuzz\.test(:[1-9][0-9]{0,3})?/[A-Za-z0-9._~!$&'()*+,;=:@/%-]{0,20}",
    fullmatch=True,
)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "hostname": st.one_of(HOST, st.sampled_from(["IMAP.Fuzz.Test", "bücher.fuzz.test"])),
    "port": st.integers(1, 65535),
    "security": st.sampled_from(["ssl", "starttls", "plain"]),
    "protocol": st.sampled_from(["imap", "pop3", "smtp"]),
    "username": NAME_TEXT,
    "verified": st.booleans(),
    "stated_auth": st.lists(
        st.sampled_from(["password-cleartext", "password-encrypted", "OAuth2", "NTLM", "GSSAPI"]),
        max_size=3,
    ),
    "auth": st.lists(
        st.sampled_from(["PLAIN", "LOGIN", "XOAUTH2", "NTLM", "Negotiate"]), max_size=3
    ),
    "ews_url": st.one_of(st.none(), URL),
    "activesync_url": st.one_of(st.none(), URL),
    "autodiscover_url": st.one_of(st.none(), URL),
    "hosted": st.sampled_from([None, "microsoft365", "on-premises"]),
    "hosted_by": st.sampled_from([None, "microsoft365", "google", "gmx.net"]),
    "requires_oauth2": st.booleans(),
    "id": st.one_of(NAME_TEXT, HOST),
    "name": NAME_TEXT,
    "address": st.sampled_from([ADDRESS, "Jane@FUZZ.test", "bob@fuzz.test"]),
    "live": st.booleans(),
}


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
    assert isinstance(code, int)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def real_report(module_lab: Lab) -> dict[str, Any]:
    """``discover --json`` of a lab domain, plus the Exchange endpoints the lab has no
    server for (so that every writer, Exchange's included, has something to write)."""
    module_lab.zone(
        "fuzz.test",
        """
        @ MX 10 mx.fuzz.test.
        _imaps._tcp SRV 0 1 993 imap.fuzz.test.
        _pop3s._tcp SRV 0 1 995 pop.fuzz.test.
        _submission._tcp SRV 0 1 587 smtp.fuzz.test.
        """,
    )
    module_lab.dovecot("imap.fuzz.test", "pop.fuzz.test")
    module_lab.smtp("smtp.fuzz.test", submissions=None)
    code, out, err = run(
        "discover",
        ADDRESS,
        "--json",
        "--wait-all",
        "--dns",
        module_lab.dns_spec,
        "--ca-file",
        str(module_lab.ca_file),
    )
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    assert {c["protocol"] for c in doc["incoming"] if c["verified"]} >= {"imap", "pop3"}
    doc["exchange"] = {
        "ews_url": "https://mail.fuzz.test/EWS/Exchange.asmx",
        "activesync_url": "https://mail.fuzz.test/Microsoft-Server-ActiveSync",
        "autodiscover_url": "https://autodiscover.fuzz.test/autodiscover/autodiscover.xml",
        "auth": ["NTLM", "Negotiate"],
        "hosted": "on-premises",
    }
    return doc


def places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key or index of the document, outer ones first."""
    found: list[tuple[Any, ...]] = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        found.append((*path, key))
        found += places(value, (*path, key))
    return found


def mutate(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        every = places(doc)
        # Half the time, a value some writer reads, more often given a plausible value.
        read = [p for p in every if p[-1] in PLAUSIBLE and not {"steps", "probe"} & set(p[:3])]
        where = data.draw(st.sampled_from(data.draw(st.sampled_from([every, read]))), label="path")
        parent: Any = doc
        for key in where[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and data.draw(st.booleans(), label="delete"):
            del parent[where[-1]]
        else:
            key = where[-1]
            plausible = PLAUSIBLE.get(key) if isinstance(key, str) else None
            if plausible is not None and data.draw(st.integers(0, 3), label="plausible") > 0:
                parent[key] = data.draw(plausible, label="plausible value")
            else:
                parent[key] = data.draw(HOSTILE, label="value")
    return doc


def check_text(name: str, text: str) -> None:
    cleaned = text.replace("\n", " ").replace("\t", " ").replace("\r", " ")
    assert unsafe_char(cleaned) is None, (name, text)


def check_file(path: Path) -> None:
    """The format check of each kind of file export writes."""
    data = path.read_bytes()
    name = path.name
    if name.endswith(".mobileconfig"):
        plistlib.loads(data)
        parse_mobileconfig(data)
    elif name.endswith((".prf", ".reg")):
        assert data.startswith(b"\xff\xfe"), name  # UTF-16 LE with its BOM
        text = data[2:].decode("utf-16-le")
        check_text(name, text)
        if name.endswith(".prf"):
            parser = configparser.ConfigParser(interpolation=None, strict=True)
            parser.read_string(text)
            assert parser.has_section("Account1")
        else:
            assert text.startswith("Windows Registry Editor Version 5.00")
    else:
        text = data.decode("utf-8")
        check_text(name, text)
        if name.endswith(".xml"):
            report = lint(data, name=name)
            assert report.ok, (name, report.errors, text)
            if name.startswith("autodiscover-"):
                parse_response(data)
        elif name == "user.js":
            assert parse_user_js(text)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_reports_give_one_line_errors_or_good_files(
    real_report: dict[str, Any], data: st.DataObject
) -> None:
    doc = mutate(real_report, data)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        saved = work / "report.json"
        saved.write_text(json.dumps(doc))
        for protocol in PROTOCOLS:
            out = work / "a" / "b" / protocol
            code, stdout, err = run(
                "export",
                ADDRESS,
                "--from-json",
                str(saved),
                "--out",
                str(out),
                "--client",
                "all",
                "--protocol",
                protocol,
            )
            written = [p for p in work.rglob("*") if p.is_file() and p != saved]
            event(f"{protocol}: {'files' if code == 0 else 'refused'}")
            if code == 0:
                assert written, stdout
                for path in written:
                    assert path.is_relative_to(out), path
                    check_file(path)
                check_text("stdout", stdout)
            else:
                assert code in (1, 2), err
                lines = err.strip().splitlines()
                assert len(lines) == 1, err
                assert lines[0].startswith("advisor: error: "), err
                assert "internal error" not in err
                check_text("stderr", err)
                assert written == [], err
            for path in written:
                path.unlink()


def test_the_unmutated_report_exports_every_protocol(real_report: dict[str, Any]) -> None:
    """The property above is not vacuous: the real report writes every client's files."""
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "report.json"
        saved.write_text(json.dumps(real_report))
        for protocol in PROTOCOLS:
            out = Path(folder) / protocol
            code, _out, err = run(
                "export",
                ADDRESS,
                "--from-json",
                str(saved),
                "--out",
                str(out),
                "--protocol",
                protocol,
            )
            assert code == 0, err
            names = {p.name for p in out.rglob("*") if p.is_file()}
            assert "README.txt" in names
            assert any(n.endswith(".mobileconfig") for n in names)
            for path in out.rglob("*"):
                if path.is_file():
                    check_file(path)
