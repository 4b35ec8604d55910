"""Batch onboarding: configurations and a setup sheet for every employee of a CSV.

``advisor onboard EMPLOYEES.csv --out DIR`` reads the CSV twice, streaming:
a first pass counts the rows (for the progress bar) and notes the first
address of each domain; every domain is then discovered (twice ``--jobs`` at
a time) or taken from the cache, before the rows, so that the probes are not
starved of CPU by file writing. The second pass hands each row to a worker
thread (or, for large runs, to worker processes, in chunks) that plans,
renders and writes the employee's folder. At most ``WINDOW`` rows are in
flight, and results go to ``summary.csv`` in input order as they complete, so
memory does not grow with the CSV.

Each employee folder carries a manifest (``.advisor-manifest.json``) with the
SHA-256 of every file written there. It makes re-runs safe and cheap:

* a finished row whose inputs (row, answers, rules, the domain's servers,
  advisor's version) are unchanged is skipped (``unchanged``) unless
  ``--force``;
* a file whose content no longer matches the manifest was edited by hand (or
  was there before advisor): it is never replaced; the new version is written
  next to it as ``NAME.new`` and the row says so (``kept-edits``);
* a new folder is written under a temporary name and renamed into place
  whole; in an existing one, the manifest is written first in a "writing"
  state that lists the old and the new hashes, then the files (each
  atomically: temporary file, fsync, rename), then the manifest in the "done"
  state. A run killed at any moment leaves whole files only, and is resumed
  without mistaking its own half-updated folders for hand edits.

Servers can be given when discovery cannot find them (a domain that publishes
nothing, a network that filters mail ports): for every row with the command's
``--imap/--pop3/--smtp/--ews/--protocol`` or the answers file's ``[servers]``,
per domain with ``--servers FILE`` (a CSV: ``domain,imap,smtp,...``), or per
row in columns of the same names; a row's own columns win over its domain's,
which win over the command's. Rows whose servers differ share a discovery only
with rows given the same servers. Each row then sets up the best-ranked
protocol that can be set up (the recommended one, else the next) and says why
in its sheet and in ``summary.csv``.

No password is asked for, read or written: the mail programs ask at first use.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol

from advisor.address import parse_address
from advisor.errors import AdvisorError, os_error_text
from advisor.i18n import _
from advisor.manual import FILE_KEYS, ManualServers, from_values
from advisor.models import DiscoveryReport
from advisor.needs import KEYS, Needs, apply

MANIFEST = ".advisor-manifest.json"
MANIFEST_SCHEMA = "advisor.onboard-manifest/1"
RUN_STATE = ".advisor-onboard.json"
SHEET_HTML = "setup-sheet.html"
SHEET_MD = "setup-sheet.md"
SUMMARY = "summary.csv"
INDEX = "index.html"
SUMMARY_COLUMNS = (
    "line",
    "email",
    "name",
    "lang",
    "status",
    "protocol",
    "confidence",
    "folder",
    "files",
    "discovery",
    "message",
)
BASE_COLUMNS = ("email", "name", "lang", "clients", "devices")
KNOWN_COLUMNS = (*BASE_COLUMNS, *(k for k in KEYS if k != "clients"), *FILE_KEYS)
MAX_VALUE = 1000  # characters in one cell; a longer one is a broken row
MAX_NAME = 200
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_HEADER_CHARS = 64 * 1024  # the header names a few known columns
MAX_STATE_BYTES = 1024 * 1024  # .advisor-onboard.json: two hashes
MAX_CA_BYTES = 16 * 1024 * 1024  # a CA bundle (Debian's is ~200 KB)
MAX_LISTED = 50  # failures and kept edits listed on the console; all are in summary.csv
PROCESS_MIN_ROWS = 1000  # from this many rows, worker processes (two per CPU)
CHUNK = 32  # rows per task sent to a worker process
ORPHAN_CHECK = 0.2  # seconds between a worker process's checks that the main one lives
WINDOW = 512  # rows in flight at most (read, queued or being written), ~2 KB each
# index.html: a page a browser opens at once (200,000 rows on one page were 122 MB).
INDEX_PAGE_ROWS = 2000  # rows (employees and domains) a page, at most; ~1.2 MB of typical rows
INDEX_PAGE_BYTES = 2 * 1024 * 1024  # and never more than this, whatever the rows hold
DISCOVERIES_PER_JOB = 2  # discoveries wait on the network: twice as many at once as --jobs

DEVICE_KINDS = {
    "desktop": "devices.desktop",
    "laptop": "devices.laptop",
    "phone": "devices.phone",
    "tablet": "devices.tablet",
}
LANG_NAMES = {
    "en": "en",
    "english": "en",
    "anglais": "en",
    "fr": "fr",
    "french": "fr",
    "francais": "fr",
    "français": "fr",
}
_LIST_SEPARATORS = re.compile(r"[;,|+\s]+")
_DEVICE_ITEM = re.compile(r"^(?:(\d+)[x*]?)?([a-z]+?)s?(?:=(\d+))?$")
_UNSAFE_IN_FOLDER = re.compile(r"[^a-z0-9._@+-]")


class Status(StrEnum):
    DONE = "done"  # written by this run
    UNCHANGED = "unchanged"  # finished by an earlier run, nothing to do
    KEPT_EDITS = "kept-edits"  # written, but hand-edited files were kept (NAME.new beside)
    FAILED = "failed"


# ------------------------------------------------------------------ the CSV


@dataclass(frozen=True)
class Employee:
    line: int
    email: str  # as people read it (Unicode domain)
    email_ascii: str
    local_part: str
    domain: str  # A-labels
    name: str
    lang: str
    needs: Needs
    manual: ManualServers = field(default_factory=ManualServers)  # row > domain > command
    group: str = ""  # the discovery this row shares: its domain, with its servers if given

    @property
    def discovery_key(self) -> str:
        return self.group or self.domain


def discovery_group(domain: str, manual: ManualServers) -> str:
    """Rows of one domain share a discovery when they are given the same servers."""
    return f"{domain} [{manual.describe()}]" if manual.given else domain


@dataclass(frozen=True)
class BadRow:
    line: int
    email: str  # the cell as given (may be empty or invalid)
    name: str
    lang: str
    message: str


def _has_controls(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def parse_lang(value: str, default: str) -> str:
    text = value.strip().lower()
    if not text:
        return default
    found = LANG_NAMES.get(text) or LANG_NAMES.get(re.split(r"[-_.]", text)[0])
    if found is None:
        raise AdvisorError(f"lang {value!r}: expected en or fr")
    return found


def parse_devices(value: str) -> dict[str, object]:
    """``laptop, phone``, ``desktop=2; phone``, ``2 phones``, ``shared`` -> needs answers.

    The list is complete: kinds it does not name have no device.
    """
    answers: dict[str, object] = dict.fromkeys(DEVICE_KINDS.values(), 0)
    counts: dict[str, int] = {}
    text = re.sub(r"\s*[=:]\s*", "=", value.strip().lower())
    items: list[str] = []
    for token in _LIST_SEPARATORS.split(text):
        if items and items[-1].isdigit() and token and not token[0].isdigit():
            items[-1] += token  # "2 phones"
        elif token:
            items.append(token)
    for item in items:
        if item == "shared":
            answers["devices.shared"] = True
            continue
        found = _DEVICE_ITEM.match(item)
        kind = found.group(2) if found else ""
        if found is None or kind not in DEVICE_KINDS or (found.group(1) and found.group(3)):
            raise AdvisorError(
                f"devices {value!r}: {item!r} is not a device; expected desktop, laptop, phone,"
                " tablet or shared, with an optional count (e.g. 'laptop, phone=2')"
            )
        number = found.group(1) or found.group(3)
        counts[kind] = counts.get(kind, 0) + (int(number) if number else 1)
    if not counts and "devices.shared" not in answers:
        raise AdvisorError(f"devices {value!r}: no device named")
    for kind, number in counts.items():
        answers[DEVICE_KINDS[kind]] = number
    return answers


class EmployeeCsv:
    """The employees file: header checked at open, rows parsed lazily, one at a time.

    UTF-8 (a BOM is fine), separated by commas, semicolons (Excel in French) or
    tabs, chosen from the header line. Every row becomes an :class:`Employee`
    or a :class:`BadRow` with its line number; only a missing or broken header
    stops the run.
    """

    def __init__(
        self,
        path: Path,
        *,
        base: Needs,
        default_lang: str,
        manual: ManualServers | None = None,
        domain_servers: Mapping[str, ManualServers] | None = None,
    ) -> None:
        self.path = path
        self.base = base
        self.default_lang = default_lang
        self.encoding = _csv_encoding(path)
        self.manual = manual or ManualServers()  # the command's (and answers file's)
        self.domain_servers = domain_servers or {}  # --servers FILE
        with self._open() as handle:
            first = handle.readline(MAX_HEADER_CHARS + 1)
        if len(first) > MAX_HEADER_CHARS:
            raise AdvisorError(
                _("{path}: line 1: longer than {limit} characters").format(
                    path=path, limit=MAX_HEADER_CHARS
                )
            )
        if not first.strip():
            raise AdvisorError(f"{path}: empty; expected a header line such as 'email,name,lang'")
        counts = {d: first.count(d) for d in (",", ";", "\t")}
        self.delimiter = max(counts, key=lambda d: (counts[d], d == ","))
        header = next(csv.reader([first], delimiter=self.delimiter))
        self.raw_columns = [h.strip().lstrip("\ufeff") for h in header]
        self.columns = [_column_name(h) for h in self.raw_columns]
        self._check_header()

    def _open(self) -> IO[str]:
        from advisor.fsutil import open_regular_text

        # surrogateescape: a row that cannot be decoded is reported and skipped, not fatal.
        return open_regular_text(
            self.path,
            what=_("a CSV file"),
            encoding=self.encoding,
            errors="surrogateescape",
            newline="",
        )

    def _check_header(self) -> None:
        where = f"{self.path}: line 1"
        if not _utf8(self.columns):
            raise AdvisorError(f"{where}: the header is not text (save the CSV as UTF-8)")
        if self.raw_columns and _looks_like_address(self.raw_columns[0]):
            raise AdvisorError(
                f"{where}: the first line must be a header such as 'email,name,lang',"
                f" not an employee ({self.raw_columns[0]!r})"
            )
        seen: set[str] = set()
        for column, raw in zip(self.columns, self.raw_columns, strict=True):
            if column in seen:
                raise AdvisorError(f"{where}: column {raw!r} appears twice")
            seen.add(column)
            if column not in KNOWN_COLUMNS:
                raise AdvisorError(
                    f"{where}: unknown column {raw!r} (known: {', '.join(KNOWN_COLUMNS)})"
                )
        if "email" not in seen:
            raise AdvisorError(
                f"{where}: no 'email' column (the header is {','.join(self.columns)})"
            )

    def __iter__(self) -> Iterator[Employee | BadRow]:
        for record in self._records():
            yield record if isinstance(record, BadRow) else self.parse_row(*record)

    def survey(self) -> tuple[int, dict[str, tuple[str, ManualServers]]]:
        """A quick first pass: the number of rows, and each discovery's first address
        (one per domain, or per domain and servers given) with its servers."""
        rows = 0
        first: dict[str, tuple[str, ManualServers]] = {}
        for record in self._records():
            rows += 1
            if isinstance(record, BadRow):
                continue
            cells = dict(zip(self.columns, record[1], strict=False))
            try:
                address = parse_address(cells.get("email", ""))
                manual = self.servers_for(address.domain_ascii, cells)
            except AdvisorError:
                continue  # reported with its line in the second pass
            group = discovery_group(address.domain_ascii, manual)
            if group not in first and _utf8([address.address]):
                first[group] = (address.address, manual)
        return rows, first

    def servers_for(self, domain: str, cells: Mapping[str, str]) -> ManualServers:
        """A row's servers: its own columns over its domain's (--servers) over the command's."""
        own = from_values({k: cells.get(k, "").strip() for k in FILE_KEYS if k in cells})
        return own.over(self.domain_servers.get(domain, ManualServers()).over(self.manual))

    def _records(self) -> Iterator[tuple[int, list[str]] | BadRow]:
        with self._open() as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            previous = 0
            header_done = False
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    line = previous + 1
                    if reader.line_num == previous:  # no progress: the reader is stuck
                        raise AdvisorError(f"{self.path}: line {line}: {exc}") from None
                    previous = reader.line_num
                    yield BadRow(line, "", "", "", f"not a CSV row ({exc})")
                    continue
                line, previous = previous + 1, reader.line_num
                if not header_done:
                    header_done = True
                    continue
                if not any(cell.strip() for cell in row):
                    continue
                yield line, row

    def parse_row(self, line: int, row: list[str]) -> Employee | BadRow:
        cells = dict(zip(self.columns, row, strict=False))
        email_cell = cells.get("email", "").strip()
        name = cells.get("name", "").strip()
        lang_cell = cells.get("lang", "").strip()

        def bad(message: str) -> BadRow:
            shown = email_cell if _utf8([email_cell]) else ""
            safe_name = name if _utf8([name]) else ""
            safe_lang = lang_cell[:8] if _utf8([lang_cell]) else ""
            return BadRow(line, shown[:MAX_VALUE], safe_name[:MAX_NAME], safe_lang, message)

        if not _utf8(row):
            return bad("not UTF-8 or Windows-1252 text (save the CSV as UTF-8)")
        if len(row) > len(self.columns) and any(c.strip() for c in row[len(self.columns) :]):
            return bad(f"{len(row)} values, but the header has {len(self.columns)} columns")
        for column, value in cells.items():
            if len(value) > MAX_VALUE:
                return bad(f"{column}: longer than {MAX_VALUE} characters")
        if not email_cell:
            return bad("no e-mail address")
        try:
            address = parse_address(email_cell)
        except AdvisorError as exc:
            return bad(f"email: {exc}")
        if len(name) > MAX_NAME or _has_controls(name):
            return bad(f"name: longer than {MAX_NAME} characters or has control characters")
        try:
            lang = parse_lang(lang_cell, self.default_lang)
            answers: dict[str, object] = {}
            for column, cell in cells.items():
                value = cell.strip()
                if not value or column in ("email", "name", "lang"):
                    continue
                if column == "devices":
                    answers.update(parse_devices(value))
                elif column == "clients":
                    answers["clients"] = ",".join(_LIST_SEPARATORS.split(value))
                elif column not in FILE_KEYS:
                    answers[column] = value
            needs = apply(self.base, answers)
            manual = self.servers_for(address.domain_ascii, cells)
        except AdvisorError as exc:
            return bad(str(exc))
        return Employee(
            line=line,
            email=address.address,
            email_ascii=address.address_ascii,
            local_part=address.local_part,
            domain=address.domain_ascii,
            name=name,
            lang=lang,
            needs=needs,
            manual=manual,
            group=discovery_group(address.domain_ascii, manual),
        )


