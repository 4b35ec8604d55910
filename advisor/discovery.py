"""Run every source and every probe at once, under one time budget; merge; rank; explain.

How the answer is reached quickly
---------------------------------
Thunderbird accepts a guessed server only after every better-ranked probe has
failed, so one port whose packets a firewall drops costs its full 10 s
timeout. Here every probe starts at once, and a better-ranked probe stops
blocking the answer when it is *probably filtered*: its host has already
completed a TCP handshake on another port in ``rtt`` ms, yet this port has
not completed one after ``max(FILTER_RTT_FACTOR * rtt, FILTER_MIN_WAIT)``.
If its handshake completes later, it blocks again until it finishes, so a
slow-but-alive port is never passed over while the answer is still open.

The answer for each direction (incoming, outgoing) is ready when the best
verified candidate outranks every probe still running that is not probably
filtered. ``run()`` returns then (or at the budget); ``wait_all=True`` waits
for every probe instead, up to the budget.

Threads, not asyncio: the protocol libraries (imapclient, poplib, smtplib)
are blocking. Each task is a daemon thread, so an abandoned probe never
holds up the process's exit; cancellation shuts its sockets down.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol as TypingProtocol

from advisor.address import EmailAddress
from advisor.models import (
    Candidate,
    DiscoveryReport,
    Endpoint,
    ProbeResult,
    ProbeStatus,
    Protocol,
    ProviderFacts,
    Security,
    Source,
    Step,
    StepStatus,
)
from advisor.net.connect import ConnectStatus, connect
from advisor.net.resolver import AddressAnswer, DnsAnswer, DnsClient, DnsStatus
from advisor.sources import dnshints, guess, srv

DEFAULT_TIMEOUT = 10.0  # seconds for the whole discovery; --timeout
# A port is "probably filtered" once it has waited this many round trips of
# its host (measured by a completed handshake on another port). A live port
# answers a SYN in one round trip; 10 leaves room for a busy server or a
# retransmitted packet on a lossy link without waiting seconds for silence.
FILTER_RTT_FACTOR = 10.0
# ...but never sooner than this, so scheduling jitter on a loaded machine
# (threads starting late) is not mistaken for a firewall.
FILTER_MIN_WAIT = 0.01

# Ranking among sources when they name different servers (issue #3 order).
SOURCE_RANK: dict[Source, int] = {
    Source.LOCAL: 0,
    Source.AUTOCONFIG: 1,
    Source.ISPDB: 2,
    Source.MX: 3,
    Source.SRV: 4,
    Source.AUTODISCOVER: 5,
    Source.GUESS: 6,
    Source.CATALOGUE: 7,
}
_SECURITY_RANK = {Security.SSL: 0, Security.STARTTLS: 1, Security.PLAIN: 2}

_SPEAKER_MODULES = {
    Protocol.IMAP: "advisor.probes.imap",
    Protocol.POP3: "advisor.probes.pop3",
    Protocol.SMTP: "advisor.probes.smtp",
}


class Observer(TypingProtocol):
    """Told of each step as it completes, from worker threads. Must not block."""

    def step(self, step: Step) -> None: ...


@dataclass
class _Probe:
    """Engine-internal, mutable: one endpoint being probed."""

    endpoint: Endpoint
    order: int  # position in the order sources named it: the final tie-break
    sources: set[Source] = field(default_factory=set)
    srv_priority: int | None = None
    state: str = "waiting"  # waiting -> resolving -> connecting -> speaking -> done
    addresses: tuple[str, ...] = ()
    connect_started: float | None = None
    result: ProbeResult | None = None
    sockets: list[socket.socket] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.result is not None


class Discovery:
    """One discovery of one address. Build it, call :meth:`run` once."""

    def __init__(
        self,
        address: EmailAddress,
        *,
        dns: DnsClient,
        tls_context: ssl.SSLContext,
        timeout: float = DEFAULT_TIMEOUT,
        observer: Observer | None = None,
        wait_all: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        self.domain = address.domain_ascii
        self._dns = dns
        self._tls = tls_context
        self._timeout = timeout
        self._observer = observer
        self._wait_all = wait_all
        self._clock = clock
        self._lock = threading.Condition()
        self._cancel = threading.Event()
        self._probes: dict[tuple[str, str, int, str], _Probe] = {}
        self._steps: list[Step] = []
        self._pending_sources: dict[tuple[str, str], float] = {}  # label -> start time
        self._srv: list[srv.SrvLookup] = []
        self._dns_answers: dict[str, DnsAnswer] = {}
        self._hosts: dict[str, tuple[threading.Event, list[AddressAnswer]]] = {}
        self._rtt: dict[str, float] = {}  # address -> fastest handshake, seconds
        self._started = 0.0
        self._deadline = 0.0

    # ------------------------------------------------------------------ run

    def run(self) -> DiscoveryReport:
        self._started = self._clock()
        self._deadline = self._started + self._timeout
        # Probes first: they are the long pole, and each thread start waits for
        # the new thread to run, which costs more once DNS threads compete.
        with self._lock:
            for endpoint in guess.guesses(self.domain):
                self._add_endpoint(endpoint, Source.GUESS)
        for service, protocol, security in srv.SERVICES:
            label = ("srv", f"{service}.{self.domain}")
            self._start_source(label, self._srv_task, service, protocol, security)
        for rdtype, name in (("MX", self.domain), ("TXT", self.domain)):
            label = ("mx" if rdtype == "MX" else "dns", f"{name} {rdtype}")
            self._start_source(label, self._hint_task, rdtype, name)
        autodiscover = f"autodiscover.{self.domain}"
        self._start_source(("dns", f"{autodiscover} CNAME"), self._hint_task, "CNAME", autodiscover)
        # Sanity check of the resolver itself: if even the top-level domain
        # "does not exist", the resolver's view is filtered or offline (captive
        # portals, closed networks), and "no such domain" would be a false verdict.
        tld = self.domain.rsplit(".", 1)[-1] + "."
        self._start_source(("dns", f"{tld} SOA"), self._hint_task, "SOA", tld)
        try:
            with self._lock:
                while True:
                    now = self._clock()
                    if now >= self._deadline:
                        break
                    finished, wake = self._answer_ready(now)
                    if finished:
                        break
                    wait = self._deadline - now if wake is None else min(wake, self._deadline) - now
                    self._lock.wait(max(0.001, wait))
                return self._report(self._clock())
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Abandon every probe still running: its sockets are shut down at once."""
        self._cancel.set()
        with self._lock:
            sockets = [s for p in self._probes.values() if not p.done for s in p.sockets]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -------------------------------------------------------------- sources

    def _start_source(
        self, label: tuple[str, str], task: Callable[..., None], *args: object
    ) -> None:
        """Run a DNS source in its own thread; ``label`` = (step source, step target)."""
        with self._lock:
            self._pending_sources[label] = self._clock()
        threading.Thread(
            target=self._source_wrapper, args=(label, task, *args), daemon=True
        ).start()

    def _source_wrapper(
        self, label: tuple[str, str], task: Callable[..., None], *args: object
    ) -> None:
        try:
            task(*args)
        finally:
            with self._lock:
                self._pending_sources.pop(label, None)
                self._lock.notify_all()

    def _srv_task(self, service: str, protocol: Protocol, security: Security) -> None:
        lookup = srv.lookup(
            self._dns, self.domain, service, protocol, security, deadline=self._deadline
        )
        answer = lookup.answer
        if lookup.not_offered:
            status, detail = StepStatus.NOT_FOUND, "not offered (target '.')"
        elif lookup.targets:
            status = StepStatus.FOUND
            detail = ", ".join(
                f"{t.endpoint.hostname}:{t.endpoint.port} (priority {t.priority},"
                f" weight {t.weight})"
                for t in lookup.targets
            )
        else:
            status, detail = _dns_step_status(answer)
        with self._lock:
            self._srv.append(lookup)
            for target in lookup.targets:
                probe = self._add_endpoint(target.endpoint, Source.SRV)
                if probe.srv_priority is None or target.priority < probe.srv_priority:
                    probe.srv_priority = target.priority
        self._record(Step("srv", lookup.query_name, status, answer.elapsed_ms, detail, answer.ad))

    def _hint_task(self, rdtype: str, name: str) -> None:
        answer = self._dns.query(name, rdtype, deadline=self._deadline)
        status, detail = _dns_step_status(answer)
        if rdtype == "SOA" and answer.status in (DnsStatus.ERROR, DnsStatus.TIMEOUT):
            # An authoritative-only server (an internal DNS given with --dns)
            # refuses names outside its zones: that says nothing about the network.
            status = StepStatus.SKIPPED
            detail = f"sanity check not possible: {detail}"
        if answer.found:
            if rdtype == "MX":
                hosts, null_mx = dnshints.mx_hosts(answer)
                detail = (
                    "null MX: the domain accepts no mail (RFC 7505)"
                    if null_mx
                    else ", ".join(f"{h.host} ({h.preference})" for h in hosts)
                )
            elif rdtype == "TXT":
                detail = dnshints.spf_record(answer) or "no SPF record among the TXT records"
            elif rdtype == "CNAME":
                detail = answer.records[0].target.to_text(omit_final_dot=True)
            elif rdtype == "SOA":
                detail = "the top-level domain exists: the DNS server sees the Internet"
        with self._lock:
            self._dns_answers[rdtype] = answer
        source = "mx" if rdtype == "MX" else "dns"
        self._record(Step(source, f"{name} {rdtype}", status, answer.elapsed_ms, detail, answer.ad))

    # --------------------------------------------------------------- probes

    def _add_endpoint(self, endpoint: Endpoint, source: Source) -> _Probe:
        """Called with the lock held. Starts a probe the first time an endpoint is named."""
        probe = self._probes.get(endpoint.key)
        if probe is None:
            probe = _Probe(endpoint, order=len(self._probes))
            self._probes[endpoint.key] = probe
            if not self._cancel.is_set():
                threading.Thread(target=self._probe_task, args=(probe,), daemon=True).start()
        probe.sources.add(source)
        self._lock.notify_all()
        return probe

    def _resolve(self, host: str) -> AddressAnswer:
        """Each host name is resolved once, however many probes need it."""
        with self._lock:
            entry = self._hosts.get(host)
            owner = entry is None
            if entry is None:
                entry = (threading.Event(), [])
                self._hosts[host] = entry
        event, box = entry
        if owner:
            try:
                box.append(self._dns.addresses(host, deadline=self._deadline))
            finally:
                event.set()
        else:
            event.wait(max(0.0, self._deadline - self._clock()) + 1.0)
        if box:
            return box[0]
        return AddressAnswer(host, (), DnsStatus.TIMEOUT, False, 0.0, "no answer in time")

    def _probe_task(self, probe: _Probe) -> None:
        started = self._clock()
        endpoint = probe.endpoint
        try:
            result = self._probe(probe, started)
        except Exception as exc:  # a bug in a speaker must not kill discovery
            result = ProbeResult(
                endpoint,
                ProbeStatus.PROTOCOL_ERROR,
                f"internal error while probing: {type(exc).__name__}: {exc}",
                elapsed_ms=(self._clock() - started) * 1000,
            )
        step = _probe_step(probe, result)
        with self._lock:
            # Result and step land together, so a report never sees one without the other.
            probe.result = result
            probe.state = "done"
            self._steps.append(step)
            self._lock.notify_all()
        self._notify(step)

    def _set_state(self, probe: _Probe, state: str, **changes: object) -> None:
        with self._lock:
            probe.state = state
            for name, value in changes.items():
                setattr(probe, name, value)
            self._lock.notify_all()

    def _probe(self, probe: _Probe, started: float) -> ProbeResult:
        endpoint = probe.endpoint

        def finish(status: ProbeStatus, detail: str, **extra: object) -> ProbeResult:
            elapsed = (self._clock() - started) * 1000
            return ProbeResult(endpoint, status, detail, elapsed_ms=elapsed, **extra)  # type: ignore[arg-type]

        self._set_state(probe, "resolving")
        resolved = self._resolve(endpoint.hostname)
        if not resolved.addresses:
            return finish(ProbeStatus.DNS_ERROR, resolved.detail or "no address")
        if self._cancel.is_set():
            return finish(ProbeStatus.CANCELLED, "abandoned: the answer was ready")
        self._set_state(
            probe, "connecting", addresses=resolved.addresses, connect_started=self._clock()
        )
        outcome = connect(
            resolved.addresses, endpoint.port, deadline=self._deadline, cancelled=self._cancel
        )
        if outcome.status is not ConnectStatus.CONNECTED or outcome.sock is None:
            status = {
                ConnectStatus.REFUSED: ProbeStatus.REFUSED,
                ConnectStatus.FILTERED: ProbeStatus.FILTERED,
                ConnectStatus.CANCELLED: ProbeStatus.CANCELLED,
            }.get(outcome.status, ProbeStatus.REFUSED)
            return finish(status, outcome.detail, address=outcome.address)
        assert outcome.address is not None
        assert outcome.connect_ms is not None
        address = outcome.address
        with self._lock:
            rtt = outcome.connect_ms / 1000
            self._rtt[address] = min(rtt, self._rtt.get(address, rtt))
            probe.state = "speaking"
            probe.sockets.append(outcome.sock)
            self._lock.notify_all()

        def register(sock: socket.socket) -> None:
            with self._lock:
                probe.sockets.append(sock)
            if self._cancel.is_set():
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        def reconnect() -> socket.socket:
            again = connect((address,), endpoint.port, deadline=self._deadline)
            if again.sock is None:
                raise ConnectionError(again.detail)
            register(again.sock)
            return again.sock

        speak = importlib.import_module(_SPEAKER_MODULES[endpoint.protocol]).speak
        spoken = speak(
            outcome.sock,
            hostname=endpoint.hostname,
            port=endpoint.port,
            security=endpoint.security,
            tls_context=self._tls,
            deadline=self._deadline,
            reconnect=reconnect,
            register=register,
        )
        status = spoken.status
        detail = spoken.detail
        if self._cancel.is_set() and status not in (
            ProbeStatus.OK,
            ProbeStatus.CERT_INVALID,
            ProbeStatus.NO_STARTTLS,
        ):
            status, detail = ProbeStatus.CANCELLED, "abandoned: the answer was ready"
        return finish(
            status, detail, address=address, connect_ms=outcome.connect_ms, facts=spoken.facts
        )

    # --------------------------------------------------------------- answer

    def _incoming_preference(self) -> Protocol:
        return srv.preferred_incoming(self._srv) or Protocol.IMAP

    def _rank(self, probe: _Probe, endpoint: Endpoint, verified: bool) -> tuple[int, ...]:
        """Smaller is better: Thunderbird's order (not plain, protocol, TLS), then source."""
        preferred = self._incoming_preference()
        return (
            0 if verified else 1,
            1 if endpoint.security is Security.PLAIN else 0,
            0 if endpoint.protocol in (preferred, Protocol.SMTP) else 1,
            _SECURITY_RANK[endpoint.security],
            min(SOURCE_RANK.get(s, 99) for s in probe.sources),
            probe.srv_priority if probe.srv_priority is not None else 1 << 16,
            probe.order,
        )

    def _filter_wait(self, probe: _Probe) -> float | None:
        """Seconds after its connect started at which ``probe`` counts as filtered."""
        rtts = [self._rtt[a] for a in probe.addresses if a in self._rtt]
        if probe.state != "connecting" or probe.connect_started is None or not rtts:
            return None
        return max(FILTER_RTT_FACTOR * min(rtts), FILTER_MIN_WAIT)

    def _answer_ready(self, now: float) -> tuple[bool, float | None]:
        """Called with the lock held: (ready, when to look again)."""
        wake: float | None = None
        if self._pending_sources:
            return False, None
        probes = list(self._probes.values())
        if self._wait_all:
            return all(p.done for p in probes), None
        for incoming in (True, False):
            group = [p for p in probes if p.endpoint.protocol.incoming is incoming]
            best: tuple[int, ...] | None = None
            for p in group:
                if p.result is not None:
                    for endpoint, verified in _offers(p.result):
                        key = self._rank(p, endpoint, verified)
                        if verified and (best is None or key < best):
                            best = key
            for p in group:
                if p.done:
                    continue
                if best is not None:
                    wait = self._filter_wait(p)
                    if wait is not None and p.connect_started is not None:
                        at = p.connect_started + wait
                        if now >= at:
                            continue  # probably filtered: it no longer blocks
                        wake = at if wake is None else min(wake, at)
                    if self._rank(p, p.endpoint, True) > best:
                        continue  # even at best it would rank lower
                return False, wake
        return True, None

    # --------------------------------------------------------------- report

    def _record(self, step: Step) -> None:
        with self._lock:
            self._steps.append(step)
        self._notify(step)

    def _notify(self, step: Step) -> None:
        if self._observer is not None:
            with contextlib.suppress(Exception):
                self._observer.step(step)

    def _report(self, now: float) -> DiscoveryReport:
        """Called with the lock held: a consistent snapshot."""
        warnings: list[str] = []
        steps = list(self._steps)
        for (source, target), started in self._pending_sources.items():
            steps.append(
                Step(
                    source,
                    target,
                    StepStatus.TIMEOUT,
                    (now - started) * 1000,
                    "no DNS answer within the time budget",
                )
            )
        incoming: list[tuple[tuple[int, ...], Candidate]] = []
        outgoing: list[tuple[tuple[int, ...], Candidate]] = []
        for p in self._probes.values():
            if p.result is None:
                steps.append(self._unfinished_step(p, now, warnings))
            named = p.sources - {Source.GUESS}
            offers = _offers(p.result) if p.result is not None else []
            if not offers and named:
                offers = [(p.endpoint, False)]
            for endpoint, verified in offers:
                facts = p.result.facts if p.result is not None else None
                candidate = Candidate(
                    endpoint=endpoint,
                    username=self.address.address_ascii,
                    sources=tuple(sorted(p.sources, key=lambda s: SOURCE_RANK.get(s, 99))),
                    verified=verified,
                    auth=facts.auth_mechanisms if facts is not None else (),
                    probe=p.result,
                    srv_priority=p.srv_priority,
                )
                bucket = incoming if endpoint.protocol.incoming else outgoing
                bucket.append((self._rank(p, endpoint, verified), candidate))
        incoming.sort(key=lambda item: item[0])
        outgoing.sort(key=lambda item: item[0])
        inc = _dedupe([c for _, c in incoming])
        out = _dedupe([c for _, c in outgoing])
        warnings[:0] = self._warnings(inc, out)
        hints = dnshints.interpret(
            self.domain,
            self._dns_answers.get("MX"),
            self._dns_answers.get("TXT"),
            self._dns_answers.get("CNAME"),
        )
        warnings.extend(self._dns_warnings(hints))
        provider: ProviderFacts | None = hints.provider
        return DiscoveryReport(
            address=self.address.address,
            domain=self.address.domain,
            domain_ascii=self.domain,
            incoming=tuple(inc),
            outgoing=tuple(out),
            exchange=None,
            provider=provider,
            steps=tuple(steps),
            warnings=tuple(dict.fromkeys(warnings)),
            elapsed_ms=(now - self._started) * 1000,
        )

    def _unfinished_step(self, p: _Probe, now: float, warnings: list[str]) -> Step:
        elapsed = (now - (p.connect_started or self._started)) * 1000
        wait = self._filter_wait(p)
        if wait is not None and p.connect_started is not None and now - p.connect_started >= wait:
            rtt = min(self._rtt[a] for a in p.addresses if a in self._rtt) * 1000
            detail = (
                f"no TCP handshake after {elapsed:.0f} ms although the host answered another"
                f" port in {rtt:.1f} ms: probably dropped by a firewall"
            )
            warnings.append(
                f"{p.endpoint.hostname} port {p.endpoint.port} did not answer while other ports"
                " of the host did: a firewall on this network may block it"
            )
            status = StepStatus.TIMEOUT
        elif self._clock() >= self._deadline:
            detail, status = f"still {p.state} when the time budget ran out", StepStatus.TIMEOUT
        else:
            detail = f"not needed: a better-ranked server answered first (was {p.state})"
            status = StepStatus.SKIPPED
        return Step("probe", _target(p.endpoint), status, elapsed, _named_by(p) + detail)

    def _warnings(self, incoming: list[Candidate], outgoing: list[Candidate]) -> list[str]:
        out: list[str] = []
        for c in incoming + outgoing:
            result = c.probe
            where = f"{c.endpoint.protocol.name} {c.endpoint.hostname}:{c.endpoint.port}"
            if c.endpoint.security is Security.PLAIN:
                out.append(
                    f"{where} offers no encryption (no STARTTLS): a password sent there crosses"
                    " the network in clear text"
                )
            elif result is not None and result.status is ProbeStatus.CERT_INVALID:
                out.append(f"{where}: {result.detail}")
            elif result is not None and not result.spoke_protocol and Source.GUESS not in c.sources:
                named = "/".join(s.value for s in c.sources)
                out.append(f"{where} named by {named} did not answer: {result.detail}")
        out.extend(self._srv_disagreements(incoming, outgoing))
        return out

    def _srv_disagreements(self, incoming: list[Candidate], outgoing: list[Candidate]) -> list[str]:
        """Say where SRV records and the chosen servers differ, naming both sides."""
        out: list[str] = []
        for lookup in self._srv:
            if not lookup.not_offered:
                continue
            offered = next(
                (
                    c
                    for c in incoming + outgoing
                    if c.verified
                    and c.endpoint.protocol is lookup.protocol
                    and c.endpoint.security is lookup.security
                ),
                None,
            )
            if offered is not None:
                out.append(
                    f"SRV {lookup.query_name} says this service is not offered, yet"
                    f" {offered.endpoint} answers it"
                )
        for candidates, incoming_side in ((incoming, True), (outgoing, False)):
            chosen = candidates[0] if candidates and candidates[0].verified else None
            named = sorted(
                (
                    t
                    for lookup in self._srv
                    if lookup.protocol.incoming is incoming_side
                    for t in lookup.targets
                ),
                key=lambda t: (t.priority, _SECURITY_RANK[t.endpoint.security]),
            )
            if chosen is None or not named or Source.SRV in chosen.sources:
                continue
            first = named[0].endpoint
            why = (
                "implicit TLS is preferred (RFC 8314)"
                if chosen.endpoint.security is Security.SSL and first.security is not Security.SSL
                else "the server SRV names did not verify"
            )
            out.append(
                f"SRV names {first}, but {chosen.endpoint} was chosen: found by"
                f" {'/'.join(s.value for s in chosen.sources)}, verified live; {why}"
            )
        return out

    def _dns_warnings(self, hints: dnshints.Hints) -> list[str]:
        out: list[str] = []
        answers = [lookup.answer for lookup in self._srv] + list(self._dns_answers.values())
        mx = self._dns_answers.get("MX")
        answered = any(a.status not in (DnsStatus.TIMEOUT, DnsStatus.ERROR) for a in answers)
        if not answered and (answers or self._pending_sources):
            out.append(
                f"the DNS server ({self._dns.describe()}) answered no query: results are"
                " incomplete; check the network or use --dns"
            )
        elif (
            mx is not None
            and mx.status is DnsStatus.NXDOMAIN
            and (tld := self._dns_answers.get("SOA")) is not None
            and tld.status is DnsStatus.NXDOMAIN
        ):
            out.append(
                f"the DNS server ({self._dns.describe()}) says even the top-level domain"
                f" {tld.name.rstrip('.')!r} does not exist: its view looks filtered or offline,"
                f" so nothing can be concluded about {self.address.domain}"
            )
        elif mx is not None and mx.status is DnsStatus.NXDOMAIN:
            out.append(
                f"{self.address.domain} does not exist according to the DNS server"
                f" ({self._dns.describe()})"
            )
        elif hints.null_mx:
            out.append(f"{self.address.domain} publishes a null MX: it accepts no mail (RFC 7505)")
        elif mx is not None and mx.status is DnsStatus.NODATA:
            out.append(f"{self.address.domain} has no MX record: mail to it may not arrive")
        return out


