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
import functools
import importlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Protocol as TypingProtocol

from advisor import facts
from advisor.address import EmailAddress
from advisor.i18n import _
from advisor.models import (
    Candidate,
    DavEndpoint,
    DavFacts,
    DiscoveryReport,
    DnsHealth,
    Endpoint,
    ExchangeFacts,
    ProbeResult,
    ProbeStatus,
    Protocol,
    ProviderFacts,
    Reach,
    Reachability,
    Security,
    Source,
    Step,
    StepStatus,
    Unchecked,
    WebmailFacts,
)
from advisor.net.connect import ConnectStatus, connect
from advisor.net.resolver import AddressAnswer, DnsAnswer, DnsClient, DnsStatus
from advisor.report import unchecked_text
from advisor.sources import NamedServer, SourceResult, dnshints, guess, srv

if TYPE_CHECKING:
    from advisor.manual import ManualServers
    from advisor.net.http import HttpClient

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
    Source.GIVEN: -1,  # the person's own word beats every source
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
# Sources that answer with the provider's whole configuration file: when one of them
# lists incoming servers, a protocol it does not list is not offered - the provider
# (or the catalogue, which copies its file) says so, whatever the network lets through.
_LISTING_SOURCES = frozenset(
    {Source.LOCAL, Source.AUTOCONFIG, Source.ISPDB, Source.MX, Source.CATALOGUE}
)
# A probe that ended so says nothing about the server, only about the way to it.
_UNCHECKED = {
    ProbeStatus.FILTERED: Unchecked.FILTERED,
    ProbeStatus.TIMEOUT: Unchecked.TIMEOUT,
    ProbeStatus.REFUSED: Unchecked.REFUSED,
    ProbeStatus.DNS_ERROR: Unchecked.DNS,
}

_SPEAKER_MODULES = {
    Protocol.IMAP: "advisor.probes.imap",
    Protocol.POP3: "advisor.probes.pop3",
    Protocol.SMTP: "advisor.probes.smtp",
}


@dataclass(frozen=True)
class Options:
    """What the user chose; every field has the CLI's default."""

    timeout: float = DEFAULT_TIMEOUT
    wait_all: bool = False
    send_address: bool = True  # ?emailaddress= to the domain's own autoconfig hosts
    ispdb_url: str = "https://autoconfig.thunderbird.net/v1.1/"
    config_dir: Path | None = None  # local override folder, like Thunderbird's isp/
    offline: bool = False  # the built-in catalogue (and --config-dir) only: no network
    autodiscover: bool = True  # Microsoft Autodiscover, v2 JSON, EWS/ActiveSync probes
    ask_microsoft: bool = False  # v2 JSON even when DNS does not point at Microsoft 365
    autodiscover_v2_url: str = "https://outlook.office365.com/autodiscover/autodiscover.json"
    given: ManualServers | None = None  # servers the person gave: probed, ranked first
    # A TCP handshake not completed after this many seconds counts as filtered, so a
    # network that drops every mail port ends discovery then, not at the budget.
    # None: the whole budget (Thunderbird waits its full 10 s per probe too).
    connect_timeout: float | None = None


ExtraSource = Callable[[float], SourceResult]  # called with the deadline


class Observer(TypingProtocol):
    """Told of each step as it completes, from worker threads. Must not block."""

    def step(self, step: Step) -> None: ...


