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

from advisor.check.render import error_json, html_head, html_section, html_tail, render_text
from advisor.check.render import to_json as check_json
from advisor.check.run import (
    Environment,
    Outcome,
    check_domain,
    check_many,
    environment,
    read_domains,
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
    json_output: bool,
    html_file: Path | None,
    force: bool,
    nameservers: list[str],
    ca_file: Path | None,
    options: Options,
    progress: bool,
) -> int:
    env = environment(nameservers=nameservers, ca_file=ca_file, options=options)
    if domains_file is None:
        return _run_listed(
            domains, env=env, json_output=json_output, html_file=html_file, force=force
        )
    # A bad file stops the run before anything is checked.
    lines = read_domains(domains_file)
    first = next(lines, None)
    total = sum(1 for _line in read_domains(domains_file))

    def stream() -> Iterator[tuple[int, str]]:
        yield from ((0, d) for d in domains)  # domains given as arguments: line 0
        if first is not None:
            yield first
            yield from lines

    bar = _Progress(total + len(domains)) if progress else None
    all_configured = True
    try:
        with _html(html_file, force=force) as page:

            def done(outcome: Outcome) -> None:
                nonlocal all_configured
                if outcome.report is None:
                    doc = error_json(outcome.domain, outcome.line, outcome.error or "")
                else:
                    doc = check_json(outcome.report)
                    all_configured = all_configured and outcome.report.all_configured
                    if page is not None:
                        page.write(html_section(outcome.report))
                sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
                sys.stdout.flush()
                if bar is not None:
                    bar.advance(outcome.report is None)

            _checked, failed = check_many(stream(), env, jobs=jobs, on_done=done)
    finally:
        if bar is not None:
            bar.close()
    if failed:
        return EXIT_USER_ERROR
    return EXIT_OK if all_configured else EXIT_NOT_ALL_CONFIGURED


def _run_listed(
    domains: list[str],
    *,
    env: Environment,
    json_output: bool,
    html_file: Path | None,
    force: bool,
) -> int:
    from advisor.address import normalise_domain

    # Names are checked before any traffic: one bad name is a one-line error.
    for domain in domains:
        normalise_domain(domain)
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
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} " + _("failed")),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._progress.start()
        self._task = self._progress.add_task(_("Domains"), total=total, failed=0)
        self._failed = 0

    def advance(self, failed: bool) -> None:
        self._failed += failed
        self._progress.update(self._task, advance=1, failed=self._failed)

    def close(self) -> None:
        self._progress.stop()