# ------------------------------------------------------------------ helpers


def _offers(result: ProbeResult) -> list[tuple[Endpoint, bool]]:
    """What a finished probe tells a client it can use: (endpoint, verified)."""
    if result.status is ProbeStatus.OK:
        return [(result.endpoint, result.endpoint.security is not Security.PLAIN)]
    if result.status is ProbeStatus.CERT_INVALID:
        return [(result.endpoint, False)]
    if result.status is ProbeStatus.NO_STARTTLS:
        # The port speaks the protocol, in plaintext only: listed, never verified.
        return [(replace(result.endpoint, security=Security.PLAIN), False)]
    return []


def _dedupe(candidates: list[Candidate]) -> list[Candidate]:
    seen: set[tuple[str, str, int, str]] = set()
    out = []
    for c in candidates:
        if c.endpoint.key not in seen:
            seen.add(c.endpoint.key)
            out.append(c)
    return out


def _dns_step_status(answer: DnsAnswer) -> tuple[StepStatus, str]:
    status = {
        DnsStatus.FOUND: StepStatus.FOUND,
        DnsStatus.NXDOMAIN: StepStatus.NOT_FOUND,
        DnsStatus.NODATA: StepStatus.NOT_FOUND,
        DnsStatus.TIMEOUT: StepStatus.TIMEOUT,
        DnsStatus.ERROR: StepStatus.ERROR,
    }[answer.status]
    return status, answer.detail