# Header names as people write them, in English and French (Excel templates, HR
# exports): each maps to our column. Compared lower-case, accents kept.
COLUMN_ALIASES = {
    "e-mail": "email",
    "mail": "email",
    "courriel": "email",
    "adresse": "email",
    "email address": "email",
    "e-mail address": "email",
    "adresse e-mail": "email",
    "adresse email": "email",
    "adresse mail": "email",
    "adresse électronique": "email",
    "full name": "name",
    "nom": "name",
    "nom complet": "name",
    "language": "lang",
    "langue": "lang",
    "programs": "clients",
    "logiciels": "clients",
    "appareils": "devices",
}
_CSV_SNIFF_CHUNK = 1 << 20


def _column_name(header: str) -> str:
    name = " ".join(header.lower().split())
    return COLUMN_ALIASES.get(name, name)


def _looks_like_address(cell: str) -> bool:
    try:
        parse_address(cell)
    except AdvisorError:
        return False
    return True


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without a BOM) when the whole file decodes as UTF-8, else
    Windows-1252: what Excel writes for "CSV (separated by semicolons)" in Western
    European locales. One streaming pass, before the rows are read."""
    import codecs

    from advisor.fsutil import open_regular

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # A device (/dev/zero) or a FIFO is refused before this loop could read it forever.
        with open_regular(path, what=_("a CSV file")) as handle:
            while chunk := handle.read(_CSV_SNIFF_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    except OSError as exc:
        raise AdvisorError(f"{path}: cannot read: {exc.strerror}") from None
    return "utf-8-sig"


def _utf8(values: Sequence[str]) -> bool:
    try:
        for value in values:
            value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from surrogateescape: bytes that were not UTF-8
        return False
    return True


# ------------------------------------------------------------------ domains


@dataclass(frozen=True)
class DomainResult:
    domain: str
    origin: str  # "fresh" | "cached" | "failed"
    report: Mapping[str, Any] | None
    age: float | None = None  # seconds, for a cached report
    error: str = ""
    servers: str = ""  # one line: what was found
    digest: str = ""  # of what the exported files depend on

    @property
    def failed(self) -> bool:
        return self.report is None

    def describe(self) -> str:
        from advisor.sheets import format_age

        if self.origin == "cached" and self.age is not None:
            if self.age < 60:
                return "cached just now"
            return f"cached {format_age(self.age, 'en')} ago"
        return self.origin


def _servers_line(report: DiscoveryReport) -> str:
    parts = []
    for side in (report.incoming, report.outgoing):
        for c in side:
            if c.verified:
                e = c.endpoint
                parts.append(f"{e.protocol.value.upper()} {e.hostname}:{e.port}")
                break
    exchange = report.exchange
    if exchange is not None and (exchange.ews_url or exchange.activesync_url):
        parts.append("Exchange")
    if not parts:
        # What the rows are set up with all the same, and where it comes from.
        named = [
            f"{c.endpoint.protocol.value.upper()} {c.endpoint.hostname}:{c.endpoint.port}"
            f" ({', '.join(str(src) for src in c.sources)})"
            for c in (side[0] for side in (report.incoming, report.outgoing) if side)
        ]
        line = "nothing verified" + (f"; unverified: {', '.join(named)}" if named else "")
    else:
        line = ", ".join(parts)
    if report.reach is not None and report.reach.unchecked:
        reasons = ", ".join(u.value for u in report.reach.unchecked)
        line += f" (could not be checked from this network: {reasons})"
    from advisor.offdomain import hops_for

    # The servers a row would be set up with: the first of each protocol, Exchange's URLs.
    firsts = {c.endpoint.protocol: c.endpoint.hostname for c in reversed(report.incoming)}
    firsts.update({c.endpoint.protocol: c.endpoint.hostname for c in reversed(report.outgoing)})
    hosts = list(firsts.values())
    if exchange is not None:
        hosts += [u for u in (exchange.ews_url, exchange.activesync_url) if u]
    hops = hops_for(report, hosts)
    if hops:
        domains = ", ".join(sorted({h.domain for h in hops}))
        line += f"; passwords would go to another domain: {domains}"
    return line


ADDRESS_SLOT = "%EMAILADDRESS%"  # the placeholders of Mozilla's autoconfig, as in export
LOCAL_PART_SLOT = "%EMAILLOCALPART%"


class _Template:
    """A domain's report with the first employee's names replaced by placeholders."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        from advisor.report import from_json

        # The JSON stays as it came (what worker processes are handed); the typed
        # report, checked like any saved report, is what every row is made from.
        self.report = dict(report)
        self.report.pop("steps", None)  # large, and no export reads them
        typed = from_json(self.report)
        first = parse_address(typed.address)
        slots = {
            first.address_ascii: ADDRESS_SLOT,
            first.address: ADDRESS_SLOT,
            first.local_part: LOCAL_PART_SLOT,
        }
        self.typed = replace(
            typed,
            incoming=tuple(
                replace(c, username=slots.get(c.username, c.username)) for c in typed.incoming
            ),
            outgoing=tuple(
                replace(c, username=slots.get(c.username, c.username)) for c in typed.outgoing
            ),
        )

    def for_employee(self, employee: Employee) -> DiscoveryReport:
        names = {ADDRESS_SLOT: employee.email_ascii, LOCAL_PART_SLOT: employee.local_part}
        t = self.typed
        return replace(
            t,
            address=employee.email,
            incoming=tuple(
                replace(c, username=names.get(c.username, c.username)) for c in t.incoming
            ),
            outgoing=tuple(
                replace(c, username=names.get(c.username, c.username)) for c in t.outgoing
            ),
        )

    def digest(self) -> str:
        """What exported files depend on, without timings and probe details."""
        from advisor.export import pick
        from advisor.report import reach_json

        report = self.typed
        # Only the servers an export picks: discovery stops probing alternates once the
        # best answer is in, so the list of verified alternates differs from run to run.
        picked = [pick(report.incoming, p) for p in ("imap", "pop3")]
        picked.append(pick(report.outgoing, None))
        provider = report.provider
        exchange = report.exchange
        stable = {
            "servers": [
                None
                if c is None
                else [
                    c.endpoint.protocol.value,
                    c.endpoint.hostname,
                    c.endpoint.port,
                    c.endpoint.security.value,
                    c.verified,
                    list(c.stated_auth),
                    c.username,
                ]
                for c in picked
            ],
            "exchange": None
            if exchange is None
            else [
                exchange.ews_url,
                exchange.activesync_url,
                exchange.autodiscover_url,
                exchange.hosted,
            ],
            "provider": None
            if provider is None
            else [provider.id, provider.name, provider.hosted_by, provider.requires_oauth2],
            "live": report.live,
            "reach": reach_json(report.reach),  # what the recommendation may conclude from
        }
        return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class RowResult:
    line: int
    email: str
    name: str
    lang: str
    status: Status
    protocol: str | None = None
    confidence: float | None = None
    folder: str | None = None
    files: tuple[str, ...] = ()
    discovery: str = ""
    message: str = ""