@dataclass
class _Probe:
    """Engine-internal, mutable: one endpoint being probed."""

    endpoint: Endpoint
    order: int  # position in the order sources named it: the final tie-break
    sources: set[Source] = field(default_factory=set)
    positions: dict[Source, int] = field(default_factory=dict)  # rank within each source
    stated: dict[Source, NamedServer] = field(default_factory=dict)  # what each source says
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
        http: HttpClient | None = None,
        options: Options | None = None,
        timeout: float | None = None,
        wait_all: bool | None = None,
        observer: Observer | None = None,
        extra_sources: tuple[tuple[str, ExtraSource], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        options = options or Options()
        if timeout is not None:
            options = replace(options, timeout=timeout)
        if wait_all is not None:
            options = replace(options, wait_all=wait_all)
        self.address = address
        self.domain = address.domain_ascii
        self.options = options
        self._dns = dns
        self._tls = tls_context
        self._http = http
        self._timeout = options.timeout
        self._observer = observer
        self._wait_all = options.wait_all
        self._extra_sources = extra_sources
        self._clock = clock
        self._results: list[SourceResult] = []
        self._hints_pending = 3  # MX, TXT, autodiscover CNAME
        self._hints_done = threading.Event()
        self._pending_http: dict[Source, int] = {}  # sources that may still name servers
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
        opts = self.options
        given = opts.given
        if given is not None and given.given:
            self._start_result_source(
                ("given", self.domain), Source.GIVEN, functools.partial(given.source, self.address)
            )
        if opts.config_dir is not None:
            self._start_result_source(("local", str(opts.config_dir)), Source.LOCAL, self._local)
        # The catalogue is an ordinary, always-consulted source (it is local and
        # instant): when DNS is filtered or down it is what still knows the provider.
        self._start_result_source(("catalogue", self.domain), Source.CATALOGUE, self._catalogue)
        if opts.offline:
            return self._wait_for_answer()
        # Probes first: they are the long pole, and each thread start waits for
        # the new thread to run, which costs more once DNS threads compete.
        with self._lock:
            for endpoint in guess.guesses(self.domain):
                self._add_endpoint(endpoint, Source.GUESS)
        if self._http is not None:
            self._start_result_source(
                ("autoconfig", self.domain), Source.AUTOCONFIG, self._provider_autoconfig
            )
            self._start_result_source(("ispdb", self.domain), Source.ISPDB, self._ispdb)
            if opts.autodiscover:
                self._start_result_source(
                    ("autodiscover", self.domain), Source.AUTODISCOVER, self._autodiscover
                )
            self._start_result_source(("dav", self.domain), Source.WELL_KNOWN, self._dav)
        for name, extra in self._extra_sources:
            self._start_result_source(
                (name, self.domain), Source.AUTODISCOVER, functools.partial(self._extra, extra)
            )
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
        return self._wait_for_answer()

    def _wait_for_answer(self) -> DiscoveryReport:
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

    @property
    def source_results(self) -> tuple[SourceResult, ...]:
        """What each configuration source said, in the order they finished: the facts
        ``advisor check`` replays each mail client's own rules over (after :meth:`run`)."""
        with self._lock:
            return tuple(self._results)

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

    def _start_result_source(
        self, label: tuple[str, str], source: Source, task: Callable[[], SourceResult]
    ) -> None:
        """A source returning a SourceResult; it may name servers until it ends."""
        with self._lock:
            self._pending_http[source] = self._pending_http.get(source, 0) + 1
        self._start_source(label, self._result_task, source, task)

    def _result_task(self, source: Source, task: Callable[[], SourceResult]) -> None:
        try:
            result = task()
        except Exception as exc:  # a bug in one source must not sink discovery
            step = Step(
                str(source),
                self.domain,
                StepStatus.ERROR,
                0.0,
                f"internal error: {type(exc).__name__}: {exc}",
            )
            result = SourceResult(source, (step,))
        with self._lock:
            self._results.append(result)
            self._steps.extend(result.steps)
            for position, named in enumerate(result.servers):
                probe = self._add_endpoint(named.endpoint, result.source)
                probe.positions.setdefault(result.source, position)
                probe.stated.setdefault(result.source, named)
            self._pending_http[source] -= 1
            if not self._pending_http[source]:
                del self._pending_http[source]
            self._lock.notify_all()
        for step in result.steps:
            self._notify(step)

    def _extra(self, source: ExtraSource) -> SourceResult:
        return source(self._deadline)

    def _local(self) -> SourceResult:
        from advisor.sources.autoconfig import local_config

        assert self.options.config_dir is not None
        return local_config(self.address, config_dir=self.options.config_dir)

    def _catalogue(self) -> SourceResult:
        from advisor.sources.autoconfig import catalogue_source

        return catalogue_source(self.address, mx_host=None)

    def _catalogue_by_mx(self, mx_host: str) -> SourceResult:
        from advisor.catalogue import Catalogue
        from advisor.sources.autoconfig import catalogue_source

        if Catalogue.load().by_domain(self.domain) is not None:
            return SourceResult(Source.CATALOGUE, ())  # already answered by domain
        result = catalogue_source(self.address, mx_host=mx_host)
        # Unknown by MX too: the by-domain step already said "not a known provider".
        return result if result.servers else SourceResult(Source.CATALOGUE, ())

    def _provider_autoconfig(self) -> SourceResult:
        from advisor.sources.autoconfig import provider_autoconfig

        assert self._http is not None
        return provider_autoconfig(
            self.address,
            http=self._http,
            deadline=self._deadline,
            send_address=self.options.send_address,
        )

    def _ispdb(self) -> SourceResult:
        from advisor.sources.autoconfig import ispdb

        assert self._http is not None
        return ispdb(
            self.address, http=self._http, deadline=self._deadline, base_url=self.options.ispdb_url
        )

    def _mx_derived(self, mx_host: str, dnssec: bool) -> SourceResult:
        from advisor.sources.autoconfig import mx_derived

        assert self._http is not None
        return mx_derived(
            self.address,
            mx_host,
            mx_dnssec=dnssec,
            http=self._http,
            deadline=self._deadline,
            base_url=self.options.ispdb_url,
        )

    def _dav(self) -> SourceResult:
        from advisor.sources import dav

        assert self._http is not None
        return dav.discover(self.domain, dns=self._dns, http=self._http, deadline=self._deadline)

    def _autodiscover(self) -> SourceResult:
        from advisor.sources.autodiscover import autodiscover

        assert self._http is not None
        # Autodiscover v2 sends the address to Microsoft: only when the cheap DNS
        # signals (MX, SPF, autodiscover CNAME; a few ms) point there, or if asked.
        ask = self.options.ask_microsoft
        if not ask:
            self._hints_done.wait(max(0.0, self._deadline - self._clock()))
            with self._lock:
                hints = dnshints.interpret(
                    self.domain,
                    self._dns_answers.get("MX"),
                    self._dns_answers.get("TXT"),
                    self._dns_answers.get("CNAME"),
                )
            ask = hints.provider is dnshints.MICROSOFT365
        return autodiscover(
            self.address,
            dns=self._dns,
            http=self._http,
            deadline=self._deadline,
            v2_url=self.options.autodiscover_v2_url,
            send_to_microsoft=ask,
        )

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
            for index, target in enumerate(lookup.targets):
                probe = self._add_endpoint(target.endpoint, Source.SRV)
                if probe.srv_priority is None or target.priority < probe.srv_priority:
                    probe.srv_priority = target.priority
                # Priority states the preference across services (RFC 6186 §3.4).
                probe.positions[Source.SRV] = min(
                    probe.positions.get(Source.SRV, 1 << 30), target.priority * 100 + index
                )
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
            if rdtype in ("MX", "TXT", "CNAME"):
                self._hints_pending -= 1
                if not self._hints_pending:
                    self._hints_done.set()
        source = "mx" if rdtype == "MX" else "dns"
        self._record(Step(source, f"{name} {rdtype}", status, answer.elapsed_ms, detail, answer.ad))
        if rdtype == "MX":
            hosts = dnshints.mx_hosts(answer)[0] if answer.found else ()
            if hosts:
                # A customer domain of a known platform (Microsoft 365's MX names).
                self._start_result_source(
                    ("catalogue", f"MX {hosts[0].host}"),
                    Source.CATALOGUE,
                    functools.partial(self._catalogue_by_mx, hosts[0].host),
                )
            if hosts and self._http is not None:
                top = hosts[0].host
                self._start_result_source(
                    ("mx", f"MX {top}"),
                    Source.MX,
                    functools.partial(self._mx_derived, top, answer.ad),
                )

    # --------------------------------------------------------------- probes

    def _add_endpoint(self, endpoint: Endpoint, source: Source) -> _Probe:
        """Called with the lock held. Starts a probe the first time an endpoint is named."""
        probe = self._probes.get(endpoint.key)
        if probe is None:
            probe = _Probe(endpoint, order=len(self._probes))
            self._probes[endpoint.key] = probe
            if not self._cancel.is_set() and not self.options.offline:
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
        connect_deadline = self._deadline
        if self.options.connect_timeout is not None:
            connect_deadline = min(connect_deadline, self._clock() + self.options.connect_timeout)
        outcome = connect(
            resolved.addresses, endpoint.port, deadline=connect_deadline, cancelled=self._cancel
        )
        if outcome.status is not ConnectStatus.CONNECTED or outcome.sock is None:
            status = {
                ConnectStatus.REFUSED: ProbeStatus.REFUSED,
                ConnectStatus.RESET: ProbeStatus.PROTOCOL_ERROR,
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
        """Smaller is better.

        Live verification (or the person's word: given servers) first and
        plaintext last; then the best source that named the server (given >
        local > autoconfig > ISPDB > MX > SRV > Autodiscover >
        guess > catalogue) and its own preference order; then Thunderbird's
        order for guesses: IMAP before POP3 (unless SRV priorities say
        otherwise), implicit TLS before STARTTLS (RFC 8314).
        """
        preferred = self._incoming_preference()
        best = min(probe.sources, key=lambda s: SOURCE_RANK.get(s, 99))
        return (
            # What the person gave comes first even if this network cannot reach it.
            0 if verified or best is Source.GIVEN else 1,
            1 if endpoint.security is Security.PLAIN else 0,
            SOURCE_RANK.get(best, 99),
            probe.positions.get(best, 0),
            0 if endpoint.protocol in (preferred, Protocol.SMTP) else 1,
            _SECURITY_RANK[endpoint.security],
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
        if self.options.offline:
            return not self._pending_sources, None  # nothing is probed offline
        # DNS lookups are quick and feed the report: always wait for them.
        if len(self._pending_sources) > sum(self._pending_http.values()):
            return False, None
        # Autodiscover brings the Exchange facts, which no probe can replace.
        if Source.AUTODISCOVER in self._pending_http:
            return False, None
        probes = list(self._probes.values())
        if self._wait_all:
            return not self._pending_http and all(p.done for p in probes), None
        for incoming in (True, False):
            group = [p for p in probes if p.endpoint.protocol.incoming is incoming]
            best: tuple[int, ...] | None = None
            for p in group:
                if p.result is not None:
                    for endpoint, verified in _offers(p.result):
                        key = self._rank(p, endpoint, verified)
                        if verified and (best is None or key < best):
                            best = key
            # A source still running could name a better-ranked server.
            for pending in self._pending_http:
                if best is None or (0, 0, SOURCE_RANK.get(pending, 99)) < best[:3]:
                    return False, None
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
                    "still waiting for an answer when the time budget ran out",
                )
            )
        incoming: list[tuple[tuple[int, ...], Candidate]] = []
        outgoing: list[tuple[tuple[int, ...], Candidate]] = []
        cut_off: set[tuple[str, str, int, str]] = set()  # probes the time budget stopped
        for p in self._probes.values():
            if p.result is None and not self.options.offline:
                step = self._unfinished_step(p, now, warnings)
                steps.append(step)
                if step.status is StepStatus.TIMEOUT:
                    cut_off.add(p.endpoint.key)
            named = p.sources - {Source.GUESS}
            offers = _offers(p.result) if p.result is not None else []
            if not offers and named:
                offers = [(p.endpoint, False)]
            for endpoint, verified in offers:
                bucket = incoming if endpoint.protocol.incoming else outgoing
                bucket.append(
                    (self._rank(p, endpoint, verified), self._candidate(p, endpoint, verified))
                )
        incoming.sort(key=lambda item: item[0])
        outgoing.sort(key=lambda item: item[0])
        inc = _dedupe([c for _, c in incoming])
        out = _dedupe([c for _, c in outgoing])
        results = sorted(self._results, key=lambda r: SOURCE_RANK.get(r.source, 99))
        for result in results:
            warnings.extend(result.warnings)
        health = self._dns_health()
        live = health is DnsHealth.OK
        warnings[:0] = self._warnings(inc, out, live=live)
        warnings.extend(self._disagreements(inc, out, results))
        hints = dnshints.interpret(
            self.domain,
            self._dns_answers.get("MX"),
            self._dns_answers.get("TXT"),
            self._dns_answers.get("CNAME"),
        )
        exchange = _merge_exchange(results, hints)
        provider = _merge_provider(results, hints, exchange)
        if self.options.offline:
            warnings.append(
                _(
                    "offline: only the built-in catalogue and the --config-dir folder were"
                    " consulted; nothing is verified"
                )
                if self.options.config_dir
                else _("offline: only the built-in catalogue was consulted; nothing is verified")
            )
        if not live and (inc or out) and not self.options.offline:
            warnings.append(
                _(
                    "nothing could be checked live: the servers listed come from {where}"
                    " and are unverified"
                ).format(where=_where_from([c for c in (*inc, *out) if not c.verified]))
            )
        warnings.extend(self._dns_warnings(hints, catalogue_knows=bool(inc or out)))
        home = self._home_domains(results, provider)
        warnings.extend(_off_domain_warnings(self.address.domain, inc, out, exchange, home))
        reach = self._reachability(health, inc, out, results, exchange, cut_off)
        if reach.unchecked and (inc or out):
            warnings.append(
                _(
                    "could not be checked from this network: {reasons}; the servers named by"
                    " the sources are kept, unverified"
                ).format(reasons=", ".join(unchecked_text(u) for u in reach.unchecked))
            )
        return DiscoveryReport(
            address=self.address.address,
            domain=self.address.domain,
            domain_ascii=self.domain,
            incoming=tuple(inc),
            outgoing=tuple(out),
            exchange=exchange,
            provider=provider,
            steps=tuple(steps),
            warnings=tuple(dict.fromkeys(warnings)),
            elapsed_ms=(now - self._started) * 1000,
            notes=facts.notes_for(
                provider.hosted_by if provider else None, exchange.hosted if exchange else None
            ),
            live=live,
            reach=reach,
            home_domains=home,
            webmail=_merge_webmail(results),
            dav=_merge_dav(results),
        )

    def _home_domains(
        self, results: list[SourceResult], provider: ProviderFacts | None
    ) -> tuple[str, ...]:
        """The address's, its MX hosts' and its known provider's registrable domains."""
        from advisor.offdomain import home_domains

        mx = self._dns_answers.get("MX")
        mx_hosts = [h.host for h in dnshints.mx_hosts(mx)[0]] if mx is not None and mx.found else []
        catalogue = [
            named.endpoint.hostname
            for r in results
            if r.source is Source.CATALOGUE
            for named in r.servers
        ]
        return home_domains(
            self.domain,
            mx_hosts=mx_hosts,
            hosted_by=provider.hosted_by if provider is not None else None,
            provider_hosts=catalogue,
        )

    def _reachability(
        self,
        health: DnsHealth,
        incoming: list[Candidate],
        outgoing: list[Candidate],
        results: list[SourceResult],
        exchange: ExchangeFacts | None,
        cut_off: set[tuple[str, str, int, str]],
    ) -> Reachability:
        """Verified, only named, absent or unknown: for each protocol and for Exchange.

        A protocol is absent only when nothing names it and discovery could see the
        provider: a configuration file of the provider lists other servers, or DNS is
        healthy, something was verified live, and no probe of that protocol was stopped
        by the network (dropped packets, time budget). Anything else is unknown.
        """
        candidates = incoming + outgoing
        listed = any(
            r.source in _LISTING_SOURCES and any(n.endpoint.protocol.incoming for n in r.servers)
            for r in results
        )
        seen = health is DnsHealth.OK
        verified_any = any(c.verified for c in candidates)

        def state(protocol: Protocol) -> Reach:
            named = [c for c in candidates if c.endpoint.protocol is protocol]
            if any(c.verified for c in named):
                return Reach.VERIFIED
            if named:
                return Reach.UNVERIFIED
            if seen and any(
                lookup.not_offered and lookup.protocol is protocol for lookup in self._srv
            ):
                return Reach.ABSENT  # RFC 6186 target ".": the domain says so
            if protocol is not Protocol.SMTP and listed:
                return Reach.ABSENT
            if seen and verified_any and not self._blocked(protocol, cut_off):
                return Reach.ABSENT
            return Reach.UNKNOWN

        has_exchange = exchange is not None and bool(
            exchange.ews_url or exchange.activesync_url or exchange.hosted == "microsoft365"
        )
        if has_exchange:
            exchange_state = Reach.VERIFIED if seen else Reach.UNVERIFIED
        elif seen and self._autodiscover_answered():
            exchange_state = Reach.ABSENT
        elif any(r.source is Source.CATALOGUE and r.servers for r in results):
            # A known public provider whose entry lists no Exchange endpoint.
            exchange_state = Reach.ABSENT
        else:
            exchange_state = Reach.UNKNOWN
        return Reachability(
            dns=health,
            imap=state(Protocol.IMAP),
            pop3=state(Protocol.POP3),
            smtp=state(Protocol.SMTP),
            exchange=exchange_state,
            unchecked=_unchecked(health, candidates, cut_off),
        )

    def _blocked(self, protocol: Protocol, cut_off: set[tuple[str, str, int, str]]) -> bool:
        """Did the network stop a probe of this protocol before it could tell?"""
        for p in self._probes.values():
            if p.endpoint.protocol is not protocol:
                continue
            if p.endpoint.key in cut_off:
                return True
            if p.result is not None and p.result.status in (
                ProbeStatus.FILTERED,
                ProbeStatus.TIMEOUT,
            ):
                return True
        return False

    def _autodiscover_answered(self) -> bool:
        """Autodiscover ran to its end and no request of it was cut off by the network."""
        if not self.options.autodiscover or self._http is None:
            return False
        if Source.AUTODISCOVER in self._pending_http:
            return False
        steps = [s for s in self._steps if s.source == str(Source.AUTODISCOVER)]
        return bool(steps) and not any(s.status is StepStatus.TIMEOUT for s in steps)

    def _candidate(self, p: _Probe, endpoint: Endpoint, verified: bool) -> Candidate:
        ordered = sorted(p.sources, key=lambda s: SOURCE_RANK.get(s, 99))
        if p.result is None or not p.result.spoke_protocol:
            # "guess" means found by guessing: a guessed name that did not answer
            # found nothing, even if another source names the same server.
            ordered = [s for s in ordered if s is not Source.GUESS] or ordered
        stated = [p.stated[s] for s in ordered if s in p.stated]
        username = next((n.username for n in stated if n.username), None)
        stated_auth = next((n.auth for n in stated if n.auth), ())
        leave = next((n.leave_on_server for n in stated if n.leave_on_server is not None), None)
        facts_ = p.result.facts if p.result is not None else None
        return Candidate(
            endpoint=endpoint,
            username=username or self.address.address_ascii,
            sources=tuple(ordered),
            verified=verified,
            auth=facts_.auth_mechanisms if facts_ is not None else (),
            probe=p.result,
            srv_priority=p.srv_priority,
            stated_auth=stated_auth,
            leave_on_server=leave,
        )

    def _dns_health(self) -> DnsHealth:
        """The resolver's view, from every DNS answer of this discovery, the TLD check included.

        Called once every DNS lookup has ended (the answer waits for them) or the budget
        ran out. Only ``OK`` lets anything be concluded from an absence: a domain that
        "does not exist" is believed only when the same resolver sees its top-level
        domain, so a TLD check that got no answer (a loaded resolver dropping packets)
        leaves the verdict ``UNKNOWN``, never a silent "usable".
        """
        if self.options.offline:
            return DnsHealth.OFFLINE
        tld = self._dns_answers.get("SOA")
        if tld is not None and tld.status is DnsStatus.NXDOMAIN:
            return DnsHealth.FILTERED
        answers = [lookup.answer for lookup in self._srv] + [
            a for rdtype, a in self._dns_answers.items() if rdtype != "SOA"
        ]
        if any(a.status in (DnsStatus.FOUND, DnsStatus.NODATA) for a in answers):
            return DnsHealth.OK  # it answers about the domain itself
        if not any(a.status is DnsStatus.NXDOMAIN for a in answers):
            return DnsHealth.DOWN
        if tld is not None and tld.status in (DnsStatus.FOUND, DnsStatus.NODATA):
            return DnsHealth.OK  # the domain really does not exist
        return DnsHealth.UNKNOWN

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
                _(
                    "{host} port {port} did not answer while other ports of the host did:"
                    " a firewall on this network may block it"
                ).format(host=p.endpoint.hostname, port=p.endpoint.port)
            )
            status = StepStatus.TIMEOUT
        elif self._clock() >= self._deadline:
            detail, status = f"still {p.state} when the time budget ran out", StepStatus.TIMEOUT
        else:
            detail = f"not needed: a better-ranked server answered first (was {p.state})"
            status = StepStatus.SKIPPED
        return Step("probe", _target(p.endpoint), status, elapsed, _named_by(p) + detail)

    def _warnings(
        self, incoming: list[Candidate], outgoing: list[Candidate], *, live: bool
    ) -> list[str]:
        out: list[str] = []
        for c in incoming + outgoing:
            result = c.probe
            where = f"{c.endpoint.protocol.name} {c.endpoint.hostname}:{c.endpoint.port}"
            if c.endpoint.security is Security.PLAIN:
                out.append(
                    _(
                        "{where} offers no encryption (no STARTTLS): a password sent there"
                        " crosses the network in clear text"
                    ).format(where=where)
                )
            elif result is not None and result.status is ProbeStatus.CERT_INVALID:
                out.append(f"{where}: {result.detail}")
            elif (
                live
                and result is not None
                and not result.spoke_protocol
                and Source.GUESS not in c.sources
            ):
                named = "/".join(s.value for s in c.sources)
                out.append(
                    _("{where} named by {named} did not answer: {detail}").format(
                        where=where, named=named, detail=result.detail
                    )
                )
        out.extend(self._srv_not_offered(incoming, outgoing))
        return out

    def _srv_not_offered(self, incoming: list[Candidate], outgoing: list[Candidate]) -> list[str]:
        """SRV says a service is not offered, yet a server answers it: both sides named."""
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
                    _(
                        "SRV {name} says this service is not offered, yet {server} answers it"
                    ).format(name=lookup.query_name, server=offered.endpoint)
                )
        return out

    def _disagreements(
        self,
        incoming: list[Candidate],
        outgoing: list[Candidate],
        results: list[SourceResult],
    ) -> list[str]:
        """Every source whose first choice is not the chosen server, naming both sides."""
        out: list[str] = []
        firsts: dict[tuple[Source, bool], Endpoint] = {}
        for result in results:
            for named in result.servers:
                key = (result.source, named.endpoint.protocol.incoming)
                firsts.setdefault(key, named.endpoint)
        for lookup in sorted(self._srv, key=lambda item: item.best_priority or 0):
            for target in lookup.targets[:1]:
                firsts.setdefault((Source.SRV, lookup.protocol.incoming), target.endpoint)
        for candidates, incoming_side in ((incoming, True), (outgoing, False)):
            chosen = candidates[0] if candidates else None
            if chosen is None:
                continue
            why = _("verified live") if chosen.verified else _("best-ranked, not verified")
            by = "/".join(s.value for s in chosen.sources)
            for (source, side), first in sorted(
                firsts.items(), key=lambda item: SOURCE_RANK.get(item[0][0], 99)
            ):
                if side is not incoming_side or first.key == chosen.endpoint.key:
                    continue
                if source in chosen.sources and source is not Source.SRV:
                    continue  # the source named the chosen server too, just not first
                out.append(
                    _("{source} names {first}, but {chosen} was chosen ({by}, {why})").format(
                        source=source.value, first=first, chosen=chosen.endpoint, by=by, why=why
                    )
                )
        return out

    def _dns_warnings(self, hints: dnshints.Hints, *, catalogue_knows: bool) -> list[str]:
        out: list[str] = []
        answers = [lookup.answer for lookup in self._srv] + list(self._dns_answers.values())
        mx = self._dns_answers.get("MX")
        answered = any(a.status not in (DnsStatus.TIMEOUT, DnsStatus.ERROR) for a in answers)
        if not answered and (answers or self._pending_sources):
            out.append(
                _(
                    "the DNS server ({server}) answered no query: results are incomplete;"
                    " check the network or use --dns"
                ).format(server=self._dns.describe())
            )
        elif (
            mx is not None
            and mx.status is DnsStatus.NXDOMAIN
            and (tld := self._dns_answers.get("SOA")) is not None
            and tld.status is DnsStatus.NXDOMAIN
        ):
            filtered = _(
                "the DNS server ({server}) says even the top-level domain {tld} does not exist:"
                " its view looks filtered or offline, so nothing can be concluded about {domain}"
            ).format(
                server=self._dns.describe(),
                tld=repr(tld.name.rstrip(".")),
                domain=self.address.domain,
            )
            if catalogue_knows:
                filtered += _("; the built-in catalogue answers instead (unverified)")
            out.append(filtered)
        elif (
            mx is not None
            and mx.status is DnsStatus.NXDOMAIN
            and self._dns_health() is not (DnsHealth.OK)
        ):
            out.append(
                _(
                    "the DNS server ({server}) says {domain} does not exist, but whether it sees"
                    " the Internet could not be checked (no answer about the top-level domain):"
                    " nothing is concluded from it"
                ).format(server=self._dns.describe(), domain=self.address.domain)
            )
        elif mx is not None and mx.status is DnsStatus.NXDOMAIN:
            out.append(
                _("{domain} does not exist according to the DNS server ({server})").format(
                    domain=self.address.domain, server=self._dns.describe()
                )
            )
        elif hints.null_mx:
            out.append(
                _("{domain} publishes a null MX: it accepts no mail (RFC 7505)").format(
                    domain=self.address.domain
                )
            )
        elif mx is not None and mx.status is DnsStatus.NODATA:
            out.append(
                _("{domain} has no MX record: mail to it may not arrive").format(
                    domain=self.address.domain
                )
            )
        return out


