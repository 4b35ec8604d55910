"""The terminal side of ``advisor check``: output streams, the HTML file, progress, exit code.

Exit codes (advisor/cli.py's map): 0 every client configures every domain by
itself; 3 some client needs a prompt or typed settings (the reports are still
printed); 1 a domain or file the user can fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from advisor.check.render import html_head, html_section, html_tail, render_text
from advisor.check.render import to_json as check_json
from advisor.check.run import (
    Environment,
    Rendered,
    Settings,
    check_domain,
    check_in_processes,
    check_many,
    check_name,
    environment,
    read_domains,
    render,
)
from advisor.errors import AdvisorError
from advisor.i18n import _

if TYPE_CHECKING:
    from advisor.discovery import Options

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_NOT_ALL_CONFIGURED = 3


class _HtmlFile:
    """The HTML report, streamed to a temporary file beside the target and renamed into
    place at the end (atomic; never over an existing file without --force)."""

    def __init__(self, path: Path, *, force: bool) -> None:
        if path.exists() and not force:
            raise AdvisorError(f"{path} already exists (use --force to replace it)")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise AdvisorError(f"{folder}: no such folder")
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise AdvisorError(f"{path}: cannot write: {exc.strerror}") from None
        self.path = path
        self._temp = Path(temp)
        self._handle: IO[str] = os.fdopen(fd, "w", encoding="utf-8")
        self._handle.write(html_head())

    def write(self, text: str) -> None:
        self._handle.write(text)

    def commit(self) -> None:
        self._handle.write(html_tail())
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.chmod(self._temp, 0o644)
        os.replace(self._temp, self.path)

    def abandon(self) -> None:
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(OSError):
            self._temp.unlink()


@contextlib.contextmanager
def _html(path: Path | None, *, force: bool) -> Iterator[_HtmlFile | None]:
    if path is None:
        yield None
        return
    page = _HtmlFile(path, force=force)
    try:
        yield page
    except BaseException:
        page.abandon()
        raise
    page.commit()


def run_check(
    domains: list[str],
    *,
    domains_file: Path | None,
    jobs: int,
    processes: int | None,
    json_output: bool,
    html_file: Path | None,
    force: bool,
    nameservers: list[str],
    ca_file: Path | None,
    options: Options,
    progress: bool,
) -> int:
    if domains_file is None:
        env = environment(nameservers=nameservers, ca_file=ca_file, options=options)
        return _run_listed(
            domains, env=env, json_output=json_output, html_file=html_file, force=force
        )
    # A bad file stops the run before anything is checked.
    lines = read_domains(domains_file)
    first = next(lines, None)
    total = sum(1 for _line in read_domains(domains_file)) + len(domains)
    # Worker processes only when asked: on the 2-core machine the benchmark runs on,
    # they measured no faster than threads in one process (README, bench/check.py).
    processes = max(1, min(processes or 1, jobs, total or 1))

    def stream() -> Iterator[tuple[int, str]]:
        yield from ((0, d) for d in domains)  # domains given as arguments: line 0
        if first is not None:
            yield first
            yield from lines

    bar = _Progress(total) if progress else None
    state = {"all_configured": True, "failed": 0}
    try:
        with _html(html_file, force=force) as page:

            def done(rendered: Rendered) -> None:
                state["failed"] += rendered.failed
                if not rendered.failed:
                    state["all_configured"] = state["all_configured"] and rendered.all_configured
                if page is not None and rendered.html is not None:
                    page.write(rendered.html)
                sys.stdout.write(json.dumps(rendered.doc, ensure_ascii=False) + "\n")
                sys.stdout.flush()
                if bar is not None:
                    bar.advance(rendered.failed)

            want_html = page is not None
            if processes > 1:
                from advisor.i18n import current_language

                settings = Settings(
                    tuple(nameservers), ca_file, options, current_language(), want_html
                )
                check_in_processes(stream(), settings, processes=processes, jobs=jobs, on_done=done)
            else:
                env = environment(nameservers=nameservers, ca_file=ca_file, options=options)
                check_many(
                    stream(), env, jobs=jobs, on_done=lambda o: done(render(o, html=want_html))
                )
    finally:
        if bar is not None:
            bar.close()
    if state["failed"]:
        return EXIT_USER_ERROR
    return EXIT_OK if state["all_configured"] else EXIT_NOT_ALL_CONFIGURED


def _run_listed(
    domains: list[str],
    *,
    env: Environment,
    json_output: bool,
    html_file: Path | None,
    force: bool,
) -> int:
    # Names are checked before any traffic: one bad name is a one-line error.
    for domain in domains:
        check_name(domain)
    all_configured = True
    with _html(html_file, force=force) as page:
        for index, domain in enumerate(domains):
            report = check_domain(domain, env)
            all_configured = all_configured and report.all_configured
            if page is not None:
                page.write(html_section(report))
            if json_output:
                indent = 2 if len(domains) == 1 else None
                sys.stdout.write(
                    json.dumps(check_json(report), ensure_ascii=False, indent=indent) + "\n"
                )
            else:
                if index:
                    sys.stdout.write("\n")
                sys.stdout.write(render_text(report))
            sys.stdout.flush()
    if html_file is not None and not json_output:
        sys.stdout.write(_("wrote {file}").format(file=html_file) + "\n")
    return EXIT_OK if all_configured else EXIT_NOT_ALL_CONFIGURED


class _Progress:
    """Domains done of all, failures, elapsed time and ETA on stderr (only on a terminal)."""

    def __init__(self, total: int) -> None:
        from advisor.progress import progress_bar

        self._progress = progress_bar()
        self._progress.start()
        self._task = self._progress.add_task(_("Domains"), total=total, failed=0)
        self._failed = 0

    def advance(self, failed: bool) -> None:
        self._failed += failed
        self._progress.update(self._task, advance=1, failed=self._failed)

    def close(self) -> None:
        self._progress.stop()
