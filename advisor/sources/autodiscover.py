"""Microsoft's ways to find a mailbox: Autodiscover POX, Autodiscover v2, EWS and ActiveSync.

POX (MS-OXDSCLI, MS-OXDISCO §3.1.5): the request goes, concurrently, to the
four places Outlook tries, and Outlook's order decides which answer wins:

1. ``POST https://D/autodiscover/autodiscover.xml``
2. ``POST https://autodiscover.D/autodiscover/autodiscover.xml``
3. ``GET http://autodiscover.D/autodiscover/autodiscover.xml`` (unauthenticated),
   expecting a redirect to an https URL, which is then POSTed to;
4. SRV ``_autodiscover._tcp.D``, lowest priority first, then POST to
   ``https://target:port/autodiscover/autodiscover.xml``.

Once a candidate has an answer and every better-ranked one has failed, the
rest are cancelled. An answer may redirect: ``redirectUrl`` is POSTed to (in
the same chain), ``redirectAddr`` restarts the four candidates with the new
address. Safety rules (the 2021 "Autodiscover leak" and MS-OXDSCLI):

* HTTPS only, except the one redirect GET; a redirect to plain HTTP is refused.
* At most :data:`~advisor.net.http.MAX_HOPS` requests per chain (HTTP redirects
  and redirectUrl together), no URL twice, the certificate checked on every hop.
* Never above the user's domain: labels are never stripped from D, and no
  request goes to a public suffix or to ``autodiscover.<public suffix>``
  (which strangers can register), whoever names it.
* No credentials are ever sent: a 401 only proves that the endpoint exists,
  and its ``WWW-Authenticate`` challenges tell how it wants a login
  (``Bearer`` = modern auth, as Microsoft 365; ``Negotiate``/``NTLM`` =
  Windows logins, typical on-premises; ``Basic``).
* An answer reached through the plain-HTTP redirect, or through an SRV record
  without DNSSEC, is untrusted (anyone on the path could have chosen the
  server); so is one whose chain had a non-HTTPS hop. Settings sent over plain
  HTTP are ignored outright.

Autodiscover v2 (anonymous JSON) is asked at Microsoft's endpoint; this sends
the address to Microsoft, hence ``send_to_microsoft``. Microsoft's endpoint
may answer with its own servers whatever the domain, so a "Microsoft 365"
there counts only when the domain's own Autodiscover agrees (a chain that
ends at Microsoft, or a ``Bearer`` challenge); a redirect to another
organisation's server is a hybrid deployment with the mailbox on-premises.

Finally EWS (``/EWS/Exchange.asmx``) and ActiveSync
(``OPTIONS /Microsoft-Server-ActiveSync``) are probed, unauthenticated, on the
URLs Autodiscover named, else on ``D``, ``autodiscover.D`` and ``mail.D``.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit

from advisor.address import EmailAddress, parse_address
from advisor.errors import AddressError
from advisor.formats.autodiscover import (
    CONTENT_TYPE,
    AutodiscoverError,
    AutodiscoverProtocol,
    AutodiscoverResponse,
    parse_response,
    request_body,
)
from advisor.models import (
    DavEndpoint,
    DavFacts,
    ExchangeFacts,
    Protocol,
    Source,
    Step,
    StepStatus,
)
from advisor.net.http import MAX_HOPS, FetchStatus
from advisor.net.resolver import DnsStatus
from advisor.sources import NamedServer, SourceResult
from advisor.sources.autoconfig import webmail_url
from advisor.sources.dnshints import registrable_domain
from advisor.sources.srv import rfc2782_order

if TYPE_CHECKING:
    from advisor.net.http import HttpClient, HttpResult
    from advisor.net.resolver import DnsClient

DEFAULT_V2_URL = "https://outlook.office365.com/autodiscover/autodiscover.json"
# One request's limit. Outlook waits much longer (a person watches a spinner);
# a healthy Autodiscover or EWS endpoint answers in well under a second, and
# the discovery budget (10 s by default) must leave room for the probes after it.
REQUEST_TIMEOUT = 5.0
# redirectAddr restarts: Thunderbird stops after two, and an on-premises ->
# tenant move needs one. Each restart may again use MAX_HOPS requests per chain.
MAX_ADDRESS_REDIRECTS = 2
# SRV targets tried in turn (lowest priority first) before giving up on SRV.
MAX_SRV_TARGETS = 3
# After a better-ranked answer, how long the cancelled candidates get to report
# before they are abandoned (a DNS lookup in flight cannot be interrupted).
CANCEL_GRACE = 0.25
# Extra time to wait for a worker after the deadline: every request and DNS
# query ends at the deadline, so this only covers thread scheduling.
JOIN_GRACE = 1.0

STEP_SOURCE = "autodiscover"
POX_PATH = "/autodiscover/autodiscover.xml"
EWS_PATH = "/EWS/Exchange.asmx"
ACTIVESYNC_PATH = "/Microsoft-Server-ActiveSync"
# Registrable domains of Microsoft's own servers (besides the v2 endpoint's own).
MICROSOFT_DOMAINS = frozenset(
    {"outlook.com", "office365.com", "office.com", "microsoft.com", "microsoftonline.com"}
)
_CHALLENGE_NAMES = {"bearer": "Bearer", "negotiate": "Negotiate", "ntlm": "NTLM", "basic": "Basic"}
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?=\s|,|$)")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Outcomes that say a host cannot be reached at all: no point probing it again.
_DEAD_HOST = frozenset(
    {
        FetchStatus.DNS_ERROR,
        FetchStatus.CONNECT_ERROR,
        FetchStatus.TIMEOUT,
        FetchStatus.TLS_ERROR,
        FetchStatus.CERT_INVALID,
    }
)
_FAILED_STEP = {
    FetchStatus.DNS_ERROR: StepStatus.NOT_FOUND,
    FetchStatus.CONNECT_ERROR: StepStatus.NOT_FOUND,
    FetchStatus.TIMEOUT: StepStatus.TIMEOUT,
    FetchStatus.CANCELLED: StepStatus.SKIPPED,
}
_random = random.Random()


def autodiscover(
    address: EmailAddress,
    *,
    dns: DnsClient,
    http: HttpClient,
    deadline: float,
    v2_url: str = DEFAULT_V2_URL,
    send_to_microsoft: bool = True,
) -> SourceResult:
    """Everything Microsoft's discovery protocols say about ``address``; never raises
    for network outcomes (they are steps)."""
    return _Autodiscover(
        address,
        dns=dns,
        http=http,
        deadline=deadline,
        v2_url=v2_url,
        send_to_microsoft=send_to_microsoft,
    ).run()


# ------------------------------------------------------------------ bookkeeping


@dataclass
class _Log:
    """What one worker learned; merged into the run only if the worker was not abandoned."""

    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    schemes: list[str] = field(default_factory=list)  # WWW-Authenticate schemes seen
    endpoints: list[str] = field(default_factory=list)  # POX URLs proven to exist (401, Error)
    dead: dict[str, str] = field(default_factory=dict)  # host -> why it cannot be reached
    pox_bearer: bool = False  # a POX chain met a Bearer challenge
    pox_microsoft: bool = False  # a POX chain from the user's domain reached Microsoft

    def merge(self, other: _Log) -> None:
        self.steps += other.steps
        self.warnings += [w for w in other.warnings if w not in self.warnings]
        self.schemes += [s for s in other.schemes if s not in self.schemes]
        self.endpoints += [e for e in other.endpoints if e not in self.endpoints]
        for host, why in other.dead.items():
            self.dead.setdefault(host, why)
        self.pox_bearer |= other.pox_bearer
        self.pox_microsoft |= other.pox_microsoft


@dataclass(frozen=True)
class _Answer:
    """A POX document that settles a round (settings or redirectAddr), or, once the
    redirectAddr chain is followed, the whole question (trust of the whole chain)."""

    response: AutodiscoverResponse
    url: str  # where it came from
    trusted: bool


@dataclass(frozen=True)
class _V2:
    protocol: str  # "EWS" | "ActiveSync"
    url: str | None  # what Microsoft's service named
    hosted: str | None  # "microsoft365" | "on-premises" | None


@dataclass(frozen=True)
class _Probe:
    kind: str  # "EWS" | "ActiveSync"
    url: str
    exists: bool
    answered: bool  # an HTTP answer came (if not exists: a definite "not here")
    named: bool  # named by Autodiscover (POX or v2), not a default guess


@dataclass
class _Worker:
    target: str  # the step target reported if the worker is abandoned
    task: Callable[[_Log], object]
    log: _Log = field(default_factory=_Log)
    value: object = None
    done: bool = False
    thread: threading.Thread | None = None


class _Autodiscover:
    def __init__(
        self,
        address: EmailAddress,
        *,
        dns: DnsClient,
        http: HttpClient,
        deadline: float,
        v2_url: str,
        send_to_microsoft: bool,
    ) -> None:
        self.address = address
        self.dns = dns
        self.http = http
        self.deadline = deadline
        self.v2_url = v2_url
        self.send_to_microsoft = send_to_microsoft
        self.log = _Log()
        self.v2_domain = registrable_domain(urlsplit(v2_url).hostname or "")

    # ------------------------------------------------------------------ run

    def run(self) -> SourceResult:
        v2_workers: list[_Worker] = []
        for protocol in ("EWS", "ActiveSync"):
            url = self._v2_request_url(protocol)
            if self.send_to_microsoft:
                v2_workers.append(_Worker(f"GET {url}", partial(self._v2, protocol)))
            else:
                self.log.steps.append(
                    _step(
                        f"GET {url}",
                        StepStatus.SKIPPED,
                        0.0,
                        "not asked: it would send the address to Microsoft",
                    )
                )
        self._start(v2_workers)
        final = self._pox()
        self._finish(v2_workers)
        v2 = [w.value for w in v2_workers if isinstance(w.value, _V2)]
        probes = self._probe_endpoints(final, v2)
        return self._result(final, v2, probes)

    # ------------------------------------------------------------------ workers

    def _start(
        self, workers: Sequence[_Worker], on_done: threading.Condition | None = None
    ) -> None:
        for worker in workers:

            def body(w: _Worker = worker) -> None:
                try:
                    w.value = w.task(w.log)
                except Exception as exc:  # a bug in one request must not sink the source
                    w.log.steps.append(
                        _step(
                            w.target,
                            StepStatus.ERROR,
                            0.0,
                            f"internal error: {type(exc).__name__}: {exc}",
                        )
                    )
                finally:
                    if on_done is not None:
                        with on_done:
                            w.done = True
                            on_done.notify_all()
                    else:
                        w.done = True

            worker.thread = threading.Thread(target=body, name="autodiscover", daemon=True)
            worker.thread.start()

    def _finish(self, workers: Sequence[_Worker], *, grace: float | None = None) -> None:
        """Join the workers (up to the deadline, or ``grace`` once they are cancelled)
        and merge their logs in order; an abandoned one leaves one step saying so."""
        for worker in workers:
            assert worker.thread is not None
            wait = grace if grace is not None else self.deadline - time.monotonic() + JOIN_GRACE
            worker.thread.join(max(0.0, wait))
            if worker.done:
                self.log.merge(worker.log)
            else:  # whatever it records from now on is never merged
                status = StepStatus.SKIPPED if grace is not None else StepStatus.TIMEOUT
                detail = (
                    "abandoned: a better-ranked answer came first"
                    if grace is not None
                    else "no answer within the time budget"
                )
                self.log.steps.append(_step(worker.target, status, 0.0, detail))

    # ------------------------------------------------------------------ POX

    def _pox(self) -> _Answer | None:
        email = self.address
        seen = {email.address_ascii.lower()}
        trusted = True
        for round_no in range(1, MAX_ADDRESS_REDIRECTS + 2):
            answer = self._pox_round(email, round_no)
            if answer is None:
                return None
            trusted = trusted and answer.trusted
            response = answer.response
            if response.action != "redirectAddr":
                return _Answer(response, answer.url, trusted)
            target = response.redirect or ""
            if round_no > MAX_ADDRESS_REDIRECTS:
                self.log.warnings.append(
                    f"Autodiscover redirected the address more than {MAX_ADDRESS_REDIRECTS}"
                    f" times (last to {target}): stopped"
                )
                return None
            try:
                email = parse_address(target)
            except AddressError as exc:
                self.log.warnings.append(f"Autodiscover redirectAddr to an unusable address: {exc}")
                return None
            if email.address_ascii.lower() in seen:
                self.log.warnings.append(
                    f"Autodiscover redirectAddr loop: {target} was already asked; stopped"
                )
                return None
            seen.add(email.address_ascii.lower())
        return None

    def _pox_round(self, email: EmailAddress, round_no: int) -> _Answer | None:
        """The four candidates for one address, raced; Outlook's order picks the winner."""
        domain = email.domain_ascii
        refused = _refuse_domain(domain)
        if refused is not None:
            self.log.warnings.append(f"Autodiscover not tried for {domain}: {refused}")
            self.log.steps.append(
                _step(f"POX {domain}", StepStatus.SKIPPED, 0.0, f"not tried: {refused}")
            )
            return None
        body = request_body(email.address_ascii)
        cancel = threading.Event()
        first = f"https://{domain}{POX_PATH}"
        second = f"https://autodiscover.{domain}{POX_PATH}"
        plain = f"http://autodiscover.{domain}{POX_PATH}"
        srv_name = f"_autodiscover._tcp.{domain}"
        workers = [
            _Worker(f"POST {first}", partial(self._chain, first, body, round_no, True, cancel)),
            _Worker(f"POST {second}", partial(self._chain, second, body, round_no, True, cancel)),
            _Worker(f"GET {plain}", partial(self._redirect_get, plain, body, round_no, cancel)),
            _Worker(f"SRV {srv_name}", partial(self._srv, domain, body, round_no, cancel)),
        ]
        done = threading.Condition()
        self._start(workers, done)
        winner: _Answer | None = None
        with done:
            while True:
                decided = True
                for worker in workers:
                    if not worker.done:
                        decided = False
                        break
                    if isinstance(worker.value, _Answer):
                        winner = worker.value
                        break
                left = self.deadline - time.monotonic()
                if decided or left <= 0:
                    break
                done.wait(left)
        if decided:  # at the deadline every request ends by itself, as a timeout
            cancel.set()
        self._finish(workers, grace=CANCEL_GRACE if winner is not None else None)
        if winner is None:  # the deadline came: the best answer that did arrive
            winner = next((w.value for w in workers if isinstance(w.value, _Answer)), None)
        return winner

    def _chain(
        self,
        url: str,
        body: bytes,
        round_no: int,
        trusted: bool,
        cancel: threading.Event,
        log: _Log,
        *,
        hops_left: int | None = None,
    ) -> _Answer | None:
        """POST to ``url``, following HTTP redirects and redirectUrl answers, HTTPS only."""
        budget = MAX_HOPS if hops_left is None else hops_left
        seen: set[str] = set()
        while True:
            seen.add(url)
            target = f"POST {url}"
            result = self.http.request(
                "POST",
                url,
                deadline=self.deadline,
                timeout=REQUEST_TIMEOUT,
                headers={"Content-Type": CONTENT_TYPE},
                content=body,
                keep_method=True,  # MS-OXDSCLI: the request is re-sent to the new location
                redirect_check=self._check_redirect,
                max_hops=budget,
                cancel=cancel,
            )
            budget -= len(result.hops)
            seen.update(hop.url for hop in result.hops)
            chain_trusted = trusted and result.trusted
            via = _via(result)
            if self._failed(result, target, log, chain_trusted):
                return None
            if self._is_microsoft_url(result.url) and not self._is_microsoft_url(url):
                log.pox_microsoft = True
            status = result.http_status
            if status == 401:
                schemes = _challenges(result.headers_named("www-authenticate"))
                log.schemes += [s for s in schemes if s not in log.schemes]
                log.pox_bearer |= "Bearer" in schemes
                if self._is_microsoft_url(result.url):
                    log.pox_microsoft = True
                log.endpoints.append(result.url)
                log.steps.append(
                    _step(target, StepStatus.FOUND, result.elapsed_ms, _login_detail(schemes) + via)
                )
                return None
            if status != 200:
                log.steps.append(
                    _step(target, StepStatus.NOT_FOUND, result.elapsed_ms, f"HTTP {status}{via}")
                )
                return None
            try:
                response = parse_response(result.body)
            except AutodiscoverError as exc:
                log.steps.append(_step(target, StepStatus.ERROR, result.elapsed_ms, f"{exc}{via}"))
                return None
            if response.error is not None:
                code, message = response.error
                log.endpoints.append(result.url)
                log.steps.append(
                    _step(
                        target,
                        StepStatus.NOT_FOUND if code in ("500", "501") else StepStatus.ERROR,
                        result.elapsed_ms,
                        f"Autodiscover error {code}: {message}{via}",
                        chain_trusted,
                    )
                )
                return None
            if response.action == "settings":
                log.steps.append(
                    _step(
                        target,
                        StepStatus.FOUND,
                        result.elapsed_ms,
                        f"settings: {_summary(response)}{via}",
                        chain_trusted,
                    )
                )
                return _Answer(response, result.url, chain_trusted)
            if response.action == "redirectAddr" and response.redirect:
                log.steps.append(
                    _step(
                        target,
                        StepStatus.FOUND,
                        result.elapsed_ms,
                        f"redirectAddr to {response.redirect} (hop {round_no + 1}){via}",
                        chain_trusted,
                    )
                )
                return _Answer(response, result.url, chain_trusted)
            if response.action == "redirectUrl" and response.redirect:
                following = urljoin(result.url, response.redirect)
                refusal = self._refuse_url(following)
                if refusal is None and following in seen:
                    refusal = f"redirectUrl loop: {following} was already asked"
                if refusal is None and budget <= 0:
                    refusal = f"more than {MAX_HOPS} hops: stopped"
                hop = MAX_HOPS - budget + 1
                if refusal is not None:
                    log.warnings.append(f"Autodiscover at {result.url}: {refusal}")
                    log.steps.append(
                        _step(
                            target,
                            StepStatus.ERROR,
                            result.elapsed_ms,
                            f"redirectUrl to {following} refused: {refusal}",
                            chain_trusted,
                        )
                    )
                    return None
                log.steps.append(
                    _step(
                        target,
                        StepStatus.FOUND,
                        result.elapsed_ms,
                        f"redirectUrl to {following} (hop {hop}){via}",
                        chain_trusted,
                    )
                )
                url, trusted = following, chain_trusted
                continue
            log.steps.append(
                _step(
                    target,
                    StepStatus.ERROR,
                    result.elapsed_ms,
                    "Autodiscover answer without settings or a usable redirect"
                    + (f" ({response.ignored[0]})" if response.ignored else ""),
                )
            )
            return None

    def _redirect_get(
        self, url: str, body: bytes, round_no: int, cancel: threading.Event, log: _Log
    ) -> _Answer | None:
        """MS-OXDISCO §3.1.5.4: an unauthenticated GET that should answer with a redirect."""
        target = f"GET {url}"
        result = self.http.request(
            "GET",
            url,
            deadline=self.deadline,
            timeout=REQUEST_TIMEOUT,
            follow_redirects=False,
            cancel=cancel,
        )
        if self._failed(result, target, log, False):
            return None
        status = result.http_status
        location = result.header("location")
        if status in _REDIRECTS and location:
            following = urljoin(url, location.strip())
            refusal = self._refuse_url(following)
            if refusal is not None:
                log.warnings.append(f"{url} redirects to {following}: {refusal}")
                log.steps.append(
                    _step(
                        target,
                        StepStatus.ERROR,
                        result.elapsed_ms,
                        f"{status} to {following}: {refusal}",
                    )
                )
                return None
            host = urlsplit(following).hostname or ""
            if not self._same_organisation(host, url):
                log.warnings.append(
                    f"{url} redirects, over plain HTTP, to another domain ({host}): followed"
                    " without credentials; what it answers is not trusted"
                )
            log.steps.append(
                _step(target, StepStatus.FOUND, result.elapsed_ms, f"{status} to {following}")
            )
            # The redirect came over plain HTTP: nothing it leads to is trusted.
            # The GET was the chain's first hop (MS-OXDSCLI: 10 redirects in all).
            return self._chain(
                following, body, round_no, False, cancel, log, hops_left=MAX_HOPS - 1
            )
        detail = f"HTTP {status}, no redirect"
        if status == 200:
            try:
                response = parse_response(result.body)
            except AutodiscoverError as exc:
                detail = f"HTTP 200, no redirect ({exc})"
            else:
                if response.action is not None:
                    plain_host = urlsplit(url).hostname
                    log.warnings.append(
                        f"{plain_host} answered over plain HTTP with settings: ignored"
                    )
                    log.steps.append(
                        _step(
                            target,
                            StepStatus.ERROR,
                            result.elapsed_ms,
                            "Autodiscover over plain HTTP: ignored (anyone on the path can"
                            " rewrite it)",
                        )
                    )
                    return None
        log.steps.append(_step(target, StepStatus.NOT_FOUND, result.elapsed_ms, detail))
        return None

    def _srv(
        self, domain: str, body: bytes, round_no: int, cancel: threading.Event, log: _Log
    ) -> _Answer | None:
        name = f"_autodiscover._tcp.{domain}"
        answer = self.dns.query(name, "SRV", deadline=self.deadline)
        target = f"SRV {name}"
        if not answer.found:
            status = {
                DnsStatus.NXDOMAIN: StepStatus.NOT_FOUND,
                DnsStatus.NODATA: StepStatus.NOT_FOUND,
                DnsStatus.TIMEOUT: StepStatus.TIMEOUT,
            }.get(answer.status, StepStatus.ERROR)
            log.steps.append(_step(target, status, answer.elapsed_ms, answer.detail, answer.ad))
            return None
        records = rfc2782_order(
            [
                (
                    int(r.priority),
                    int(r.weight),
                    int(r.port),
                    r.target.to_text(omit_final_dot=True).lower(),
                )
                for r in answer.records
            ],
            _random,
        )
        usable = [r for r in records if r[3] not in ("", ".")]
        if not usable:
            log.steps.append(
                _step(target, StepStatus.NOT_FOUND, answer.elapsed_ms, "not offered (target '.')")
            )
            return None
        log.steps.append(
            _step(
                target,
                StepStatus.FOUND,
                answer.elapsed_ms,
                ", ".join(f"{r[3]}:{r[2]} (priority {r[0]}, weight {r[1]})" for r in usable),
                answer.ad,
            )
        )
        for _priority, _weight, port, host in usable[:MAX_SRV_TARGETS]:
            url = f"https://{host}{'' if port == 443 else f':{port}'}{POX_PATH}"
            refusal = self._refuse_url(url)
            if refusal is not None:
                log.warnings.append(f"SRV {name} names {host}: {refusal}")
                log.steps.append(_step(f"POST {url}", StepStatus.SKIPPED, 0.0, refusal))
                continue
            if not self._same_organisation(host, f"https://{domain}/") and not answer.ad:
                log.warnings.append(
                    f"SRV {name} points to another domain ({host}) without DNSSEC: followed"
                    " without credentials; what it answers is not trusted"
                )
            found = self._chain(url, body, round_no, answer.ad, cancel, log)
            if found is not None or cancel.is_set():
                return found
        return None

    # ------------------------------------------------------------------ v2 JSON

    def _v2_request_url(self, protocol: str) -> str:
        email = quote(self.address.address_ascii, safe="@")
        joiner = "&" if "?" in self.v2_url else "?"
        return f"{self.v2_url}{joiner}Email={email}&Protocol={protocol}"

    def _v2(self, protocol: str, log: _Log) -> _V2 | None:
        url = self._v2_request_url(protocol)
        target = f"GET {url}"
        result = self.http.request(
            "GET",
            url,
            deadline=self.deadline,
            timeout=REQUEST_TIMEOUT,
            headers={"Accept": "application/json"},
            redirect_check=self._check_redirect,
        )
        if self._failed(result, target, log, result.trusted):
            return None
        # A redirect out of Microsoft: the domain's hybrid server keeps this mailbox.
        foreign = next((h.url for h in result.hops[1:] if not self._is_microsoft_url(h.url)), None)
        if result.http_status != 200:
            detail = f"HTTP {result.http_status}"
            if foreign is not None:
                detail += f" from {foreign} (redirected there: hybrid, mailbox on-premises)"
                log.steps.append(_step(target, StepStatus.FOUND, result.elapsed_ms, detail))
                return _V2(protocol, None, "on-premises")
            log.steps.append(_step(target, StepStatus.NOT_FOUND, result.elapsed_ms, detail))
            return None
        try:
            document = json.loads(result.body)
        except (ValueError, UnicodeDecodeError):
            document = None
        named = document.get("Url") if isinstance(document, dict) else None
        if not isinstance(named, str) or urlsplit(named).scheme != "https":
            log.steps.append(
                _step(target, StepStatus.ERROR, result.elapsed_ms, "answer without an https Url")
            )
            return None
        if foreign is not None or not self._is_microsoft_url(named):
            where = urlsplit(foreign or named).hostname
            detail = f"{protocol} at {named}: hybrid, mailbox on-premises ({where})"
            hosted = "on-premises"
        else:
            detail = f"{protocol} at {named} (Microsoft 365)"
            hosted = "microsoft365"
        log.steps.append(_step(target, StepStatus.FOUND, result.elapsed_ms, detail, result.trusted))
        return _V2(protocol, named, hosted)

    # ------------------------------------------------------------------ EWS / EAS probes

    def _probe_endpoints(self, final: _Answer | None, v2: list[_V2]) -> list[_Probe]:
        named_ews = [u for u in (final.response.ews_url if final else None,) if u]
        named_eas = [u for u in (final.response.activesync_url if final else None,) if u]
        named_ews += [x.url for x in v2 if x.protocol == "EWS" and x.url]
        named_eas += [x.url for x in v2 if x.protocol == "ActiveSync" and x.url]
        domain = self.address.domain_ascii
        defaults = [f"https://{h}" for h in (domain, f"autodiscover.{domain}", f"mail.{domain}")]
        plans: list[tuple[str, str, bool]] = []
        for kind, named, path in (
            ("EWS", named_ews, EWS_PATH),
            ("ActiveSync", named_eas, ACTIVESYNC_PATH),
        ):
            urls = [(u, True) for u in dict.fromkeys(named)] or [
                (base + path, False) for base in defaults
            ]
            plans += [(kind, u, is_named) for u, is_named in urls]
        workers: list[_Worker] = []
        for kind, url, is_named in plans:
            method = "GET" if kind == "EWS" else "OPTIONS"
            target = f"{method} {url}"
            host = urlsplit(url).hostname or ""
            refusal = self._refuse_url(url)
            dead = self.log.dead.get(host)
            if refusal is not None or dead is not None:
                why = refusal or f"{dead} (see above)"
                self.log.steps.append(_step(target, StepStatus.SKIPPED, 0.0, f"not probed: {why}"))
                continue
            workers.append(_Worker(target, partial(self._probe, kind, url, is_named)))
        self._start(workers)
        self._finish(workers)
        return [w.value for w in workers if isinstance(w.value, _Probe)]

    def _probe(self, kind: str, url: str, named: bool, log: _Log) -> _Probe:
        method = "GET" if kind == "EWS" else "OPTIONS"
        target = f"{method} {url}"
        result = self.http.request(
            method,
            url,
            deadline=self.deadline,
            timeout=REQUEST_TIMEOUT,
            follow_redirects=False,
            headers={"Accept": "*/*"},
        )
        if self._failed(result, target, log, result.trusted):
            return _Probe(kind, url, False, False, named)
        status = result.http_status
        versions = result.header("ms-asprotocolversions")
        extra = f"; MS-ASProtocolVersions {versions}" if versions else ""
        if status == 401:
            schemes = _challenges(result.headers_named("www-authenticate"))
            log.schemes += [s for s in schemes if s not in log.schemes]
            log.steps.append(
                _step(
                    target,
                    StepStatus.FOUND,
                    result.elapsed_ms,
                    _login_detail(schemes) + extra,
                    result.trusted,
                )
            )
            return _Probe(kind, url, True, True, named)
        if kind == "ActiveSync" and status == 200 and versions:
            detail = f"answers without login{extra}"
            log.steps.append(_step(target, StepStatus.FOUND, result.elapsed_ms, detail))
            return _Probe(kind, url, True, True, named)
        detail = f"HTTP {status}: not {kind}"
        if status in _REDIRECTS:
            detail = f"HTTP {status} to {result.header('location')}: not {kind}"
        elif status == 200 and _looks_html(result):
            detail = f"HTML page, not {kind}"
        log.steps.append(_step(target, StepStatus.NOT_FOUND, result.elapsed_ms, detail))
        return _Probe(kind, url, False, True, named)

    # ------------------------------------------------------------------ result

    def _result(self, final: _Answer | None, v2: list[_V2], probes: list[_Probe]) -> SourceResult:
        servers: list[NamedServer] = []
        if final is not None:
            for protocol in final.response.mail_protocols:
                for endpoint in protocol.endpoints():
                    if all(s.endpoint != endpoint for s in servers):
                        servers.append(
                            NamedServer(endpoint, protocol.login_name, _auth_words(protocol))
                        )
        log = self.log

        def url_for(kind: str, named: list[str]) -> str | None:
            """A URL the probe confirmed; else a named one the probe could not check."""
            confirmed = next((p.url for p in probes if p.kind == kind and p.exists), None)
            if confirmed is not None:
                return confirmed
            for url in named:
                if any(p.url == url and p.answered for p in probes):
                    log.warnings.append(
                        f"the {kind} URL Autodiscover named ({url}) does not answer like {kind}"
                    )
                else:
                    log.warnings.append(
                        f"the {kind} URL Autodiscover named ({url}) could not be checked"
                    )
                    return url
            return None

        named_ews = [u for u in (final.response.ews_url if final else None,) if u]
        named_ews += [x.url for x in v2 if x.protocol == "EWS" and x.url]
        named_eas = [u for u in (final.response.activesync_url if final else None,) if u]
        named_eas += [x.url for x in v2 if x.protocol == "ActiveSync" and x.url]
        ews_url = url_for("EWS", named_ews)
        activesync_url = url_for("ActiveSync", named_eas)
        autodiscover_url = final.url if final is not None else next(iter(log.endpoints), None)
        hosted = self._hosted(final, v2, probes)
        exchange: ExchangeFacts | None = None
        if any((ews_url, activesync_url, autodiscover_url, hosted)):
            exchange = ExchangeFacts(
                ews_url=ews_url,
                activesync_url=activesync_url,
                autodiscover_url=autodiscover_url,
                auth=tuple(sorted(set(log.schemes))),
                hosted=hosted,
            )
        return SourceResult(
            source=Source.AUTODISCOVER,
            steps=tuple(log.steps),
            servers=tuple(servers),
            trusted=final is not None and final.trusted,
            exchange=exchange,
            warnings=tuple(dict.fromkeys(log.warnings)),
            origin=final.url if final is not None else None,
            # A page to type a password into: only from an answer trusted all the way.
            webmail=webmail_url(final.response.owa_url) if final and final.trusted else None,
            dav=_pox_dav(final.response.protocols) if final and final.trusted else None,
        )

    def _hosted(self, final: _Answer | None, v2: list[_V2], probes: list[_Probe]) -> str | None:
        """Where the mailbox lives, from the strongest evidence at hand.

        1. Microsoft's v2 service redirected to another organisation's server:
           a hybrid deployment, this mailbox on-premises.
        2. The domain's own Autodiscover led to Microsoft's servers: Microsoft 365.
        3. v2 names Microsoft and the domain's Autodiscover wants a Bearer token:
           Microsoft 365 (v2 alone is not enough: it may answer for any domain).
        4. The domain runs Exchange endpoints of its own: on-premises.
        """
        verdicts = {x.hosted for x in v2}
        if "on-premises" in verdicts:
            return "on-premises"
        if self.log.pox_microsoft or (final is not None and self._is_microsoft_url(final.url)):
            return "microsoft365"
        if "microsoft365" in verdicts and self.log.pox_bearer:
            return "microsoft365"
        own_ews = final is not None and any(
            url and not self._is_microsoft_url(url)
            for url in (final.response.ews_url, final.response.activesync_url)
        )
        own_probe = any(p.exists and not self._is_microsoft_url(p.url) for p in probes)
        windows_login = bool({"Negotiate", "NTLM"} & set(self.log.schemes))
        if own_ews or (own_probe and windows_login):
            return "on-premises"
        return None

    # ------------------------------------------------------------------ helpers

    def _failed(self, result: HttpResult, target: str, log: _Log, trusted: bool) -> bool:
        """Record the step of a request that got no HTTP answer; True if so."""
        if result.ok:
            return False
        status = _FAILED_STEP.get(result.status, StepStatus.ERROR)
        detail = result.detail
        if result.status is FetchStatus.CANCELLED:
            detail = "not needed: a better-ranked answer came first"
        if result.status is FetchStatus.REDIRECT_REFUSED:
            log.warnings.append(f"{target}: {result.detail}")
        if result.status in _DEAD_HOST and result.hops:
            host = urlsplit(result.hops[-1].url).hostname or ""
            log.dead.setdefault(host, result.detail)
        log.steps.append(_step(target, status, result.elapsed_ms, detail, False))
        return True

    def _check_redirect(self, from_url: str, to_url: str) -> str | None:
        """``redirect_check`` for every Autodiscover request."""
        refusal = self._refuse_url(to_url)
        return None if refusal is None else f"redirect to {to_url} refused: {refusal}"

    def _refuse_url(self, url: str) -> str | None:
        """Why Autodiscover must not go to ``url``, or None."""
        parts = urlsplit(url)
        if parts.scheme != "https":
            return "plain HTTP refused: Autodiscover is HTTPS only after the redirect GET"
        return _refuse_host(parts.hostname or "")

    def _is_microsoft_url(self, url: str) -> bool:
        host = urlsplit(url).hostname or ""
        base = registrable_domain(host)
        return base is not None and (base in MICROSOFT_DOMAINS or base == self.v2_domain)

    def _same_organisation(self, host: str, user_url: str) -> bool:
        """``host`` belongs to the user's registrable domain, or is Microsoft's."""
        own = registrable_domain(urlsplit(user_url).hostname or "")
        base = registrable_domain(host)
        return base is not None and (base == own or self._is_microsoft_url(f"https://{host}/"))