# ------------------------------------------------------------------ helpers


def _unchecked(
    health: DnsHealth, candidates: list[Candidate], cut_off: set[tuple[str, str, int, str]]
) -> tuple[Unchecked, ...]:
    """Why servers the sources name could not be checked from this network."""
    reasons: set[Unchecked] = set()
    if health is DnsHealth.OFFLINE:
        reasons.add(Unchecked.OFFLINE)
    elif health is not DnsHealth.OK:
        reasons.add(Unchecked.DNS)
    for c in candidates:
        if c.verified or (c.sources and set(c.sources) <= {Source.GUESS}):
            continue
        reason = _UNCHECKED.get(c.probe.status) if c.probe is not None else None
        if c.probe is None and c.endpoint.key in cut_off:
            reason = Unchecked.TIMEOUT
        if reason is not None:
            reasons.add(reason)
    return tuple(u for u in Unchecked if u in reasons)


def _off_domain_warnings(
    domain: str,
    incoming: list[Candidate],
    outgoing: list[Candidate],
    exchange: ExchangeFacts | None,
    home: tuple[str, ...],
) -> list[str]:
    """A warning for each server a client would be set up with outside ``home``."""
    from advisor.offdomain import off_domain

    chosen: list[tuple[str, str]] = []  # (host or URL, who named it)
    for protocol in (Protocol.IMAP, Protocol.POP3, Protocol.SMTP):
        first = next((c for c in incoming + outgoing if c.endpoint.protocol is protocol), None)
        if first is not None and Source.GIVEN not in first.sources:  # typed: vouched for
            chosen.append((first.endpoint.hostname, "/".join(s.value for s in first.sources)))
    if exchange is not None:
        for url in (exchange.ews_url, exchange.activesync_url, exchange.autodiscover_url):
            if url:
                chosen.append((url, "autodiscover"))
    out = []
    for hop in off_domain([item for item, _by in chosen], home):
        named = next(by for item, by in chosen if hop.host in item.lower())
        out.append(
            _(
                "{host} (named by {named}) is in another domain: a password set up there would"
                " go to {other}, which is neither {domain}'s, its MX's nor its known mail"
                " provider's; use it only if the provider says so"
            ).format(host=hop.host, named=named, other=hop.domain, domain=domain)
        )
    return out