_PROBE_STEP_STATUS = {
    ProbeStatus.OK: StepStatus.FOUND,
    ProbeStatus.NO_STARTTLS: StepStatus.FOUND,
    ProbeStatus.CERT_INVALID: StepStatus.ERROR,
    ProbeStatus.DNS_ERROR: StepStatus.NOT_FOUND,
    ProbeStatus.REFUSED: StepStatus.NOT_FOUND,
    ProbeStatus.FILTERED: StepStatus.TIMEOUT,
    ProbeStatus.TIMEOUT: StepStatus.TIMEOUT,
    ProbeStatus.TLS_ERROR: StepStatus.ERROR,
    ProbeStatus.PROTOCOL_ERROR: StepStatus.ERROR,
    ProbeStatus.CANCELLED: StepStatus.SKIPPED,
}


def _target(endpoint: Endpoint) -> str:
    return f"{endpoint.protocol}:{endpoint.security} {endpoint.hostname}:{endpoint.port}"


def _named_by(p: _Probe) -> str:
    names = sorted(p.sources, key=lambda s: SOURCE_RANK.get(s, 99))
    return f"[{', '.join(s.value for s in names)}] "


def _probe_step(p: _Probe, result: ProbeResult) -> Step:
    return Step(
        "probe",
        _target(p.endpoint),
        _PROBE_STEP_STATUS[result.status],
        result.elapsed_ms,
        _named_by(p) + result.detail,
        trusted=result.verified and p.endpoint.security is not Security.PLAIN,
    )