@dataclass
class Outcome:
    out: Path
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    total: int = 0
    domains: list[DomainResult] = field(default_factory=list)
    failures: list[RowResult] = field(default_factory=list)  # the first MAX_LISTED
    kept: list[RowResult] = field(default_factory=list)  # the first MAX_LISTED
    reports_kept: list[str] = field(default_factory=list)  # summary/index edited by hand
    index_pages: int = 1
    elapsed: float = 0.0

    @property
    def failed(self) -> int:
        return self.counts[Status.FAILED]


class Observer(Protocol):
    def started(self, rows: int, domains: int, cached: int) -> None: ...
    def domain_done(self, result: DomainResult) -> None: ...
    def row_done(self, result: RowResult) -> None: ...


@dataclass(frozen=True)
class Settings:
    out: Path
    answers: Path | None = None
    rules_dirs: tuple[Path, ...] = ()
    lang: str = "en"
    jobs: int = 8
    force: bool = False
    refresh: bool = False
    cache_dir: Path | None = None  # None: the user's cache folder
    cache_ttl: float = 24 * 3600.0
    nameservers: tuple[str, ...] = ()
    ca_file: Path | None = None
    timeout: float = 10.0
    offline: bool = False
    processes: int | None = None  # worker processes; None: two per CPU for large runs
    index_page_rows: int = INDEX_PAGE_ROWS
    index_page_bytes: int = INDEX_PAGE_BYTES
    manual: ManualServers = field(default_factory=ManualServers)  # --imap, --protocol...
    servers: Path | None = None  # --servers FILE: servers per domain
    connect_timeout: float | None = None  # see advisor.discovery.Options


