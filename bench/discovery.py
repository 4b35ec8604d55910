"""Discovery speed when a firewall drops packets: ours vs a Thunderbird-order prober.

Scenario (the lab on loopback, as root, with Dovecot installed): imap.D has
port 993 silently dropped (a full accept queue: SYNs get no answer) and 143
with STARTTLS working; smtp.D offers 587 with STARTTLS.

- ours: ``Discovery.run()`` with the default 10 s budget and every source on
  (autoconfig, ISPDB, Autodiscover find nothing quickly: their names do not
  exist in the lab's DNS);
- baseline, in the same process: Thunderbird's rule — probes in its rank
  order, each with a 10 s timeout, a result accepted only after every
  better-ranked probe failed (incoming and outgoing side by side);
- "needed": the slowest probe the answer used (the chosen incoming and
  outgoing servers' own probes).

Targets (issue #2): baseline / ours >= 5; ours / needed <= 1.5.
Prints figures; asserts nothing.   python bench/discovery.py [--runs 5]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisor.address import parse_address
from advisor.discovery import Discovery
from advisor.models import Endpoint, Protocol, Security
from advisor.net.http import HttpClient
from advisor.net.resolver import DnsClient, parse_nameserver
from advisor.net.trust import client_context
from advisor.probes import imap, smtp
from advisor.sources.guess import guesses
from tests.lab.ca import LabCA
from tests.lab.hostile import Blackhole
from tests.lab.servers import Lab

THUNDERBIRD_TIMEOUT = 10.0  # GuessConfig's per-probe timeout
DOMAIN = "bench.test"


def thunderbird_order(dns: DnsClient, context: object, endpoints: list[Endpoint]) -> float:
    """Sequential in rank order, 10 s each; returns the time of the first success."""
    started = time.monotonic()
    ranked = sorted(
        endpoints,
        key=lambda e: (
            e.security is Security.PLAIN,
            e.protocol is Protocol.POP3,
            e.security is Security.STARTTLS,
        ),
    )
    for endpoint in ranked:
        deadline = time.monotonic() + THUNDERBIRD_TIMEOUT
        addresses = dns.addresses(endpoint.hostname, deadline=deadline).addresses
        if not addresses:
            continue
        try:
            sock = socket.create_connection((addresses[-1], endpoint.port), THUNDERBIRD_TIMEOUT)
        except OSError:
            continue
        speaker = imap if endpoint.protocol is Protocol.IMAP else smtp
        target = (addresses[-1], endpoint.port)
        outcome = speaker.speak(
            sock,
            hostname=endpoint.hostname,
            port=endpoint.port,
            security=endpoint.security,
            tls_context=context,  # type: ignore[arg-type]
            deadline=deadline,
            reconnect=lambda target=target: socket.create_connection(target),
            register=lambda _s: None,
        )
        if outcome.status.value == "ok":
            return time.monotonic() - started
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    ca = LabCA(Path(tempfile.mkdtemp(prefix="bench-ca-")))
    with Lab(ca) as lab:
        lab.zone(DOMAIN)
        lab.dovecot(f"imap.{DOMAIN}", imaps=None, pop3=None, pop3s=None)
        lab.hostile(Blackhole, f"imap.{DOMAIN}", 993)
        lab.smtp(f"smtp.{DOMAIN}", submissions=None)
        dns = DnsClient([parse_nameserver(lab.dns_spec)])
        context = client_context(lab.ca_file)
        address = parse_address(f"user@{DOMAIN}")

        ours: list[float] = []
        needed: list[float] = []
        for _ in range(args.runs):
            started = time.monotonic()
            report = Discovery(
                address, dns=dns, tls_context=context, http=HttpClient(dns, context)
            ).run()
            ours.append(time.monotonic() - started)
            chosen = [report.incoming[0], report.outgoing[0]]
            assert all(c.verified and c.probe is not None for c in chosen), report.warnings
            needed.append(max(c.probe.elapsed_ms for c in chosen if c.probe) / 1000)
            time.sleep(0.2)  # let abandoned probes of this run wind down
        best = report.incoming[0].endpoint
        print(f"answer: incoming {best}, outgoing {report.outgoing[0].endpoint}")
        o, n = statistics.median(ours), statistics.median(needed)
        print(f"ours:     median {o * 1000:.1f} ms over {args.runs} runs")
        print(f"needed:   median {n * 1000:.1f} ms (slowest probe the answer used)")
        print(f"ours / needed: {o / n:.2f} (target <= 1.5)")

        if not args.skip_baseline:
            endpoints = guesses(DOMAIN)
            incoming = [e for e in endpoints if e.protocol is Protocol.IMAP]
            outgoing = [e for e in endpoints if e.protocol is Protocol.SMTP]
            results: dict[str, float] = {}

            def side(key: str, endpoints: list[Endpoint]) -> None:
                results[key] = thunderbird_order(dns, context, endpoints)

            threads = [
                threading.Thread(target=side, args=(k, e))
                for k, e in (("in", incoming), ("out", outgoing))
            ]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            baseline = time.monotonic() - started
            print(f"baseline: {baseline * 1000:.0f} ms (Thunderbird order, 10 s timeouts)")
            print(f"baseline / ours: {baseline / o:.0f}x (target >= 5)")


if __name__ == "__main__":
    main()