# How a warning names where unverified servers were found, in source order.
def _from_texts() -> dict[Source, str]:
    return {
        Source.GIVEN: _("the servers you gave"),
        Source.LOCAL: _("the --config-dir folder"),
        Source.CATALOGUE: _("the built-in catalogue"),
    }


def _where_from(candidates: Sequence[Candidate]) -> str:
    """Where the candidates came from, e.g. "the --config-dir folder and the built-in catalogue"."""
    found = {s for c in candidates for s in c.sources}
    texts = _from_texts()
    names = [text for source, text in texts.items() if source in found]
    others = found - set(texts)
    if others:
        names.append(
            _("other sources ({names})").format(names=", ".join(sorted(str(s) for s in others)))
        )
    return _(" and ").join(names) or _("the built-in catalogue")


def _merge_exchange(results: list[SourceResult], hints: dnshints.Hints) -> ExchangeFacts | None:
    """First value of each field in source rank order; auth schemes from all."""
    found = [r.exchange for r in results if r.exchange is not None]
    hosted_hint = "microsoft365" if hints.provider is dnshints.MICROSOFT365 else None
    if not found and hosted_hint is None:
        return None

    def first(name: str) -> str | None:
        return next((getattr(e, name) for e in found if getattr(e, name)), None)

    auth = tuple(sorted({a for e in found for a in e.auth}))
    return ExchangeFacts(
        ews_url=first("ews_url"),
        activesync_url=first("activesync_url"),
        autodiscover_url=first("autodiscover_url"),
        auth=auth,
        hosted=first("hosted") or hosted_hint,
    )


