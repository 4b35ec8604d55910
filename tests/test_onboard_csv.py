"""The employees CSV and the discovery cache of `advisor onboard`, without servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.cache import DiscoveryCache, parse_duration, settings_key
from advisor.errors import AdvisorError
from advisor.needs import Client, Groupware, Needs
from advisor.onboard import (
    BadRow,
    Employee,
    EmployeeCsv,
    _csv_cell,
    folder_for,
    parse_devices,
    parse_lang,
)


def employees(tmp_path: Path, text: str | bytes, **options: object) -> list[Employee | BadRow]:
    path = tmp_path / "staff.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    settings: dict[str, object] = {"base": Needs(), "default_lang": "en"} | options
    return list(EmployeeCsv(path, **settings))  # type: ignore[arg-type]


def test_good_rows_with_every_kind_of_column(tmp_path: Path) -> None:
    rows = employees(
        tmp_path,
        "email,name,lang,clients,devices,calendars,devices.shared\n"
        'ana@example.com,Ana Lima,fr,thunderbird; ios-mail,"laptop, phone=2",share,yes\n'
        "bo@exämple.com,,,,,,\n",
    )
    ana, bo = rows
    assert isinstance(ana, Employee)
    assert (ana.line, ana.email, ana.name, ana.lang) == (2, "ana@example.com", "Ana Lima", "fr")
    assert ana.needs.clients == (Client.THUNDERBIRD, Client.IOS_MAIL)
    assert (ana.needs.desktops, ana.needs.laptops, ana.needs.phones) == (0, 1, 2)
    assert ana.needs.calendars is Groupware.SHARE
    assert ana.needs.shared_devices is True
    assert isinstance(bo, Employee)
    assert bo.domain == "xn--exmple-cua.com"
    assert bo.email == "bo@exämple.com"
    assert bo.email_ascii == "bo@xn--exmple-cua.com"
    assert bo.needs == Needs()  # empty cells keep the defaults
    assert bo.lang == "en"


def test_bad_rows_are_reported_with_their_line_and_the_others_still_read(tmp_path: Path) -> None:
    rows = employees(
        tmp_path,
        "email,name,lang,calendars\n"
        "good@example.com,Good,,\n"
        "not-an-address,Bad,,\n"
        '"multi@example.com","Two\nLines",,\n'  # lines 4-5: one record; a name has one line
        "x@example.com,X,de,\n"
        "\n"  # blank lines are skipped, but counted
        "y@example.com,Y,,maybe\n"
        ",,,\n"
        "z@example.com,Z,,,extra\n"
        "last@example.com,Last,en-GB,sync\n",
    )
    summary = [
        (r.line, type(r).__name__, getattr(r, "message", "")[:40] if isinstance(r, BadRow) else "")
        for r in rows
    ]
    assert [s[:2] for s in summary] == [
        (2, "Employee"),
        (3, "BadRow"),
        (4, "BadRow"),
        (6, "BadRow"),
        (8, "BadRow"),
        (10, "BadRow"),
        (11, "Employee"),
    ]
    bad = {r.line: r.message for r in rows if isinstance(r, BadRow)}
    assert "'@'" in bad[3]
    assert bad[6] == "lang 'de': expected en or fr"
    assert "calendars" in bad[8]
    assert "none | sync | share" in bad[8]
    assert "5 values" in bad[10]
    assert "control characters" in bad[4]


def test_control_characters_in_a_name_are_refused(tmp_path: Path) -> None:
    (row,) = employees(tmp_path, 'email,name\na@example.com,"Bell\x07"\n')
    assert isinstance(row, BadRow)
    assert "control characters" in row.message


def test_semicolons_and_a_byte_order_mark_as_excel_writes_them(tmp_path: Path) -> None:
    rows = employees(tmp_path, "\ufeffEmail;Name;Lang\nana@example.com;Ana, Lima;FR\n")
    (ana,) = rows
    assert isinstance(ana, Employee)
    assert (ana.name, ana.lang) == ("Ana, Lima", "fr")


def test_french_excel_csv_in_windows_1252_with_french_headers(tmp_path: Path) -> None:
    # What Excel (French Windows) saves as "CSV (séparateur : point-virgule)".
    data = (
        "Courriel;Nom;Langue\r\nzoe@gmx.com;Zoé Lefèvre;fr\r\nandre@example.com;André Œuvre;\r\n"
    ).encode("cp1252")
    rows = employees(tmp_path, data)
    assert [(r.email, r.name, r.lang) for r in rows if isinstance(r, Employee)] == [
        ("zoe@gmx.com", "Zoé Lefèvre", "fr"),
        ("andre@example.com", "André Œuvre", "en"),
    ]


@pytest.mark.parametrize(
    "header",
    ["Email;Nom;Langue", "mail,name", "E-mail,Name", "Adresse e-mail;Nom complet", "ADRESSE;nom"],
)
def test_header_aliases(tmp_path: Path, header: str) -> None:
    sep = ";" if ";" in header else ","
    extra = sep.join([""] * (header.count(sep)))
    (row,) = employees(tmp_path, f"\ufeff{header}\nana@example.com{extra}\n")
    assert isinstance(row, Employee)
    assert row.email == "ana@example.com"


def test_a_file_without_a_header_line_says_so(tmp_path: Path) -> None:
    with pytest.raises(AdvisorError) as info:
        employees(tmp_path, "zoe@gmx.com,Zoé\nana@example.com,Ana\n")
    assert "the first line must be a header such as 'email,name,lang'" in str(info.value)
    assert "unknown column" not in str(info.value)


def test_a_row_that_is_not_text_is_one_bad_row(tmp_path: Path) -> None:
    # 0x81 is undefined in Windows-1252 too: that row, alone, cannot be read.
    data = b"email,name\nana@example.com,Ana\nbob@example.com,Andr\x81\nc@example.com,C\n"
    rows = employees(tmp_path, data)
    assert [type(r).__name__ for r in rows] == ["Employee", "BadRow", "Employee"]
    bad = rows[1]
    assert isinstance(bad, BadRow)
    assert bad.line == 3
    assert "UTF-8" in bad.message
    assert bad.name == ""  # nothing undecodable travels on to summary.csv


def test_a_huge_cell_is_a_bad_row(tmp_path: Path) -> None:
    rows = employees(tmp_path, f"email,name\na@example.com,{'x' * 5000}\nb@example.com,B\n")
    assert isinstance(rows[0], BadRow)
    assert "longer than" in rows[0].message
    assert isinstance(rows[1], Employee)


def test_a_cell_beyond_the_csv_field_limit_is_a_bad_row(tmp_path: Path) -> None:
    rows = employees(tmp_path, f'email,name\na@example.com,"{"x" * 200_000}"\nb@example.com,B\n')
    assert isinstance(rows[0], BadRow)
    assert rows[0].line == 2
    assert isinstance(rows[-1], Employee)
    assert rows[-1].email == "b@example.com"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "empty"),
        ("\n\na@example.com\n", "empty"),
        ("name,lang\na,b\n", "no 'email' column"),
        ("email,phone\na@example.com,1\n", "unknown column 'phone'"),
        ("email,name,Email\na@example.com,,\n", "appears twice"),
    ],
)
def test_a_bad_header_stops_before_any_work(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(AdvisorError, match=message):
        employees(tmp_path, header)


def test_organisation_answers_are_the_defaults(tmp_path: Path) -> None:
    base = Needs(calendars=Groupware.SHARE, phones=3)
    (row,) = employees(tmp_path, "email,calendars\na@example.com,\n", base=base)
    assert isinstance(row, Employee)
    assert (row.needs.calendars, row.needs.phones) == (Groupware.SHARE, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("laptop", {"devices.laptop": 1}),
        ("laptop, phone=2", {"devices.laptop": 1, "devices.phone": 2}),
        ("2 phones; desktop:1", {"devices.phone": 2, "devices.desktop": 1}),
        ("phone phone tablet", {"devices.phone": 2, "devices.tablet": 1}),
        ("Desktops=3 shared", {"devices.desktop": 3, "devices.shared": True}),
    ],
)
def test_devices_column(text: str, expected: dict[str, object]) -> None:
    answers = parse_devices(text)
    for kind in ("desktop", "laptop", "phone", "tablet"):
        assert answers[f"devices.{kind}"] == expected.get(f"devices.{kind}", 0)
    assert answers.get("devices.shared", False) == expected.get("devices.shared", False)


@pytest.mark.parametrize("text", ["toaster", "laptop=x", "2 laptop=3", ";"])
def test_bad_devices_column(text: str) -> None:
    with pytest.raises(AdvisorError, match="devices"):
        parse_devices(text)


def test_lang_column() -> None:
    assert parse_lang("", "fr") == "fr"
    assert parse_lang("fr_CA", "en") == "fr"
    assert parse_lang("Français", "en") == "fr"
    assert parse_lang("EN-us", "fr") == "en"
    with pytest.raises(AdvisorError, match="expected en or fr"):
        parse_lang("de", "en")


def test_folder_names_are_safe() -> None:
    assert folder_for("Ana.Lima@Example.com") == "ana.lima@example.com"
    assert folder_for("a/b\\c@x.com") == "a_b_c@x.com"
    assert folder_for("../..@x.com") == "../..@x.com".replace("/", "_")


def test_summary_cells_never_run_as_formulas() -> None:
    assert _csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert _csv_cell("+1") == "'+1"
    assert _csv_cell("-bob@example.com") == "'-bob@example.com"
    assert _csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert _csv_cell("Ana") == "Ana"


# ------------------------------------------------------------------ cache


REPORT = {"domain_ascii": "example.com", "live": True, "usable": True, "address": "a@example.com"}


def test_cache_keeps_a_live_report_for_its_ttl(tmp_path: Path) -> None:
    cache = DiscoveryCache(tmp_path, ttl=3600, key="k")
    assert cache.get("example.com") is None
    assert cache.put("example.com", REPORT, now=1000.0)
    entry = cache.get("example.com", now=1000.0 + 60)
    assert entry is not None
    assert entry.report == REPORT
    assert entry.age(now=1060.0) == 60
    assert cache.get("example.com", now=1000.0 + 3601) is None  # expired
    assert DiscoveryCache(tmp_path, ttl=3600, key="other").get("example.com", now=1001) is None
    path = tmp_path / "discovery" / "example.com.json"
    assert path.stat().st_mode & 0o777 == 0o600


def test_cache_refuses_offline_or_unusable_reports(tmp_path: Path) -> None:
    cache = DiscoveryCache(tmp_path, ttl=3600, key="k")
    assert not cache.put("example.com", {**REPORT, "live": False})
    assert not cache.put("example.com", {**REPORT, "usable": False})
    assert not DiscoveryCache(tmp_path, ttl=0, key="k").put("example.com", REPORT)
    assert not (tmp_path / "discovery" / "example.com.json").exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", json.dumps({"schema": "advisor.cache/1", "key": "k"}).encode()],
)
def test_a_damaged_cache_entry_is_a_miss(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "discovery" / "example.com.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert DiscoveryCache(tmp_path, ttl=3600, key="k").get("example.com") is None


def test_an_entry_for_another_domain_is_a_miss(tmp_path: Path) -> None:
    cache = DiscoveryCache(tmp_path, ttl=3600, key="k")
    cache.put("example.com", REPORT)
    (tmp_path / "discovery" / "example.com.json").rename(tmp_path / "discovery" / "other.com.json")
    assert cache.get("other.com") is None


def test_durations() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("30m") == 1800
    assert parse_duration("12h") == 43200
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("0") == 0
    with pytest.raises(AdvisorError, match="--cache-ttl"):
        parse_duration("soon")


def test_settings_key_changes_with_the_settings() -> None:
    assert settings_key({"dns": ["1.1.1.1"]}) == settings_key({"dns": ["1.1.1.1"]})
    assert settings_key({"dns": ["1.1.1.1"]}) != settings_key({"dns": ["9.9.9.9"]})


# ------------------------------------------------------------------ the terminal


def test_progress_bar_with_counts_and_eta_on_a_terminal(tmp_path: Path) -> None:
    """Offline (the built-in catalogue), so no server is needed: the bar is what is tested."""
    import os
    import sys

    import pexpect

    staff = tmp_path / "staff.csv"
    staff.write_text(
        "email,lang\n"
        + "".join(f"user{i}@gmail.com,{'fr' if i % 2 else 'en'}\n" for i in range(30))
        + "broken,\n",
        encoding="utf-8",
    )
    root = Path(__file__).resolve().parents[1]
    child = pexpect.spawn(
        sys.executable,
        ["-m", "advisor", "onboard", str(staff), "--out", str(tmp_path / "out"), "--offline"],
        env={
            **os.environ,
            "PYTHONPATH": str(root),
            "TERM": "xterm",
            "ADVISOR_CACHE_DIR": str(tmp_path / "cache"),
        },
        cwd=str(tmp_path),
        dimensions=(24, 120),
        encoding="utf-8",
        timeout=60,
    )
    child.expect("Employees")
    child.expect("ETA")
    child.expect(pexpect.EOF)
    child.close()
    output = child.before or ""
    assert "31/31" in output
    assert "1 failed" in output
    assert child.exitstatus == 1
    assert "line 32: broken" in output


def test_a_domain_with_nothing_verified_says_what_rows_get_and_from_where() -> None:
    from advisor.onboard import _servers_line
    from advisor.report import from_json
    from tests.test_export import report, server

    unverified = {"verified": False, "sources": ["catalogue"], "auth": []}
    doc = from_json(
        report(
            incoming=[{**server("imap", "imap.example.test", 993, "ssl"), **unverified}],
            outgoing=[{**server("smtp", "smtp.example.test", 465, "ssl"), **unverified}],
            live=False,
        )
    )
    line = _servers_line(doc)
    assert line.startswith(
        "nothing verified; unverified: IMAP imap.example.test:993 (catalogue),"
        " SMTP smtp.example.test:465 (catalogue)"
    )
