"""`advisor check --domains FILE`: domains per second and memory over many lab domains.

Scenario (the lab on loopback, with Dovecot installed): one Dovecot (IMAP) and
one aiosmtpd host the mail of N domains ``c0000.test``...; every domain
publishes RFC 6186 SRV records to them, and one in four also publishes an
autoconfig file over HTTPS (one web server, one virtual host per domain).
Everything else a client tries (guessed host names, Autodiscover hosts) does
not exist, as for most small domains. The lab's servers run in a process of
their own, as remote servers would (their Python must not share our
interpreter lock).

- speed: a fresh ``advisor check --domains FILE --jobs J --timeout 10`` process,
  wall time from start to exit (start-up included), domains per second;
- memory: the peak resident set of that process for the first half of the
  domains and for all of them: flat means the same peak whatever the list's length.

Prints the figures; asserts nothing.
    python bench/check.py [--domains 1000] [--jobs 8] [--processes N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lab.ca import LabCA
from tests.lab.servers import Lab
from tests.lab.web import xml

HOSTING = "hosting.test"
ROOT = Path(__file__).resolve().parents[1]


def domain(i: int) -> str:
    return f"c{i:04d}.test"


def config(name: str) -> str:
    return (
        f'<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="{name}">'
        f"<domain>{name}</domain>"
        f'<incomingServer type="imap"><hostname>imap.{HOSTING}</hostname><port>993</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></incomingServer>"
        f'<outgoingServer type="smtp"><hostname>smtp.{HOSTING}</hostname><port>465</port>'
        "<socketType>SSL</socketType><username>%EMAILADDRESS%</username>"
        "<authentication>password-cleartext</authentication></outgoingServer>"
        "</emailProvider></clientConfig>"
    )


class RemoteLab:
    """The lab in a process of its own (see bench/onboard.py for why)."""

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
            published = [domain(i) for i in range(0, domains, 4)]
            for i in range(domains):
                lab.zone(
                    domain(i),
                    f"_imaps._tcp SRV 0 1 993 imap.{HOSTING}.\n"
                    f"_submissions._tcp SRV 0 1 465 smtp.{HOSTING}.\n",
                )
            if published:
                names = [f"autoconfig.{d}" for d in published]
                site = lab.web(*names, cert=lab.cert(*names))
                for d in published:
                    site.route(f"autoconfig.{d}", "GET", "/mail/config-v1.1.xml", xml(config(d)))
            conn.send((lab.dns_spec, str(lab.ca_file)))
            conn.recv()
    except Exception as exc:  # the bench says why the lab did not start
        conn.send(exc)


def run(
    listing: Path, lab: RemoteLab, jobs: int, processes: int | None = None
) -> tuple[float, int, list[dict[str, Any]]]:
    """Wall seconds, peak RSS (KiB) and the JSON lines of one fresh `advisor check`."""
    code = (
        "import resource, sys\n"
        "from advisor.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    args = ["check", "--domains", str(listing), "--jobs", str(jobs), "--timeout", "10"]
    args += ["--dns", lab.dns_spec, "--ca-file", str(lab.ca_file), "--no-progress"]
    args += ["--ispdb-url", "https://ispdb.invalid.test/v1.1/"]
    if processes is not None:
        args += ["--processes", str(processes)]
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    elapsed = time.monotonic() - started
    if result.returncode not in (0, 3):
        raise SystemExit(f"advisor check failed ({result.returncode}): {result.stderr[-2000:]}")
    peak = int(result.stderr.strip().splitlines()[-1])
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    return elapsed, peak, docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--processes", type=int, default=None, help="advisor check --processes")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-check-"))
    full = work / "domains.txt"
    full.write_text("".join(domain(i) + "\n" for i in range(args.domains)), encoding="utf-8")
    small = work / "domains-small.txt"
    small.write_text(
        "".join(domain(i) + "\n" for i in range(max(args.domains // 2, 1))), encoding="utf-8"
    )
    with RemoteLab(work / "ca", args.domains) as lab:
        elapsed, peak, docs = run(full, lab, args.jobs, args.processes)
        grades: dict[str, int] = {}
        for doc in docs:
            grades[doc.get("grade", "error")] = grades.get(doc.get("grade", "error"), 0) + 1
        print(f"domains: {len(docs)} of {args.domains} in {elapsed:.1f} s (--jobs {args.jobs})")
        print(f"domains per second: {len(docs) / elapsed:.1f} (target >= 50)")
        print(f"grades: {dict(sorted(grades.items()))}")
        small_elapsed, small_peak, small_docs = run(small, lab, args.jobs, args.processes)
        print(
            f"peak RSS: {small_peak / 1024:.1f} MB for {len(small_docs)} domains"
            f" ({small_elapsed:.1f} s), {peak / 1024:.1f} MB for {len(docs)}"
            f" (ratio {peak / small_peak:.2f})"
        )


if __name__ == "__main__":
    main()