# ------------------------------------------------------------------ files


def folder_for(email_ascii: str) -> str:
    """The employee's folder name: the address, lower case, with unusual characters as '_'."""
    return _UNSAFE_IN_FOLDER.sub("_", email_ascii.lower())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str | None:
    """The SHA-256 of the file advisor wrote at ``path``; None if there is none.

    Never through a symbolic link (O_NOFOLLOW) nor from a FIFO or a device
    (O_NONBLOCK, then a type check): something planted in an output folder
    fails the row in one line instead of being read, or written through.
    """
    from advisor.fsutil import LinkRefused, open_regular

    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        raise LinkRefused(path)
    if stat.S_ISDIR(mode):
        return "directory"
    with open_regular(path, what=_("a file advisor wrote"), follow_symlinks=False) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class Manifest:
    email: str
    line: int
    run: str
    state: str  # "writing" | "done"
    fingerprint: str
    protocol: str | None
    confidence: float | None
    files: dict[str, str]  # name -> sha256 of our version
    was: dict[str, str]  # "writing" state: the hashes before this attempt
    kept: tuple[str, ...]

    def ours(self, name: str, sha: str | None) -> bool:
        return sha is not None and sha in (self.files.get(name), self.was.get(name))

    def to_bytes(self) -> bytes:
        doc = {
            "schema": MANIFEST_SCHEMA,
            "email": self.email,
            "line": self.line,
            "run": self.run,
            "state": self.state,
            "fingerprint": self.fingerprint,
            "protocol": self.protocol,
            "confidence": self.confidence,
            "files": self.files,
            "was": self.was,
            "kept": list(self.kept),
        }
        return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode()


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, or None if missing or unreadable (then every file is foreign)."""
    from advisor.fsutil import read_bounded

    try:
        data = read_bounded(folder / MANIFEST, MAX_MANIFEST_BYTES, what="a manifest")
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("schema") != MANIFEST_SCHEMA:
            return None
        files, was = doc.get("files"), doc.get("was") or {}
        if not isinstance(files, dict) or not isinstance(was, dict):
            return None
        return Manifest(
            email=str(doc["email"]),
            line=int(doc["line"]),
            run=str(doc["run"]),
            state=str(doc["state"]),
            fingerprint=str(doc["fingerprint"]),
            protocol=doc.get("protocol"),
            confidence=doc.get("confidence"),
            files={str(k): str(v) for k, v in files.items()},
            was={str(k): str(v) for k, v in was.items()},
            kept=tuple(str(k) for k in doc.get("kept") or ()),
        )
    except (AdvisorError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _remove_temporaries(folder: Path, *, deep: bool) -> None:
    """Temporary files of a write that was killed half-way (atomic_write's names).

    The manifest is written in the folder itself, before any other file and
    after them: only a folder whose manifest says "writing" (or has none) can
    hold temporary files further down.
    """
    paths = folder.rglob(".*.tmp") if deep else folder.glob(".*.tmp")
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def _write(path: Path, data: bytes, root: Path) -> None:
    """``data`` to ``path`` atomically, with no link between ``root`` and it followed."""
    from advisor.fsutil import atomic_write

    try:
        atomic_write(path, data, root=root)
    except OSError as exc:
        raise AdvisorError(f"{path}: cannot write: {exc.strerror}") from None


def _csv_cell(value: object) -> str:
    """A cell that a spreadsheet shows as text, never runs as a formula, with control
    and bidi characters (from the CSV, servers or rule files) shown escaped."""
    from advisor.formats.text import escape_controls

    text = "" if value is None else escape_controls(str(value))
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


# ------------------------------------------------------------------ the run


class Onboarding:
    def __init__(
        self, csv_path: Path, settings: Settings, observer: Observer | None = None
    ) -> None:
        from advisor.needs import load_answers
        from advisor.recommend import NAMES
        from advisor.rules.loader import load

        self.csv_path = csv_path
        self.settings = settings
        self.observer = observer
        # Everything that can be wrong with the inputs fails here, before any work.
        from advisor.manual import load_domain_servers
        from advisor.planning import build_manual

        base = load_answers(settings.answers) if settings.answers is not None else Needs()
        manual = build_manual(settings.answers, settings.manual)
        domain_servers = load_domain_servers(settings.servers) if settings.servers else {}
        self.rules = load(list(settings.rules_dirs), names=NAMES)
        self.rules_digest = _sha(
            json.dumps(
                [(r.id, r.enabled, r.when.source, r.effect_text()) for r in self.rules.rules]
            ).encode()
        )
        self.employees = EmployeeCsv(
            csv_path,
            base=base,
            default_lang=settings.lang,
            manual=manual,
            domain_servers=domain_servers,
        )
        self.out = settings.out
        self.run_id = uuid.uuid4().hex
        self._domains: dict[str, Future[DomainResult]] = {}
        self._templates: dict[str, _Template] = {}
        self._recommendations: dict[tuple[str, Needs], Any] = {}
        self._shards: _Shards | None = None
        self._claims: dict[str, int] = {}  # folder -> line of the row in flight for it
        self._claims_lock = threading.Lock()
        self._today = time.strftime("%Y-%m-%d")
        from advisor import __version__

        self._version = __version__

    # -------------------------------------------------------------- discovery
    def _cache(self) -> Any:
        from advisor.cache import DiscoveryCache, default_folder, settings_key

        s = self.settings
        ca = None
        if s.ca_file is not None:
            from advisor.fsutil import read_bounded

            with contextlib.suppress(AdvisorError):
                ca = _sha(read_bounded(s.ca_file, MAX_CA_BYTES, what="a CA file"))
        config_dir = s.manual.config_dir
        key = settings_key(
            {
                "dns": list(s.nameservers),
                "ca": ca,
                "offline": s.offline,
                "timeout": s.timeout,
                "config_dir": str(config_dir.resolve()) if config_dir is not None else None,
                "connect_timeout": s.connect_timeout,
            }
        )
        return DiscoveryCache(s.cache_dir or default_folder(), ttl=s.cache_ttl, key=key)

    def _discover(
        self, domain: str, address: str, manual: ManualServers, cache: Any
    ) -> DomainResult:
        """``domain``: the discovery's key (the domain, with the servers given if any)."""
        from advisor.discovery import Options
        from advisor.report import to_json
        from advisor.runner import run_discovery

        s = self.settings
        try:
            report = run_discovery(
                address,
                nameservers=s.nameservers,
                ca_file=s.ca_file,
                options=Options(
                    timeout=s.timeout,
                    offline=s.offline,
                    config_dir=s.manual.config_dir,
                    given=manual if manual.given else None,
                    connect_timeout=s.connect_timeout,
                ),
            )
        except AdvisorError as exc:
            return DomainResult(domain, "failed", None, error=str(exc))
        except Exception as exc:  # one domain's bug must not stop the others
            return DomainResult(domain, "failed", None, error=f"internal error: {exc!r}")
        doc = to_json(report)
        if not manual.given:  # the cache holds what discovery alone found, by domain
            cache.put(domain, doc)
        return self._domain_result(domain, "fresh", doc, None)

    def _domain_result(
        self, domain: str, origin: str, doc: Mapping[str, Any], age: float | None
    ) -> DomainResult:
        try:
            template = _Template(doc)
            result = DomainResult(
                domain,
                origin,
                doc,
                age=age,
                servers=_servers_line(template.typed),
                digest=template.digest(),
            )
        except (AdvisorError, KeyError, TypeError, ValueError, AttributeError) as exc:
            # A cache file damaged in a way its checks did not catch: never a crash.
            return DomainResult(domain, "failed", None, error=f"unusable report: {exc!r}")
        self._templates[domain] = template
        return result

    # -------------------------------------------------------------- rows
    def _fingerprint(self, emp: Employee, domain: DomainResult) -> str:
        inputs = {
            "email": emp.email_ascii,
            "name": emp.name,
            "lang": emp.lang,
            "needs": {
                k: list(v) if isinstance(v, tuple) else v for k, v in emp.needs.values().items()
            },
            "domain": domain.digest,
            "protocol": emp.manual.protocol,
            "rules": self.rules_digest,
            "advisor": self._version,
        }
        return _sha(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode())

    def _recommend(self, emp: Employee, report: DiscoveryReport) -> Any:
        from advisor.recommend import facts_from_report, recommend

        key = (emp.discovery_key, emp.needs)
        rec = self._recommendations.get(key)
        if rec is None:
            if len(self._recommendations) > 4096:
                self._recommendations.clear()  # bounded: a few answers sets per domain in practice
            rec = recommend(emp.needs, facts_from_report(report), self.rules)
            self._recommendations[key] = rec
        return rec

    def _process(self, emp: Employee) -> RowResult:
        domain = self._domains[emp.discovery_key].result()
        name = folder_for(emp.email_ascii)

        def result(status: Status, **extra: Any) -> RowResult:
            return RowResult(
                emp.line,
                emp.email,
                emp.name,
                emp.lang,
                status,
                discovery=domain.describe(),
                **extra,
            )

        folder = self.out / name
        if folder.is_symlink():
            return result(
                Status.FAILED,
                message=_("{path}: a symbolic link; advisor does not write through links").format(
                    path=folder
                ),
            )
        manifest = read_manifest(folder)
        if manifest is not None:
            _remove_temporaries(folder, deep=manifest.state != "done")
            if manifest.email != emp.email_ascii:
                return result(
                    Status.FAILED,
                    message=f"folder {name} already holds {manifest.email}",
                )
            if manifest.run == self.run_id:
                return result(Status.FAILED, message=f"duplicate of line {manifest.line}")
        if domain.failed:
            return result(
                Status.FAILED, message=f"discovery of {emp.domain} failed: {domain.error}"
            )
        fingerprint = self._fingerprint(emp, domain)
        if (
            manifest is not None
            and manifest.state == "done"
            and manifest.fingerprint == fingerprint
            and not self.settings.force
            # A file deleted since is written again.
            and all((folder / n).exists() for n in manifest.files if not n.endswith(".new"))
        ):
            # Stamp this run, so that a second row for the address is seen as a duplicate.
            _write(
                folder / MANIFEST,
                replace(manifest, run=self.run_id, line=emp.line).to_bytes(),
                folder,
            )
            return result(
                Status.UNCHANGED,
                protocol=manifest.protocol,
                confidence=manifest.confidence,
                folder=name,
                files=tuple(manifest.files),
                message=_kept_message(manifest.kept),
            )
        try:
            planned, protocol, confidence, note = self._render(emp, domain)
        except AdvisorError as exc:
            return result(Status.FAILED, message=str(exc))
        done = Manifest(
            email=emp.email_ascii,
            line=emp.line,
            run=self.run_id,
            state="done",
            fingerprint=fingerprint,
            protocol=protocol,
            confidence=confidence,
            files={n: _sha(data) for n, data in planned.items()},
            was={},
            kept=(),
        )
        if manifest is None and not folder.exists():
            _new_folder(folder, planned, done)
            names: tuple[str, ...] = tuple(planned)
            kept: tuple[str, ...] = ()
        else:
            if manifest is None:
                _remove_temporaries(folder, deep=True)
            names, kept = _update_folder(folder, planned, manifest, done)
        return result(
            Status.KEPT_EDITS if kept else Status.DONE,
            protocol=protocol,
            confidence=confidence,
            folder=name,
            files=names,
            message="; ".join(m for m in (note, _kept_message(kept)) if m),
        )

    def _render(
        self, emp: Employee, domain: DomainResult
    ) -> tuple[dict[str, bytes], str, float, str]:
        """The row's files, protocol, confidence, and why the protocol is not the
        recommended one ('' when it is; in the run's language, for summary.csv)."""
        from advisor.export import account_plan, choose_protocol, kinds_for, render_files
        from advisor.i18n import language
        from advisor.sheets import render_html, render_markdown, setup_sheet

        report = self._templates[emp.discovery_key].for_employee(emp)
        rec = self._recommend(emp, report)
        # The best protocol that can be set up; its reasons in the person's language
        # for the sheet, and in the run's for summary.csv (IT reads it).
        with language(self.settings.lang):  # a row that cannot be set up fails here
            note = choose_protocol(rec, report, forced=emp.manual.protocol).note()
        with language(emp.lang):
            choice = choose_protocol(rec, report, forced=emp.manual.protocol)
        account = account_plan(
            report,
            protocol=choice.protocol,
            full_name=emp.name,
            leave_on_server=rec.leave_on_server,
            keep_days=rec.keep_days,
            calendars=rec.calendars == "caldav",
            contacts=rec.contacts == "carddav",
        )
        kinds = kinds_for(emp.needs.clients)
        planned: dict[str, bytes] = {}
        if kinds:
            # No README.txt: the setup sheet says it all, in two formats.
            for f in render_files(account, kinds, lang=emp.lang, with_readme=False):
                planned[f.name] = f.data
        files = [*planned, SHEET_HTML, SHEET_MD]
        sheet = setup_sheet(
            account,
            rec,
            list(emp.needs.clients),
            files,
            lang=emp.lang,
            generated=self._today,
            why=choice.why if choice.instead_of is not None else "",
        )
        planned[SHEET_HTML] = render_html(sheet).encode()
        planned[SHEET_MD] = render_markdown(sheet).encode()
        return planned, choice.protocol, rec.confidence, note

    # -------------------------------------------------------------- the whole run
    def run(self) -> Outcome:
        started = time.monotonic()
        s = self.settings
        outcome = Outcome(self.out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AdvisorError(f"{self.out}: cannot create the folder: {exc.strerror}") from None
        for stale in self.out.glob(".*.tmp"):  # a new folder, summary or index of a killed run
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    stale.unlink()

        # Pass 1: count the rows, start every domain's discovery (or take it from the cache).
        rows, first_address = self.employees.survey()
        outcome.total = rows
        cache = self._cache()
        jobs = max(1, s.jobs)
        discovery_pool = ThreadPoolExecutor(
            max_workers=max(1, min(jobs * DISCOVERIES_PER_JOB, len(first_address))),
            thread_name_prefix="discover",
        )
        row_pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="onboard")
        cached = 0
        try:
            for domain, (address, manual) in first_address.items():
                entry = None if s.refresh or manual.given else cache.get(domain)
                reused = None
                if entry is not None:
                    reused = self._domain_result(domain, "cached", entry.report, entry.age())
                if reused is not None and not reused.failed:
                    done: Future[DomainResult] = Future()
                    done.set_result(reused)
                    self._domains[domain] = done
                    cached += 1
                else:  # not cached, or an entry damaged past its checks: discover again
                    self._domains[domain] = discovery_pool.submit(
                        self._discover, domain, address, manual, cache
                    )
            if self.observer is not None:
                self.observer.started(rows, len(first_address), cached)
                for discovery in self._domains.values():
                    discovery.add_done_callback(self._tell_domain)
            # Rows wait for every discovery: they would compete with the probes for
            # the CPU, and a probe starved of it measures round trips it did not have.
            for discovery in self._domains.values():
                discovery.result()
            self._shards = self._start_processes(rows)
            # Pass 2: every row, in order, a bounded number in flight.
            with _Reports(
                self.out, s.lang, page_bytes=s.index_page_bytes, page_rows=s.index_page_rows
            ) as reports:
                pending: deque[Future[RowResult]] = deque()

                def emit(res: RowResult) -> None:
                    outcome.counts[res.status] += 1
                    if res.status is Status.FAILED and len(outcome.failures) < MAX_LISTED:
                        outcome.failures.append(res)
                    if res.status is Status.KEPT_EDITS and len(outcome.kept) < MAX_LISTED:
                        outcome.kept.append(res)
                    reports.add(res)
                    if self.observer is not None:
                        self.observer.row_done(res)

                for item in self.employees:
                    if isinstance(item, BadRow):
                        row: Future[RowResult] = Future()
                        row.set_result(
                            RowResult(
                                item.line,
                                item.email,
                                item.name,
                                item.lang,
                                Status.FAILED,
                                message=item.message,
                            )
                        )
                    else:
                        row = self._schedule(item, row_pool)
                    pending.append(row)
                    if len(pending) >= WINDOW and self._shards is not None:
                        self._shards.flush()  # the oldest row may be in the unsent chunk
                    while len(pending) >= WINDOW or (pending and pending[0].done()):
                        emit(pending.popleft().result())
                if self._shards is not None:
                    self._shards.flush()
                while pending:
                    emit(pending.popleft().result())
                outcome.domains = [f.result() for f in self._domains.values()]
                reports.finish(outcome)
        finally:
            # Ctrl-C: queued rows are dropped, running ones finish their (atomic) writes.
            row_pool.shutdown(wait=True, cancel_futures=True)
            discovery_pool.shutdown(wait=True, cancel_futures=True)
            if self._shards is not None:
                self._shards.pool.shutdown(wait=True, cancel_futures=True)
        outcome.elapsed = time.monotonic() - started
        return outcome

    def _start_processes(self, rows: int) -> _Shards | None:
        """Worker processes that each plan, render and write chunks of rows.

        In one process, the Python work of every row (rendering, and the code between
        two system calls) takes turns on one interpreter lock; a large run on several
        CPUs is shared among processes instead (measured: twice the processes, 1.5
        times the speed on 2 CPUs). Reading, ordering and reporting stay here.
        """
        processes = self.settings.processes
        if processes is None:
            # Two per CPU: each also waits on the disk half of the time.
            auto = min(self.settings.jobs, 2 * (os.cpu_count() or 1))
            processes = auto if rows >= PROCESS_MIN_ROWS else 1
        if processes < 2:
            return None
        import multiprocessing

        domains = [
            d if d.failed else replace(d, report=self._templates[d.domain].report)
            for d in (f.result() for f in self._domains.values())
        ]
        threads = max(1, self.settings.jobs // processes)
        pool = ProcessPoolExecutor(
            max_workers=processes,
            # Not fork: this process has threads (discovery; the lab's servers in tests).
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.csv_path, self.settings, self.run_id, domains, threads),
        )
        return _Shards(pool)

    def _tell_domain(self, future: Future[DomainResult]) -> None:
        if self.observer is not None and not future.cancelled():
            self.observer.domain_done(future.result())

    def _schedule(self, emp: Employee, pool: ThreadPoolExecutor) -> Future[RowResult]:
        """The row's result, from a worker thread or a worker process's chunk (main
        thread, in CSV order; every domain is discovered by then)."""
        result: Future[RowResult] = Future()
        name = folder_for(emp.email_ascii)
        with self._claims_lock:
            earlier = self._claims.get(name)
            if earlier is None:
                self._claims[name] = emp.line
        if earlier is not None:
            # Two rows for one address in flight: the later one is the duplicate. (Once
            # the first is finished, its manifest, stamped with this run, tells.)
            result.set_result(_failed(emp, f"duplicate of line {earlier}"))
            return result

        def finished(work: Future[RowResult]) -> None:
            with self._claims_lock:
                self._claims.pop(name, None)
            if work.cancelled():  # Ctrl-C: the queued rows are dropped
                result.cancel()
            else:
                result.set_result(work.result())

        if self._shards is not None:
            self._shards.add(emp, finished)
        else:
            pool.submit(self._process_safely, emp).add_done_callback(finished)
        return result

    def _process_safely(self, emp: Employee) -> RowResult:
        try:
            return self._process(emp)
        except AdvisorError as exc:
            message = str(exc)
        except OSError as exc:  # permissions or a full disk: the user's to fix
            message = os_error_text(exc) or f"internal error: {exc!r}"
        except Exception as exc:  # a bug on one row must not lose the others
            message = f"internal error: {exc!r}"
        return _failed(emp, message)


class _Shards:
    """Rows sent to worker processes in chunks; each row's callback gets its result."""

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self.pool = pool
        self._chunk: list[tuple[Employee, Callable[[Future[RowResult]], None]]] = []
        self._lock = threading.Lock()

    def add(self, emp: Employee, done: Callable[[Future[RowResult]], None]) -> None:
        with self._lock:
            self._chunk.append((emp, done))
            full = len(self._chunk) >= CHUNK
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            chunk, self._chunk = self._chunk, []
        if not chunk:
            return
        work = self.pool.submit(_work_chunk, [emp for emp, _ in chunk])

        def deliver(work: Future[list[RowResult]]) -> None:
            failure = None if work.cancelled() else work.exception()
            for i, (emp, done) in enumerate(chunk):
                one: Future[RowResult] = Future()
                if work.cancelled():
                    one.cancel()
                elif failure is not None:  # a worker died: its rows failed, say how
                    one.set_result(_failed(emp, f"internal error: {failure!r}"))
                else:
                    one.set_result(work.result()[i])
                done(one)

        work.add_done_callback(deliver)


_WORKER: list[tuple[Onboarding, ThreadPoolExecutor]] = []


def _start_worker(
    csv_path: Path, settings: Settings, run_id: str, domains: list[DomainResult], threads: int
) -> None:
    """A worker process's own Onboarding: the same rules, run id and domains as the main."""
    parent = os.getppid()

    def orphaned() -> None:
        # The main process was killed (kill -9): stop too, rather than wait forever on a
        # task queue whose other end no one will write to. Files are whole either way.
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK)
        os._exit(1)

    threading.Thread(target=orphaned, name="orphan-watch", daemon=True).start()
    worker = Onboarding(csv_path, settings)
    worker.run_id = run_id
    for d in domains:
        result: Future[DomainResult] = Future()
        if d.failed or d.report is None:
            result.set_result(d)
        else:
            result.set_result(worker._domain_result(d.domain, d.origin, d.report, d.age))
        worker._domains[d.domain] = result
    _WORKER.append((worker, ThreadPoolExecutor(threads, thread_name_prefix="onboard")))