# ------------------------------------------------------------------ pure helpers


def _step(
    target: str, status: StepStatus, elapsed_ms: float, detail: str, trusted: bool = False
) -> Step:
    return Step(STEP_SOURCE, target, status, elapsed_ms, detail, trusted)


def _refuse_domain(domain: str) -> str | None:
    """Why the user's own domain cannot be asked: it is a public suffix."""
    if registrable_domain(domain) is None:
        return (
            f"{domain} is a public suffix (Public Suffix List): its autodiscover host"
            " would belong to a stranger"
        )
    return None


def _refuse_host(host: str) -> str | None:
    """Never a public suffix, never ``autodiscover.<public suffix>`` (the 2021 leak)."""
    if not host:
        return "no host name"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None  # an IP address: no suffix to climb
    base = registrable_domain(host)
    if base is None:
        return f"{host} is a public suffix: nobody's own domain"
    label, _, rest = host.partition(".")
    if label == "autodiscover" and base == host:
        return (
            f"{host} is autodiscover.<public suffix {rest}>: it belongs to whoever registered"
            " it, not to the user's organisation"
        )
    return None


def _challenges(values: list[str]) -> list[str]:
    """Authentication schemes of ``WWW-Authenticate`` values, in order, canonical case."""
    out: list[str] = []
    for value in values:
        text = _QUOTED.sub('""', value)
        for match in _SCHEME.finditer(text):
            name = _CHALLENGE_NAMES.get(match.group(1).lower(), match.group(1))
            if name not in out:
                out.append(name)
    return out


