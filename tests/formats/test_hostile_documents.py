"""Documents made to be slow: tens of thousands of unknown attributes or elements.

The notes about them are de-duplicated with sets and capped, so the work stays
linear and the report readable (bench/lint.py measures the time; tests assert on
what is kept and counted, never on time).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.address import parse_address
from advisor.formats.lint import MAX_FINDINGS
from advisor.formats.mozilla import MAX_NOTES, parse_client_config
from advisor.verify import targets_from_config
from tests.test_discovery import run_cli

SERVERS = (
    '<incomingServer type="imap"{attrs}><hostname>imap.example.com</hostname>'
    "<port>993</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
    "<authentication>password-cleartext</authentication></incomingServer>"
    '<outgoingServer type="smtp"><hostname>smtp.example.com</hostname><port>465</port>'
    "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
    "<authentication>password-cleartext</authentication></outgoingServer>"
)


def document(*, attrs: str = "", body: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">'
        '<emailProvider id="example.com"><domain>example.com</domain>'
        + SERVERS.format(attrs=attrs)
        + body
        + "</emailProvider></clientConfig>\n"
    ).encode()


UNKNOWN_ATTRIBUTES = 50_000


@pytest.fixture(scope="module")
def many_attributes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good file whose first server carries 50,000 distinct unknown attributes."""
    path = tmp_path_factory.mktemp("hostile") / "attributes.xml"
    path.write_bytes(document(attrs="".join(f' x{i}="1"' for i in range(UNKNOWN_ATTRIBUTES))))
    return path


def test_lint_lists_a_bounded_number_of_distinct_findings(
    many_attributes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "lint", str(many_attributes), "--json")
    assert (code, err) == (0, "")  # unknown attributes are warnings: the file is good
    (report,) = json.loads(out)["files"]
    warnings = report["warnings"]
    assert len(warnings) == MAX_FINDINGS + 1
    listed = warnings[:-1]
    assert len({(w["code"], w["where"], w["message"]) for w in listed}) == MAX_FINDINGS
    assert all(w["code"] == "ignored" and "unknown attribute 'x" in w["message"] for w in listed)
    # The others are counted, once each: 50,000 distinct notes, MAX_FINDINGS shown.
    assert warnings[-1]["code"] == "more"
    assert (
        warnings[-1]["message"] == f"{UNKNOWN_ATTRIBUTES - MAX_FINDINGS} more findings, not listed"
    )
    code, out, _ = run_cli(capsys, "lint", str(many_attributes))
    assert len(out.splitlines()) == MAX_FINDINGS + 2  # the findings, "more", the summary


def test_repeated_notes_are_kept_once_and_not_counted_again() -> None:
    data = document(body="<unknown/>" * 20_000 + "<other/>" * 20_000)
    config = parse_client_config(data)
    assert config.ignored == (
        "unknown element <unknown> in <emailProvider id='example.com'>: ignored",
        "unknown element <other> in <emailProvider id='example.com'>: ignored",
    )
    assert config.more_ignored == 0


def test_verify_config_with_a_mebibyte_of_unknown_elements(tmp_path: Path) -> None:
    parts: list[str] = []
    size = len(document())
    while size + len(part := f"<unknown{len(parts)}/>") <= 1 << 20:
        parts.append(part)
        size += len(part)
    count = len(parts)
    path = tmp_path / "elements.xml"
    path.write_bytes(document(body="".join(parts)))
    assert path.stat().st_size > 1_000_000
    # What `advisor verify --config` reads before connecting anywhere.
    targets = targets_from_config(path, "jane@example.com")
    assert [(t.protocol, t.host, t.username) for t in targets] == [
        ("imap", "imap.example.com", "jane@example.com"),
        ("smtp", "smtp.example.com", "jane@example.com"),
    ]
    config = parse_client_config(path.read_bytes()).for_address(parse_address("jane@example.com"))
    assert len(config.ignored) == MAX_NOTES
    assert len(set(config.ignored)) == MAX_NOTES
    assert config.more_ignored == count - MAX_NOTES
