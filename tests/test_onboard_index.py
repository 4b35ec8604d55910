"""Onboarding's reports at scale: index.html over pages, summary.csv streamed, flat memory.

Most runs here hold bad rows only (no discovery, no lab): the reports are the
same whatever the rows' status. One run against the lab checks the links.
"""

from __future__ import annotations

import csv
import itertools
import re
import tracemalloc
from pathlib import Path
from urllib.parse import unquote

import pytest

from advisor.onboard import (
    INDEX_PAGE_BYTES,
    Onboarding,
    Outcome,
    RowResult,
    Settings,
    Status,
    _Reports,
)
from advisor.sheets import IndexRenderer, _page_list, index_page_name
from tests.lab.servers import Lab
from tests.test_sheets import check_self_contained, parse

LINE = re.compile(r'<td class="num">(\d+)</td>')


def run(tmp_path: Path, rows: list[str], out: str = "out", **settings: object) -> Outcome:
    staff = tmp_path / f"{out}.csv"
    staff.write_text("email,name,lang\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    options: dict[str, object] = {
        "offline": True,
        "cache_dir": tmp_path / "cache",
        "processes": 1,
        **settings,
    }
    return Onboarding(staff, Settings(out=tmp_path / out, **options)).run()  # type: ignore[arg-type]


def bad_rows(count: int, name: str = "") -> list[str]:
    return [f"nobody{i},{name}Nobody {i},en" for i in range(count)]


def pages(out: Path) -> list[str]:
    """Every page, following the "next" links from index.html."""
    found = []
    visited: set[str] = set()
    name: str | None = "index.html"
    while name is not None:
        assert name not in visited, "the pages loop"
        visited.add(name)
        text = (out / name).read_text(encoding="utf-8")
        found.append(text)
        following = [
            a.get("href") for t, a in parse(text).tags if t == "a" and a.get("rel") == "next"
        ]
        name = str(following[0]) if following else None
    return found


def lines_of(page: str) -> list[int]:
    return [int(n) for n in LINE.findall(page)]


def test_exactly_one_page_has_no_navigation(tmp_path: Path) -> None:
    outcome = run(tmp_path, bad_rows(4), index_page_rows=4)
    out = tmp_path / "out"
    assert outcome.index_pages == 1
    (page,) = pages(out)
    check_self_contained(page)
    assert "<nav" not in page
    assert lines_of(page) == [2, 3, 4, 5]
    assert sorted(p.name for p in out.glob("index*")) == ["index.html"]


def test_one_row_over_makes_a_second_page(tmp_path: Path) -> None:
    outcome = run(tmp_path, bad_rows(5), index_page_rows=4)
    out = tmp_path / "out"
    assert outcome.index_pages == 2
    first, second = pages(out)
    assert sorted(p.name for p in out.glob("index*")) == ["index-2.html", "index.html"]
    assert lines_of(first) == [2, 3, 4, 5]
    assert lines_of(second) == [6]
    for page in (first, second):
        check_self_contained(page)
    # The totals are on the first page, which is index.html.
    assert "employees: 5" in " ".join(parse(first).text)
    assert "employees: 5" not in " ".join(parse(second).text)
    assert "page 2 of 2" in second


