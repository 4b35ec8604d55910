"""Onboarding on half-broken networks gives the same answer every time (issue 15).

Scenarios, from tests/test_onboard_reach.py (the lab on loopback):

- DNS down: the resolver answers NXDOMAIN for every public name, top-level
  domains included, and drops the ``.com`` TLD check (no answer at all): six
  catalogued providers;
- ports filtered: DNS up, six lab domains whose sources name servers behind
  sockets with a full accept queue (a firewall dropping SYNs).

Each scenario onboards 300 rows over 6 domains ``--runs`` times (fresh output
folder, no cache), with a different number of workers each time (1, 2, 4, 8,
16...), and compares every row's protocol and confidence across the runs and
with a single ``advisor recommend`` per row. Prints, per scenario, the number of
distinct answers per row (must be 1) and how many rows differ from their
single run (must be 0).

    python bench/onboard_determinism.py [--runs 5]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.onboard import Onboarding, Settings
from tests.lab.ca import LabCA
from tests.lab.servers import Lab
from tests.test_onboard_reach import (
    CATALOGUED,
    FILTERED,
    ROOT_ZONE,
    ROWS,
    SINGLE_RUNS_AT_ONCE,
    Timing,
    employees,
    filtered_world,
    single,
    staff_csv,
)


def dns_down(lab: Lab) -> tuple[str, ...]:
    lab.zone(".", ROOT_ZONE)
    lab.dns.drop("com.", "SOA")
    return CATALOGUED


def ports_filtered(lab: Lab) -> tuple[str, ...]:
    lab.zone("test")
    filtered_world(lab)
    return FILTERED


def onboard_once(lab: Lab, staff: Path, out: Path, timing: Timing, jobs: int) -> dict[str, str]:
    settings = Settings(
        out=out,
        jobs=jobs,
        cache_ttl=0,
        cache_dir=out.parent / f"{out.name}-cache",
        nameservers=(lab.dns_spec,),
        ca_file=lab.ca_file,
        timeout=timing.budget,
        connect_timeout=timing.connect,
    )
    Onboarding(staff, settings).run()
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as handle:
        return {
            r["email"]: f"{r['status']} {r['protocol']} {r['confidence']}"
            for r in csv.DictReader(handle)
        }


def scenario(
    name: str, world: Callable[[Lab], tuple[str, ...]], timing: Timing, runs: int, work: Path
) -> None:
    with Lab(LabCA(work / f"{name}-ca")) as lab:
        domains = world(lab)
        staff = staff_csv(work / f"{name}.csv", domains)
        answers: dict[str, set[str]] = {}
        started = time.monotonic()
        for run in range(runs):
            jobs = 2**run
            rows = onboard_once(lab, staff, work / f"{name}-{run}", timing, jobs)
            for email, answer in rows.items():
                answers.setdefault(email, set()).add(answer)
        onboarding = time.monotonic() - started
        people = list(employees(staff))
        with ThreadPoolExecutor(max_workers=SINGLE_RUNS_AT_ONCE) as pool:
            singles = list(pool.map(lambda p: single(lab, p[0], p[1], timing), people))
    distinct = max(len(a) for a in answers.values())
    differ = sum(
        1
        for (email, _), (protocol, confidence) in zip(people, singles, strict=True)
        if answers[email] != {f"done {protocol} {confidence:.2f}"}
    )
    protocols = sorted({a for s in answers.values() for a in s})
    print(
        f"{name}: {ROWS} rows over {len(domains)} domains, {runs} runs (jobs 1..{2 ** (runs - 1)})"
        f" in {onboarding:.1f} s: at most {distinct} distinct answer(s) per row;"
        f" {differ} row(s) differ from a single `advisor recommend`;"
        f" answers seen: {', '.join(protocols)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advisor-determinism-") as folder:
        work = Path(folder)
        scenario("dns-down", dns_down, Timing(budget=1.5), args.runs, work)
        scenario("ports-filtered", ports_filtered, Timing(), args.runs, work)


if __name__ == "__main__":
    main()