def _login_detail(schemes: list[str]) -> str:
    if not schemes:
        return "401 without a login challenge: endpoint exists, needs login"
    return f"401 {' '.join(schemes)}: endpoint exists, needs login"


def _via(result: HttpResult) -> str:
    if len(result.hops) <= 1:
        return ""
    redirects = len(result.hops) - 1
    return f" (via {redirects} redirect{'s' if redirects > 1 else ''}, at {result.url})"


def _summary(response: AutodiscoverResponse) -> str:
    parts = []
    for protocol in response.mail_protocols:
        endpoint = protocol.endpoint()
        if endpoint is not None:
            parts.append(f"{protocol.type} {endpoint.hostname}:{endpoint.port} {endpoint.security}")
    if response.ews_url:
        parts.append(f"EWS {response.ews_url}")
    if response.activesync_url and not response.ews_url:
        parts.append(f"ActiveSync {response.activesync_url}")
    return ", ".join(parts) or "no server we can use"


def _auth_words(protocol: AutodiscoverProtocol) -> tuple[str, ...]:
    """MS-OXDSCLI SPA (Secure Password Authentication) is NTLM; Mozilla vocabulary."""
    if protocol.protocol is Protocol.SMTP and protocol.auth_required is False:
        return ("none",)
    if protocol.spa is True:
        return ("NTLM",)
    if protocol.spa is False:
        return ("password-cleartext",)
    return ()


def _looks_html(result: HttpResult) -> bool:
    content_type = (result.header("content-type") or "").lower()
    return "html" in content_type or result.body.lstrip()[:15].lower().startswith(
        (b"<!doctype html", b"<html")
    )


def _pox_dav(protocols: Sequence[AutodiscoverProtocol]) -> DavFacts | None:
    """``<Protocol><Type>CalDAV</Type><Server>https://...`` (automx2 writes these)."""
    from advisor.formats.text import url_problem

    found: dict[str, list[DavEndpoint]] = {"caldav": [], "carddav": []}
    for p in protocols:
        kind = p.type.lower()
        if kind in found and p.server and url_problem(p.server) is None:
            found[kind].append(
                DavEndpoint(
                    p.server, (Source.AUTODISCOVER,), False, "named by autodiscover; not checked"
                )
            )
    if not found["caldav"] and not found["carddav"]:
        return None
    return DavFacts(tuple(found["caldav"]), tuple(found["carddav"]))