def navigation(page: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for tag, attrs in parse(page).tags:
        if tag == "a" and attrs.get("rel") in ("first", "prev", "next", "last"):
            found[str(attrs["rel"])] = attrs.get("href")
    return found


def test_navigation_links_every_page_and_each_row_is_on_one(tmp_path: Path) -> None:
    outcome = run(tmp_path, bad_rows(23), index_page_rows=5)
    out = tmp_path / "out"
    assert outcome.index_pages == 5
    texts = pages(out)
    assert len(texts) == 5
    names = [index_page_name(n) for n in range(1, 6)]
    assert names[0] == "index.html"
    assert sorted(p.name for p in out.glob("index*")) == sorted(names)
    seen: list[int] = []
    for number, page in enumerate(texts, 1):
        check_self_contained(page)
        rows = lines_of(page)
        assert len(rows) == (5 if number < 5 else 3)
        seen += rows
        nav = navigation(page)
        expected = {}
        if number > 1:
            expected |= {"first": "index.html", "prev": names[number - 2]}
        if number < 5:
            expected |= {"next": names[number], "last": names[4]}
        assert nav == expected
        # The page list: every page, the current one marked and not a link.
        listed = [h for h in parse(page).hrefs if h in names]
        assert set(listed) | {names[number - 1]} == set(names)
        assert f'<strong aria-current="page">{number}</strong>' in page
        assert page.count("<nav ") == 2  # above and below the rows
    assert seen == list(range(2, 25))  # every row once, in the CSV's order


def test_a_page_never_exceeds_its_byte_limit(tmp_path: Path) -> None:
    # Rows of about 1.5 KB (a long name, escaped); 16 KB a page.
    limit = 16_000
    outcome = run(tmp_path, bad_rows(120, name="<&>" * 60), index_page_bytes=limit)
    out = tmp_path / "out"
    assert outcome.index_pages > 5
    seen: list[int] = []
    for page in pages(out):
        assert len(page.encode()) <= limit
        assert len(lines_of(page)) >= 2
        seen += lines_of(page)
    assert seen == list(range(2, 122))
    assert INDEX_PAGE_BYTES == 2 * 1024 * 1024


def test_summary_csv_has_every_row_in_input_order(tmp_path: Path) -> None:
    rows = bad_rows(40)
    # A byte that neither UTF-8 nor Windows-1252 decodes, in the language cell.
    rows[7] = "nobody7,Nobody 7,\udc81"
    staff = tmp_path / "out.csv"
    staff.write_bytes(
        ("email,name,lang\n" + "".join(r + "\n" for r in rows)).encode("utf-8", "surrogateescape")
    )
    Onboarding(staff, Settings(out=tmp_path / "out", offline=True, processes=1)).run()
    with (tmp_path / "out" / "summary.csv").open(encoding="utf-8-sig", newline="") as handle:
        got = list(csv.DictReader(handle))
    assert [int(r["line"]) for r in got] == list(range(2, 42))
    assert [r["email"] for r in got] == [r.split(",")[0] for r in rows]
    assert got[7]["message"].startswith("not UTF-8 or Windows-1252 text")
    assert got[7]["lang"] == ""
    assert not list((tmp_path / "out").glob(".*.tmp"))  # every temporary file renamed


def test_a_shorter_run_removes_its_old_pages_but_not_hand_edited_ones(tmp_path: Path) -> None:
    run(tmp_path, bad_rows(9), index_page_rows=2)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.glob("index*")) == [
        "index-2.html",
        "index-3.html",
        "index-4.html",
        "index-5.html",
        "index.html",
    ]
    edited = out / "index-4.html"
    edited.write_text(edited.read_text() + "<!-- mine -->")
    outcome = run(tmp_path, bad_rows(3), index_page_rows=2)
    assert outcome.index_pages == 2
    assert sorted(p.name for p in out.glob("index*")) == [
        "index-2.html",
        "index-4.html",
        "index.html",
    ]
    assert edited.read_text().endswith("<!-- mine -->")
    assert [lines_of(p) for p in pages(out)] == [[2, 3], [4]]


