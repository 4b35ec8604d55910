"""Batch onboarding speed and memory: 10,000 employees over 50 lab domains.

Scenario (the lab on loopback, with Dovecot installed): one Dovecot (IMAP) and
one aiosmtpd host the mail of 50 domains ``d00.test``..``d49.test``, each
published with RFC 6186 SRV records. The CSV has 10,000 employees spread over
the domains, in English and French, each with Thunderbird, Outlook and Apple
Mail (six configuration files + two setup sheets + a manifest each).

- ours: ``advisor onboard`` (the ``Onboarding`` engine, ``--jobs 8``, an empty
  cache): discovery once per domain, then every employee's folder;
- baseline, in the same process: the same files (names, folders, sizes;
  the bytes of one employee of the same domain and language, read once)
  written with the same number of threads and nothing else: each file
  opened, written and flushed to disk (fsync) as ours are. For context, the
  same with ``atomic_write`` per file (temporary file, fsync, rename: what
  ``advisor export`` does; onboarding writes a new folder aside and renames
  it once instead) is printed too;
- the lab's servers run in a process of their own, as remote servers would:
  their Python (DNS, SMTP, HTTPS) does not share our interpreter lock;
- nothing is deleted until the end, and every timed phase starts after
  ``os.sync()``: this disk's ext4 has no journal, and then for a minute after
  a mass deletion every file creation scans past the recently freed inodes
  (``recently_deleted`` in ext4's inode allocator: 30% of the CPU when ours
  ran just after the previous phase's 270,000 files were deleted, which the
  baseline never did); about 4 GB of scratch space is needed;
- memory: the peak resident set of a fresh ``advisor onboard`` process
  (cached discovery) for 2,000 and for 10,000 rows: flat means the same
  peak whatever the CSV's length;
- a large run (``--large``, 100,000 rows by default): ``advisor onboard`` in a
  fresh process (empty cache), its time against the same write-only baseline
  (target <= 2), and its memory: the main process's peak, the largest worker
  process's, and the peak of their sum (the whole process tree's resident
  sets, sampled every 0.2 s; target <= 150 MB); and the index's pages.

Prints the discoveries (must equal the distinct domains), employees per
second and total / baseline (target <= 2). Asserts nothing.
    python bench/onboard.py [--employees 10000] [--domains 50] [--jobs 8] [--large 100000]
    python bench/onboard.py --large-only      # the 100,000-row run alone (~15 min)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor import runner
from advisor.fsutil import atomic_write
from advisor.onboard import Onboarding, Settings
from tests.lab.ca import LabCA
from tests.lab.servers import Lab

HOSTING = "hosting.test"
ROOT = Path(__file__).resolve().parents[1]


class RemoteLab:
    """The lab in a process of its own: its DNS, SMTP and HTTPS servers are Python
    threads, and in our process they would take turns with discovery on one
    interpreter lock, which remote servers never do."""

    def __init__(self, ca_dir: Path, domains: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_lab, args=(child, ca_dir, domains))
        self._process.start()
        reply = self._conn.recv()
        if isinstance(reply, BaseException):
            raise reply
        self.dns_spec, ca_file = reply
        self.ca_file = Path(ca_file)

    def __enter__(self) -> RemoteLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._conn.send("stop")
        self._process.join(30)


def _serve_lab(conn: Any, ca_dir: Path, domains: int) -> None:
    try:
        with Lab(LabCA(ca_dir)) as lab:
            lab.dovecot(f"imap.{HOSTING}", pop3=None, pop3s=None)
            lab.smtp(f"smtp.{HOSTING}")
            for d in range(domains):
                lab.zone(
                    f"d{d:02d}.test",
                    f"_imaps._tcp SRV 0 1 993 imap.{HOSTING}.\n"
                    f"_submissions._tcp SRV 0 1 465 smtp.{HOSTING}.\n",
                )
            conn.send((lab.dns_spec, str(lab.ca_file)))
            conn.recv()
    except Exception as exc:  # the bench says why the lab did not start
        conn.send(exc)


def settle() -> None:
    """Flush what earlier phases left to write (a deleted output folder is 100,000
    files' worth of metadata) so that no timed phase pays for another's."""
    os.sync()


def lang_of(i: int) -> str:
    return "fr" if i % 3 == 0 else "en"


def write_csv(path: Path, employees: int, domains: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,name,lang,clients,devices\n")
        for i in range(employees):
            lang = lang_of(i)
            handle.write(
                f"user{i:05d}@d{i % domains:02d}.test,Employee {i},{lang},"
                'thunderbird;outlook;apple-mail,"laptop, phone"\n'
            )


def run(csv_path: Path, out: Path, cache: Path, lab: RemoteLab, jobs: int, *, refresh: bool) -> Any:
    settings = Settings(
        out=out,
        jobs=jobs,
        refresh=refresh,
        cache_dir=cache,
        nameservers=(lab.dns_spec,),
        ca_file=lab.ca_file,
    )
    return Onboarding(csv_path, settings).run()


def samples(out: Path, employees: int, domains: int) -> dict[tuple[int, str], list[Any]]:
    """One employee's files (relative name, bytes) per (domain, language), read once."""
    found: dict[tuple[int, str], list[Any]] = {}
    for i in range(employees):
        key = (i % domains, lang_of(i))
        if key not in found:
            folder = out / f"user{i:05d}@d{i % domains:02d}.test"
            found[key] = [
                (str(p.relative_to(folder)), p.read_bytes())
                for p in sorted(folder.rglob("*"))
                if p.is_file()
            ]
    return found


def baseline(
    target: Path,
    employees: int,
    domains: int,
    files: dict[tuple[int, str], list[Any]],
    jobs: int,
    *,
    with_atomic: bool = True,
) -> tuple[float, float, int]:
    """Write the same files (names, sizes, folders; content from a sample of the same
    domain and language), with the same threads; nothing else. Returns the time with
    each file flushed to disk (fsync), as ours are, the time with ``atomic_write`` per
    file (what `advisor export` does), and the number of files."""

    def bare(i: int) -> int:
        folder = target / "bare" / f"user{i:05d}@d{i % domains:02d}.test"
        made = set()
        written = 0
        for name, data in files[(i % domains, lang_of(i))]:
            path = folder / name
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            with path.open("xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            written += 1
        return written

    def atomic(i: int) -> None:
        folder = target / "atomic" / f"user{i:05d}@d{i % domains:02d}.test"
        for name, data in files[(i % domains, lang_of(i))]:
            atomic_write(folder / name, data)

    settle()
    started = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        count = sum(pool.map(bare, range(employees)))
    bare_time = time.monotonic() - started
    if not with_atomic:
        return bare_time, float("nan"), count
    settle()
    started = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(atomic, range(employees)))
    return bare_time, time.monotonic() - started, count


def tree_memory_kib(pid: int) -> tuple[int, int, dict[int, int]]:
    """KiB, now: the resident sets of ``pid`` and all its descendants added up, their
    proportional sets (PSS: a page shared by n processes counts 1/n in each) added
    up, and each process's resident set."""
    rss = pss = 0
    each: dict[int, int] = {}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    each[current] = int(line.split()[1])
                    rss += each[current]
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return rss, pss, each


@dataclass(frozen=True)
class Run:
    """A fresh `advisor onboard` process: its time and memory (KiB)."""

    seconds: float  # measured inside it, from before main() to after
    main_kib: int  # its own peak resident set (getrusage)
    child_kib: int  # the largest peak resident set of a worker process (sampled), 0 if none
    tree_rss_kib: int  # the process tree's resident sets added up, at their peak (sampled)
    tree_pss_kib: int  # the same in proportional sets: a page shared by n processes counts 1/n


def onboard_process(csv_path: Path, out: Path, cache: Path, lab: RemoteLab, jobs: int) -> Run:
    """Run `advisor onboard` in a fresh process, sampling the memory of its whole tree
    every 0.2 s. (getrusage's RUSAGE_CHILDREN is no use for the workers: a child
    forked, then exec'd, inherits its parent's high-water mark.)"""
    code = (
        "import resource, sys, time\n"
        "from advisor.cli import main\n"
        "started = time.monotonic()\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        "    elapsed = time.monotonic() - started\n"
        "    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    print(elapsed, me, file=sys.stderr)\n"
    )
    args = [str(csv_path), "--out", str(out), "--cache-dir", str(cache), "--jobs", str(jobs)]
    args += ["--dns", lab.dns_spec, "--ca-file", str(lab.ca_file), "--no-progress"]
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", code, "onboard", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        tree_rss = tree_pss = 0
        each: dict[int, int] = {}
        while process.poll() is None:
            rss, pss, now = tree_memory_kib(process.pid)
            tree_rss, tree_pss = max(tree_rss, rss), max(tree_pss, pss)
            for pid, kib in now.items():
                each[pid] = max(each.get(pid, 0), kib)
            time.sleep(0.2)
        stderr.seek(0)
        report = stderr.read()
    if process.returncode not in (0, 1) or not report.strip():
        raise SystemExit(f"onboard failed: {report}")
    elapsed, me = report.strip().splitlines()[-1].split()
    children = [kib for pid, kib in each.items() if pid != process.pid]
    return Run(float(elapsed), int(me), max(children, default=0), tree_rss, tree_pss)


def peak_rss(csv_path: Path, out: Path, cache: Path, lab: RemoteLab, jobs: int) -> tuple[int, int]:
    """KiB: the peak resident set of a fresh process that runs `advisor onboard`, and
    of the largest of its worker processes (0 if none)."""
    run = onboard_process(csv_path, out, cache, lab, jobs)
    return run.main_kib, run.child_kib


def large_run(work: Path, lab: RemoteLab, rows: int, domains: int, jobs: int) -> None:
    """``rows`` employees in one fresh `advisor onboard` process (empty cache): time
    against the write-only baseline, memory of the whole process tree, index pages."""
    staff = work / f"staff-{rows}.csv"
    write_csv(staff, rows, domains)
    out = work / f"large-{rows}"
    settle()
    ours = onboard_process(staff, out, work / f"cache-{rows}", lab, jobs)
    pages = sorted(out.glob("index*.html"))
    biggest = max(p.stat().st_size for p in pages)
    with (out / "summary.csv").open(encoding="utf-8-sig") as handle:
        summary_rows = sum(1 for _ in handle) - 1
    sample = samples(out, rows, domains)
    bare, _, files = baseline(
        work / f"baseline-{rows}", rows, domains, sample, jobs, with_atomic=False
    )
    mb = 1024
    print(f"large run, {rows} rows (a fresh process, empty cache, --jobs {jobs}):")
    print(
        f"  ours: {ours.seconds:.1f} s, {rows / ours.seconds:.0f} employees/s;"
        f" summary.csv {summary_rows} rows"
    )
    print(f"  baseline: {bare:.1f} s to write the same {files} files, each flushed to disk")
    print(f"  ours / baseline: {ours.seconds / bare:.2f} (target <= 2)")
    print(
        f"  memory: main process {ours.main_kib / mb:.1f} MB, largest worker process"
        f" {ours.child_kib / mb:.1f} MB; all processes at their peak"
        f" {ours.tree_rss_kib / mb:.1f} MB resident, {ours.tree_pss_kib / mb:.1f} MB"
        " proportional (target <= 150)"
    )
    print(f"  index: {len(pages)} pages, the largest {biggest / mb / mb:.2f} MB (target <= 2 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--domains", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="ours and the baseline only")
    parser.add_argument("--repeat", type=int, default=3, help="ours/baseline pairs")
    parser.add_argument(
        "--large", type=int, default=100_000, help="rows of the large run (0: none)"
    )
    parser.add_argument("--large-only", action="store_true", help="the large run alone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-onboard-"))
    calls: list[str] = []
    spans: list[tuple[float, float]] = []
    real = runner.run_discovery

    def counting(address: str, **kwargs: Any) -> Any:
        calls.append(address)
        started = time.monotonic()
        try:
            return real(address, **kwargs)
        finally:
            spans.append((started, time.monotonic()))

    runner.run_discovery = counting  # type: ignore[assignment]
    try:
        with RemoteLab(work / "ca", args.domains) as lab:
            if args.large_only:
                large_run(work, lab, args.large, args.domains, args.jobs)
                return
            staff = work / "staff.csv"
            write_csv(staff, args.employees, args.domains)

            # This machine's disk is noisy: ours and the baselines alternate, and each
            # pair gives a ratio; the medians are the figures.
            ratios: list[tuple[float, float, float, float]] = []
            for attempt in range(args.repeat):
                out = work / f"out{attempt}"
                calls.clear()
                spans.clear()
                settle()
                started = time.monotonic()
                outcome = run(staff, out, work / "cache", lab, args.jobs, refresh=True)
                ours = time.monotonic() - started
                counts = {str(k): v for k, v in outcome.counts.items()}
                first, last = min(a for a, _ in spans), max(b for _, b in spans)
                each = sorted(b - a for a, b in spans)
                print(f"run {attempt + 1}: rows {outcome.total}, {counts}")
                print(
                    f"  discoveries: {len(calls)} for {args.domains} distinct domains,"
                    f" {last - first:.1f} s for all, {2 * args.jobs} at a time"
                    f" (each: median {each[len(each) // 2]:.2f} s, slowest {each[-1]:.2f} s)"
                )
                print(
                    f"  ours: {ours:.1f} s, {args.employees / ours:.0f} employees/s"
                    f" (--jobs {args.jobs})"
                )
                sample = samples(out, args.employees, args.domains)
                bare, atomic, files = baseline(
                    work / f"baseline{attempt}", args.employees, args.domains, sample, args.jobs
                )
                print(
                    f"  baseline: {bare:.1f} s to write the same {files} files, each flushed"
                    f" to disk as ours are; {atomic:.1f} s with atomic_write per file"
                )
                ratios.append((ours, bare, ours / bare, ours / atomic))
            median = [statistics.median(r[i] for r in ratios) for i in range(4)]
            print(
                f"median over {args.repeat}: ours {median[0]:.1f} s"
                f" ({args.employees / median[0]:.0f} employees/s), baseline {median[1]:.1f} s;"
                f" ours / baseline {median[2]:.2f} (target <= 2);"
                f" ours / atomic_write baseline {median[3]:.2f}"
            )
            out = work / f"out{args.repeat - 1}"
            if args.quick:
                return

            resumed_started = time.monotonic()
            again = run(staff, out, work / "cache", lab, args.jobs, refresh=False)
            resumed = time.monotonic() - resumed_started
            print(
                f"re-run (resume, cache hit): {resumed:.1f} s,"
                f" {again.counts['unchanged']} unchanged, discoveries still {len(calls)}"
            )

            # Memory: each size in a fresh process (`advisor onboard`, cached discovery),
            # which reports its own peak resident set; flat = the same for 5x the rows.
            peaks = []
            sizes = (args.employees // 5, args.employees)
            for size in sizes:
                small = work / f"staff-{size}.csv"
                write_csv(small, size, args.domains)
                peaks.append(peak_rss(small, work / f"mem-{size}", work / "cache", lab, args.jobs))
                shutil.rmtree(work / f"mem-{size}")
            for (main_kib, worker_kib), size in zip(peaks, sizes, strict=True):
                print(
                    f"memory, {size} rows: peak resident set {main_kib / 1024:.1f} MB,"
                    f" largest worker process {worker_kib / 1024:.1f} MB"
                )
            print(f"memory ratio, {sizes[1]} / {sizes[0]} rows: {peaks[1][0] / peaks[0][0]:.2f}")
            if args.large:
                large_run(work, lab, args.large, args.domains, args.jobs)
    finally:
        runner.run_discovery = real  # type: ignore[assignment]
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
