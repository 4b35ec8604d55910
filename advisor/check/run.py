"""Run ``advisor check`` for one domain, or for many with a bounded number at once.

One discovery per domain (every source, every probe waited for, so each
client's order can be replayed), the autoconfig file fetched once more when
there is one (see :mod:`advisor.check.facts`), then the pure simulations and
publication checks. Clients (DNS, TLS context, HTTP) are built once and
shared by every domain of a batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from advisor.address import EmailAddress, normalise_domain
from advisor.check.clients import simulate
from advisor.check.facts import Facts, Refetch
from advisor.check.model import CheckReport
from advisor.check.publication import publication
from advisor.errors import AdvisorError
from advisor.models import Source

if TYPE_CHECKING:
    import ssl

    from advisor.discovery import Options
    from advisor.net.http import HttpClient
    from advisor.net.resolver import DnsClient

# The synthetic mailbox: RFC 5321 §4.5.1 makes postmaster@ exist at every mail domain.
LOCAL_PART = "postmaster"
# Thunderbird's own timeout for a provider's autoconfig file (FetchConfig: 5 s).
REFETCH_TIMEOUT = 5.0
# Answers kept across the domains of one run: the names they share (a hoster's
# servers, the TLD's SOA) are asked once; 1,024 answers cover the shared names and
# the domains in flight (about 40 names each) at --jobs 16.
DNS_CACHE_SIZE = 1_024
MAX_DOMAINS_LINE = 1_000  # characters: longer lines in --domains are not domains


@dataclass(frozen=True)
class Environment:
    """The shared clients of a check run; build with :func:`environment`."""

    dns: DnsClient
    tls: ssl.SSLContext
    http: HttpClient | None
    options: Options


def environment(
    *, nameservers: Iterable[str] = (), ca_file: Path | None = None, options: Options | None = None
) -> Environment:
    from advisor.discovery import Options
    from advisor.net.http import HttpClient
    from advisor.net.resolver import DnsClient, parse_nameservers
    from advisor.net.trust import client_context

    options = replace(options or Options(), wait_all=True)
    dns = DnsClient(parse_nameservers(list(nameservers)), cache_size=DNS_CACHE_SIZE)
    context = client_context(ca_file)
    http = None if options.offline else HttpClient(dns, context)
    return Environment(dns, context, http, options)


def check_name(domain: str) -> tuple[str, str]:
    """(ASCII, Unicode) forms of a domain to check; AdvisorError with the reason."""
    if "@" in domain:
        from advisor.i18n import _

        raise AdvisorError(
            _("{value!r} is an address: give the domain, not an address (e.g. {domain})").format(
                value=domain, domain=domain.rpartition("@")[2] or "example.com"
            )
        )
    return normalise_domain(domain)


def check_domain(domain: str, env: Environment) -> CheckReport:
    """Discover ``postmaster@domain`` and replay every client; AdvisorError on a bad name."""
    from advisor.discovery import Discovery

    ascii_domain, unicode_domain = check_name(domain)
    address = EmailAddress(LOCAL_PART, unicode_domain, ascii_domain)
    started = time.monotonic()
    engine = Discovery(
        address, dns=env.dns, tls_context=env.tls, http=env.http, options=env.options
    )
    report = engine.run()
    results = engine.source_results
    facts = Facts(ascii_domain, unicode_domain, report, results)
    facts = _refetch_autoconfig(facts, address, env)
    clients = simulate(facts)
    checks = publication(facts)
    elapsed = (time.monotonic() - started) * 1000
    return CheckReport(
        unicode_domain, ascii_domain, clients, checks, round(elapsed, 1), live=report.live
    )


def _refetch_autoconfig(facts: Facts, address: EmailAddress, env: Environment) -> Facts:
    """The published file once more: without ?emailaddress= (as Thunderbird for Android
    asks), and its bytes for ``lint``. Nothing is asked when there is no such file."""
    result = facts.source(Source.AUTOCONFIG)
    if env.http is None or result is None or not result.servers or not result.origin:
        return facts
    from advisor.formats.lint import lint
    from advisor.net.http import FetchStatus

    url = result.origin
    deadline = time.monotonic() + REFETCH_TIMEOUT
    bare = env.http.request("GET", url, deadline=deadline, timeout=REFETCH_TIMEOUT)
    status = bare.http_status if bare.status is FetchStatus.OK else None
    body = bare.body if status == 200 else None
    if body is None and env.options.send_address:
        query = f"?emailaddress={quote(address.address_ascii, safe='@')}"
        deadline = time.monotonic() + REFETCH_TIMEOUT
        full = env.http.request("GET", url + query, deadline=deadline, timeout=REFETCH_TIMEOUT)
        if full.status is FetchStatus.OK and full.http_status == 200:
            body = full.body
    refetch = Refetch(url, body, status, bare.detail, bare.trusted and status == 200)
    report = lint(body, name=url) if body is not None else None
    return replace(facts, refetch=refetch, lint=report)


@dataclass(frozen=True)
class Checked:
    """One line of a batch: the report, or why the domain could not be checked."""

    line: int
    domain: str
    report: CheckReport | None
    error: str | None = None


def read_domains(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, domain)`` for each non-empty, non-comment line, read as a stream
    (bytes, decoded line by line, so an error names the right line)."""
    from advisor.fsutil import open_regular
    from advisor.i18n import _

    # A FIFO or a device is refused before it is opened for good (it could hang).
    handle = open_regular(path, what=_("a list of domains"))
    with handle:
        number = 0
        while True:
            try:
                raw = handle.readline(MAX_DOMAINS_LINE + 1)
            except OSError as exc:
                raise AdvisorError(f"{path}: cannot read: {exc.strerror}") from None
            if not raw:
                return
            number += 1
            if len(raw) > MAX_DOMAINS_LINE and not raw.endswith(b"\n"):
                raise AdvisorError(
                    f"{path}: line {number}: longer than {MAX_DOMAINS_LINE}"
                    " characters; one domain per line"
                )
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise AdvisorError(f"{path}: line {number}: not UTF-8 text") from None
            text = line.split("#", 1)[0].strip()
            if text:
                yield number, text