def _work_chunk(chunk: list[Employee]) -> list[RowResult]:
    worker, threads = _WORKER[0]
    return list(threads.map(worker._process_safely, chunk))


def _failed(emp: Employee, message: str) -> RowResult:
    return RowResult(emp.line, emp.email, emp.name, emp.lang, Status.FAILED, message=message)


def _kept_message(kept: Sequence[str]) -> str:
    if not kept:
        return ""
    return "kept hand-edited " + ", ".join(f"{n} (new version: {n}.new)" for n in kept)


def _new_folder(folder: Path, planned: Mapping[str, bytes], manifest: Manifest) -> None:
    """A new employee folder, written aside then renamed into place: all of it or nothing.

    Each file is still flushed to disk (fsync) as ``atomic_write`` does; the one
    rename replaces a temporary name, a rename and a folder check per file.
    """
    tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        tmp.mkdir()  # with the umask's permissions, as the final folder should have
        made = {tmp}
        for name, data in [*planned.items(), (MANIFEST, manifest.to_bytes())]:
            path = tmp / name
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            with path.open("xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        os.rename(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AdvisorError(f"{folder}: cannot write: {exc.strerror}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _update_folder(
    folder: Path, planned: Mapping[str, bytes], manifest: Manifest | None, done: Manifest
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Write what changed into an existing folder; keep files that are not ours as they are.

    Returns (planned names, names kept because they were edited by hand).
    """
    previous = manifest.files if manifest is not None else {}

    def is_ours(name: str, sha: str | None) -> bool:
        return manifest is not None and manifest.ours(name, sha)

    writes: dict[str, bytes] = {}
    hashes: dict[str, str] = {}
    kept: list[str] = []
    for name, data in planned.items():
        new_sha = done.files[name]
        hashes[name] = new_sha
        current = _file_sha(folder / name)
        if current == new_sha:
            continue
        if current is None or is_ours(name, current):
            writes[name] = data
            continue
        # Edited by hand since we wrote it, or not ours at all: keep it, put ours beside.
        kept.append(name)
        side = f"{name}.new"
        side_sha = _file_sha(folder / side)
        hashes[side] = new_sha
        if side_sha != new_sha and (side_sha is None or is_ours(side, side_sha)):
            writes[side] = data
    stale = [n for n in previous if n not in hashes and is_ours(n, _file_sha(folder / n))]
    if writes or stale:
        # First say what is about to change, so a kill half-way is resumed correctly.
        was = {**(manifest.was if manifest is not None else {}), **previous}
        _write(
            folder / MANIFEST,
            replace(done, state="writing", files=hashes, was=was).to_bytes(),
            folder,
        )
        for name, data in writes.items():
            _write(folder / name, data, folder)
        for name in stale:
            with contextlib.suppress(OSError):
                (folder / name).unlink()
    _write(folder / MANIFEST, replace(done, files=hashes, kept=tuple(kept)).to_bytes(), folder)
    return tuple(planned), tuple(kept)


# ------------------------------------------------------------------ summary.csv and index.html


class _Reports:
    """``summary.csv`` and the pages of ``index.html``, streamed: nothing grows with the rows.

    Each result goes to a temporary ``summary.csv`` and, rendered once as one
    line of HTML, to a spool file. At the end the spool is read twice: to cut
    it into pages (at most ``page_rows`` rows and ``page_bytes`` bytes each),
    then to write them; every file is renamed into place at the end, the
    first page (``index.html``, with the totals) last.
    """

    def __init__(self, out: Path, lang: str, *, page_bytes: int, page_rows: int) -> None:
        self.out = out
        self.lang = lang
        self.page_bytes = page_bytes
        self.page_rows = max(1, page_rows)
        self.rows = 0
        self._summary: IO[str] | None = None
        self._spool: IO[bytes] | None = None
        self._writer: Any = None
        self._temporaries: list[Path] = []

    def __enter__(self) -> _Reports:
        from advisor.sheets import IndexRenderer

        self._renderer = IndexRenderer(lang=self.lang, generated=time.strftime("%Y-%m-%d"))
        try:
            fd, summary_tmp = tempfile.mkstemp(prefix=f".{SUMMARY}.", suffix=".tmp", dir=self.out)
        except OSError as exc:
            from advisor.fsutil import cannot_write

            raise AdvisorError(cannot_write(self.out, exc)) from None
        self._summary_tmp = Path(summary_tmp)
        self._temporaries.append(self._summary_tmp)
        self._summary = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._summary)
        self._writer.writerow(SUMMARY_COLUMNS)
        self._spool = tempfile.TemporaryFile("w+b")  # closed in __exit__
        return self

    def add(self, res: RowResult) -> None:
        from advisor.sheets import IndexRow

        assert self._spool is not None
        self._writer.writerow(
            [
                res.line,
                _csv_cell(res.email),
                _csv_cell(res.name),
                res.lang,
                res.status.value,
                res.protocol or "",
                "" if res.confidence is None else f"{res.confidence:.2f}",
                _csv_cell(res.folder or ""),
                _csv_cell(";".join(res.files)),
                res.discovery,
                _csv_cell(res.message),
            ]
        )
        html = self._renderer.employee_row(
            IndexRow(
                res.line,
                res.email,
                res.name,
                res.lang,
                res.status.value,
                res.protocol,
                res.folder,
                res.files,
                res.message,
            )
        )
        # One line a row (values are cleaned of line breaks); the spool is cut at lines.
        self._spool.write(html.replace("\n", " ").encode("utf-8", "replace") + b"\n")
        self.rows += 1

    def _spooled(self) -> Iterator[bytes]:
        assert self._spool is not None
        self._spool.flush()
        self._spool.seek(0)
        yield from self._spool

    def _cut(self, domains: Sequence[str], budget: int) -> list[int]:
        """Where each page starts (index of its first row: domains first, then employees)."""
        starts = [0]
        size = count = 0
        lengths = (len(row.encode()) for row in domains)
        for i, length in enumerate(itertools.chain(lengths, map(len, self._spooled()))):
            if count and (count >= self.page_rows or size + length > budget):
                starts.append(i)
                size = count = 0
            size += length
            count += 1
        return starts

    def _temporary(self, name: str) -> tuple[Path, IO[str]]:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.out)
        except OSError as exc:
            from advisor.fsutil import cannot_write

            raise AdvisorError(cannot_write(self.out, exc)) from None
        self._temporaries.append(Path(tmp))
        return Path(tmp), os.fdopen(fd, "w", encoding="utf-8")

    def finish(self, outcome: Outcome) -> None:
        try:
            self._finish(outcome)
        except OSError as exc:  # a full disk, a folder made read-only meanwhile
            raise AdvisorError(
                f"{self.out}: cannot write the reports: {exc.strerror or exc}"
            ) from None

    def _finish(self, outcome: Outcome) -> None:
        from advisor.sheets import DomainRow, index_page_name

        assert self._summary is not None
        state = _read_state(self.out)
        self._summary.flush()
        os.fsync(self._summary.fileno())
        self._summary.close()
        self._summary = None

        renderer = self._renderer
        domains = [
            renderer.domain_row(
                DomainRow(d.domain, d.origin, d.age, d.servers if not d.failed else d.error)
            )
            for d in outcome.domains
        ]
        counts = {str(k): v for k, v in outcome.counts.items()} | {"total": outcome.total}
        entries = len(domains) + self.rows
        budget = self.page_bytes - renderer.overhead(counts, max(1, entries))
        starts = self._cut(domains, budget)
        pages = len(starts)
        ends = [*starts[1:], entries]
        domain_rows = iter(domains)
        employee_rows = (line.decode() for line in self._spooled())
        written: list[tuple[str, Path]] = []
        for number, (start, end) in enumerate(zip(starts, ends, strict=True), 1):
            in_domains = max(0, min(end, len(domains)) - start)
            name = index_page_name(number)
            tmp, handle = self._temporary(name)
            with handle:
                for chunk in renderer.page(
                    number,
                    pages,
                    counts=counts if number == 1 else None,
                    domains=itertools.islice(domain_rows, in_domains),
                    employees=itertools.islice(employee_rows, end - start - in_domains),
                    employees_table=self.rows == 0,
                ):
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            written.append((name, tmp))
        outcome.index_pages = pages

        kept = outcome.reports_kept
        hashes: dict[str, str] = {}
        hashes[SUMMARY] = _install(self.out, SUMMARY, self._summary_tmp, state, kept)
        # The first page last: whoever opens it finds the pages it links to.
        for name, tmp in reversed(written):
            hashes[name] = _install(self.out, name, tmp, state, kept)
        for name, sha in state.items():
            # A page of an earlier, longer run: removed, unless edited by hand since.
            old = self.out / name
            if name not in hashes and _OLD_PAGE.fullmatch(name) and _file_sha(old) == sha:
                with contextlib.suppress(OSError):
                    old.unlink()
        _write(self.out / RUN_STATE, json.dumps({"files": hashes}, indent=1).encode(), self.out)

    def __exit__(self, *exc: object) -> None:
        if self._summary is not None:
            self._summary.close()
        for tmp in self._temporaries:  # renamed into place, or left by a failure
            with contextlib.suppress(OSError):
                tmp.unlink()
        if self._spool is not None:
            self._spool.close()


_OLD_PAGE = re.compile(r"index-[0-9]+\.html")


def _read_state(out: Path) -> dict[str, str]:
    from advisor.fsutil import read_bounded

    try:
        doc = json.loads(read_bounded(out / RUN_STATE, MAX_STATE_BYTES, what="a state file"))
        files = doc["files"]
        return {str(k): str(v) for k, v in files.items()}
    except (AdvisorError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def _install(out: Path, name: str, tmp: Path, state: Mapping[str, str], kept: list[str]) -> str:
    """Rename ``tmp`` over ``name`` unless ``name`` was edited by hand (then ``name.new``)."""
    target = out / name
    current = _file_sha(target)
    with tmp.open("rb") as handle:
        new_sha = hashlib.file_digest(handle, "sha256").hexdigest()
    if current is not None and current != state.get(name) and current != new_sha:
        target = out / f"{name}.new"
        kept.append(name)
    from advisor.fsutil import file_mode

    os.chmod(tmp, file_mode())  # mkstemp made it 0600: what the umask gives, as for every file
    os.replace(tmp, target)  # replaces a link itself, never what it points to
    return state.get(name, new_sha) if target.name.endswith(".new") else new_sha


def render_outcome(outcome: Outcome) -> str:
    """What the run did, for the terminal: counts, domains, failed rows, kept edits."""
    c = outcome.counts
    lines = [
        f"{outcome.total} row(s) in {outcome.elapsed:.1f} s: {c[Status.DONE]} written,"
        f" {c[Status.UNCHANGED]} unchanged, {c[Status.KEPT_EDITS]} with hand edits kept,"
        f" {c[Status.FAILED]} failed",
    ]
    if outcome.domains:
        lines.append(f"Domains ({len(outcome.domains)}):")
        width = max(len(d.domain) for d in outcome.domains)
        for d in outcome.domains:
            what = d.error if d.failed else d.servers
            lines.append(f"  {d.domain:<{width}}  {d.describe():<18} {what}")
        if any(d.origin == "cached" for d in outcome.domains):
            lines.append("  (--refresh discovers the cached domains again)")
    if outcome.failures:
        lines.append("Failed rows (skipped; fix them and run again):")
        lines += [f"  line {r.line}: {r.email or '-'}: {r.message}" for r in outcome.failures]
        more = c[Status.FAILED] - len(outcome.failures)
        if more > 0:
            lines.append(f"  ... and {more} more in {SUMMARY}")
    if outcome.kept:
        lines.append("Files edited by hand were kept (the new version is beside them, NAME.new):")
        lines += [f"  line {r.line}: {r.email}: {r.message}" for r in outcome.kept]
    for name in outcome.reports_kept:
        lines.append(f"{name} was edited by hand: kept; this run's is {name}.new")
    lines.append(
        f"For IT: {outcome.out / SUMMARY} and {outcome.out / INDEX}"
        + (f" ({outcome.index_pages} pages)" if outcome.index_pages > 1 else "")
        + "; one folder per employee"
        f" with {SHEET_HTML} and {SHEET_MD}."
    )
    return "\n".join(lines) + "\n"