def _merge_dav(results: list[SourceResult]) -> DavFacts:
    """Every source's CalDAV/CardDAV URLs in source rank order; one entry per URL."""

    def merged(kind: str) -> tuple[DavEndpoint, ...]:
        by_url: dict[str, DavEndpoint] = {}
        for r in results:
            for e in getattr(r.dav, kind) if r.dav is not None else ():
                known = by_url.get(e.url)
                if known is None:
                    by_url[e.url] = e
                else:
                    by_url[e.url] = DavEndpoint(
                        e.url,
                        tuple(dict.fromkeys((*known.sources, *e.sources))),
                        known.verified or e.verified,
                        known.detail if known.verified or not e.verified else e.detail,
                    )
        # Verified first, then the sources' order.
        return tuple(sorted(by_url.values(), key=lambda e: not e.verified))

    return DavFacts(merged("caldav"), merged("carddav"))


def _merge_webmail(results: list[SourceResult]) -> WebmailFacts | None:
    """The best-ranked source's webmail page, with every source that names the same one."""
    url = next((r.webmail for r in results if r.webmail), None)
    if url is None:
        return None
    sources = tuple(dict.fromkeys(r.source for r in results if r.webmail == url))
    return WebmailFacts(url, sources)


def _merge_provider(
    results: list[SourceResult], hints: dnshints.Hints, exchange: ExchangeFacts | None
) -> ProviderFacts | None:
    """Name from the best configuration source, hosting from DNS signals."""
    named = next((r.provider for r in results if r.provider is not None), None)
    hosted_by = hints.provider.hosted_by if hints.provider is not None else None
    if hosted_by is None:
        hosted_by = next(
            (r.provider.hosted_by for r in results if r.provider and r.provider.hosted_by), None
        )
    if hosted_by is None and exchange is not None and exchange.hosted == "microsoft365":
        hosted_by = "microsoft365"
    if named is None and hints.provider is None:
        return None
    base = named or hints.provider
    assert base is not None
    oauth = any(r.oauth2_required for r in results) or facts.requires_oauth2(
        hosted_by, exchange.hosted if exchange else None
    )
    if (
        hints.provider is not None
        and named is not None
        and hints.provider.id
        in (
            "microsoft365",
            "google",
        )
    ):
        base = hints.provider  # the cheap signals name the platform better than a config id
    return ProviderFacts(base.id, base.name, hosted_by or base.hosted_by, oauth)


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