def peak_while_reporting(tmp_path: Path, rows: int) -> int:
    """Bytes: the most Python memory held while ``rows`` results go through the reports."""
    out = tmp_path / f"r{rows}"
    out.mkdir()
    outcome = Outcome(out, total=rows)
    tracemalloc.start()
    try:
        with _Reports(out, "en", page_bytes=INDEX_PAGE_BYTES, page_rows=2000) as reports:
            for n in range(rows):
                result = RowResult(
                    n + 2,
                    f"user{n}@example.test",
                    f"User {n}",
                    "en",
                    Status.DONE,
                    protocol="imap",
                    confidence=0.9,
                    folder=f"user{n}@example.test",
                    files=("thunderbird/user.js", "setup-sheet.html", "setup-sheet.md"),
                    discovery="fresh",
                )
                outcome.counts[result.status] += 1
                reports.add(result)
            reports.finish(outcome)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_rows(tmp_path: Path) -> None:
    small = peak_while_reporting(tmp_path, 2_000)
    large = peak_while_reporting(tmp_path, 20_000)
    pages_written = sorted(p.name for p in (tmp_path / "r20000").glob("index*"))
    assert len(pages_written) == 10
    # Ten times the rows, the same memory (a page is written in chunks, never held).
    assert large < small * 1.3, (small, large)
    assert large < 4 * 1024 * 1024


def test_page_list_is_bounded_and_always_names_the_ends_and_neighbours() -> None:
    assert _page_list(1, 1) == [1]
    assert _page_list(3, 5) == [1, 2, 3, 4, 5]
    for total in (31, 200, 5000):
        for number in (1, 2, total // 3, total - 1, total):
            shown = _page_list(number, total)
            named = [n for n in shown if n is not None]
            assert named == sorted(set(named))
            assert {1, total, number} <= set(named)
            assert {max(1, number - 1), min(total, number + 1)} <= set(named)
            assert len(shown) <= 60
            # A gap is marked wherever numbers are skipped, and only there.
            for a, b in itertools.pairwise(shown):
                if a is not None and b is not None:
                    assert b == a + 1


def test_navigation_in_french() -> None:
    renderer = IndexRenderer(lang="fr", generated="2026-01-01")
    page = "".join(renderer.page(2, 3, counts=None, employees=[]))
    # French typography: a (narrow) no-break space inside guillemets and before ":".
    text = " ".join(parse(page).text).replace("\u00a0", " ").replace("\u202f", " ")
    for label in ("« première", "‹ précédente", "suivante ›", "dernière »", "page 2 sur 3"):
        assert label in text


@pytest.fixture(scope="module")
def alpha(module_lab: Lab) -> Lab:
    module_lab.zone(
        "alpha.test",
        "_imaps._tcp SRV 0 1 993 imap.alpha.test.\n"
        "_submissions._tcp SRV 0 1 465 smtp.alpha.test.\n",
    )
    module_lab.dovecot("imap.alpha.test")
    module_lab.smtp("smtp.alpha.test")
    return module_lab


@pytest.mark.lab
def test_links_on_every_page_lead_to_written_files(alpha: Lab, tmp_path: Path) -> None:
    rows = [f"user{i}@alpha.test,User {i},{'fr' if i % 2 else 'en'}" for i in range(9)]
    rows.insert(4, "not-an-address,Nobody,en")
    staff = tmp_path / "staff.csv"
    staff.write_text("email,name,lang,clients\n" + "".join(r + ",thunderbird\n" for r in rows))
    settings = Settings(
        out=tmp_path / "out",
        nameservers=(alpha.dns_spec,),
        ca_file=alpha.ca_file,
        cache_dir=tmp_path / "cache",
        timeout=5,
        index_page_rows=4,
        processes=1,
    )
    outcome = Onboarding(staff, settings).run()
    assert outcome.counts[Status.DONE] == 9
    out = tmp_path / "out"
    texts = pages(out)
    # 1 domain + 10 employees, 4 rows a page: the domain shares the first page.
    assert [len(lines_of(p)) for p in texts] == [3, 4, 3]
    assert "alpha.test" in texts[0].split("<h2>Employees</h2>")[0]
    assert "<h2>Domains</h2>" not in texts[1] + texts[2]
    assert [n for p in texts for n in lines_of(p)] == list(range(2, 12))
    targets = 0
    for page in texts:
        for href in parse(page).hrefs:
            assert (out / unquote(href)).is_file(), href
            targets += 1
    assert targets > 9 * 3  # every written row links its sheets and files