def check_many(
    domains: Iterable[tuple[int, str]],
    env: Environment,
    *,
    jobs: int,
    on_done: Callable[[Checked], None],
) -> tuple[int, int]:
    """Check every domain, ``jobs`` at a time, calling ``on_done`` (from this thread) as
    each finishes. At most ``2 * jobs`` domains are in flight: memory stays flat
    however long the list. Returns (checked, failed)."""
    done_lock = threading.Lock()
    finished: list[Checked] = []
    ready = threading.Condition(done_lock)
    in_flight = 0
    checked = failed = 0

    def work(line: int, domain: str) -> Checked:
        try:
            return Checked(line, domain, check_domain(domain, env))
        except AdvisorError as exc:
            return Checked(line, domain, None, str(exc))

    def collect(future: Future[Checked]) -> None:
        with ready:
            finished.append(future.result())
            ready.notify()

    def drain(limit: int) -> None:
        nonlocal in_flight, checked, failed
        with ready:
            while in_flight > limit and not finished:
                ready.wait()
            batch = finished[:]
            finished.clear()
            in_flight -= len(batch)
        for outcome in batch:
            checked += 1
            failed += outcome.report is None
            on_done(outcome)

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="check") as pool:
        for line, domain in domains:
            drain(2 * jobs - 1)
            with ready:
                in_flight += 1
            pool.submit(work, line, domain).add_done_callback(collect)
        while True:
            with ready:
                if in_flight == 0:
                    break
            drain(0)
    return checked, failed


# ------------------------------------------------------------------ worker processes


@dataclass(frozen=True)
class Settings:
    """What a worker process needs to build its own clients (all picklable)."""

    nameservers: tuple[str, ...]
    ca_file: Path | None
    options: Options
    lang: str
    html: bool


@dataclass(frozen=True)
class Rendered:
    """One finished domain, rendered where it was checked (a worker sends only this)."""

    line: int
    domain: str
    doc: dict[str, Any]
    failed: bool
    all_configured: bool
    html: str | None = None


def render(outcome: Checked, *, html: bool) -> Rendered:
    from advisor.check.render import error_json, html_section, to_json

    if outcome.report is None:
        doc = error_json(outcome.domain, outcome.line, outcome.error or "")
        return Rendered(outcome.line, outcome.domain, doc, True, False)
    report = outcome.report
    section = html_section(report) if html else None
    return Rendered(
        outcome.line, outcome.domain, to_json(report), False, report.all_configured, section
    )


def _worker(settings: Settings, tasks: Any, results: Any, threads: int, parent: int) -> None:
    """A worker process: its own clients, ``threads`` domains at once, results as they end."""
    import os
    import queue

    from advisor.i18n import set_language

    set_language(settings.lang)
    env = environment(
        nameservers=settings.nameservers, ca_file=settings.ca_file, options=settings.options
    )
    slots = threading.BoundedSemaphore(threads)

    def work(line: int, domain: str) -> None:
        try:
            try:
                outcome = Checked(line, domain, check_domain(domain, env))
            except AdvisorError as exc:
                outcome = Checked(line, domain, None, str(exc))
            results.put(render(outcome, html=settings.html))
        finally:
            slots.release()

    while True:
        slots.acquire()
        while True:
            try:
                item = tasks.get(timeout=WORKER_POLL)
                break
            except queue.Empty:
                if os.getppid() != parent:  # the main process died: stop too
                    return
        if item is None:
            break
        threading.Thread(target=work, args=item, daemon=True).start()
    for _slot in range(threads):  # wait for the domains still running
        slots.acquire()


WORKER_POLL = 0.2  # seconds: how soon a worker notices that the main process is gone


def check_in_processes(
    domains: Iterable[tuple[int, str]],
    settings: Settings,
    *,
    processes: int,
    jobs: int,
    on_done: Callable[[Rendered], None],
) -> None:
    """Share the domains among ``processes`` worker processes, ``jobs`` at once in all.

    One interpreter keeps one CPU busy at most: a discovery is mostly Python (DNS
    messages, TLS, XML). Worker processes take domains from one bounded queue (at
    most two per running domain wait there: memory stays flat) and send each
    result back as it ends; this process only writes them.
    """
    import multiprocessing
    import os

    context = multiprocessing.get_context("spawn")
    threads = max(1, jobs // processes)
    tasks = context.Queue(maxsize=2 * jobs)
    results = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(settings, tasks, results, threads, os.getpid()),
            daemon=True,
        )
        for _index in range(processes)
    ]
    for worker in workers:
        worker.start()
    fed = [0]
    feeding_done = threading.Event()

    def feed() -> None:
        try:
            for item in domains:
                tasks.put(item)
                fed[0] += 1
        finally:
            feeding_done.set()
            for _worker_index in workers:
                tasks.put(None)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    received = 0
    try:
        while not (feeding_done.is_set() and received >= fed[0]):
            try:
                rendered = results.get(timeout=WORKER_POLL)
            except Exception:  # queue.Empty: look at the workers
                if not any(w.is_alive() for w in workers) and results.empty():
                    if feeding_done.is_set() and received >= fed[0]:
                        break
                    raise AdvisorError("the worker processes stopped unexpectedly") from None
                continue
            received += 1
            on_done(rendered)
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
