"""Authenticated Exchange Autodiscover (SOAP ``autodiscover.svc``) through exchangelib.

This gives a password to a server (and so does ``advisor.verify_ews``, which
runs on the HTTP layer defined here), so it keeps four rules:

1. Credentials only travel over TLS verified against the system store plus
   ``--ca-file``. exchangelib first learns the auth type from an
   *unauthenticated* request, so a host whose certificate fails never sees
   the password; the adapter below also refuses any request that carries an
   ``Authorization`` header on plain HTTP. A host named by an unauthenticated
   answer (a plain-HTTP redirect, an SRV record without DNSSEC) gets none
   unless it is in the user's own domain.
2. One attempt: a 401 after the credentials ends the run. No other candidate
   gets them, and no retry adds to a lockout counter.
3. The password is in no output. exchangelib logs request headers
   (``Authorization`` too) at DEBUG, so its loggers are switched off for the
   process; no exception leaves this module; steps and warnings are redacted
   as a last resort.
4. The diagnosis is of this run only: exchangelib's persistent cache (a
   shelve file in the temp dir) is never read nor written.

How exchangelib 5.x is bent to that: with subclasses, made per call. No
module of exchangelib, requests or the standard library is patched.

- Cache: ``Autodiscovery.discover()`` reads ``autodiscover_cache``, and
  ``_attempt_response()`` writes it. ``_Discovery`` overrides both:
  ``discover()`` starts at step 1, and ``_attempt_response()`` returns the
  answer without caching it. No other path touches the cache: the
  module-level ``AutodiscoverCache()`` opens no file until used.
- HTTP: every request goes through a session made by :func:`http_sessions`
  (``advisor.verify_ews`` signs in to EWS on the same one), with
  ``trust_env`` off (no proxy, ``REQUESTS_CA_BUNDLE`` or ``.netrc`` from the
  environment) and one adapter mounted on ``http://`` and ``https://``. The
  adapter gives urllib3 our ``SSLContext``
  (:func:`advisor.net.trust.client_context`) and skips requests'
  ``cert_verify``, which would load certifi's bundle into it. Its connection
  classes look names up with our :class:`DnsClient` and connect with
  :func:`advisor.net.connect.connect`, never ``socket.getaddrinfo``. It
  records each request in ``Wire.exchanges`` and says why one failed in
  ``Wire.failure``.
- DNS: exchangelib asks its own dnspython resolver in
  ``_ensure_valid_hostname`` (A records only) and ``_get_srv_records``. Both
  are overridden to use our ``DnsClient``: A and AAAA, and SRV in RFC 2782
  order, lowest priority first, where exchangelib takes the highest.
  ``resolver`` raises, so a future use in exchangelib shows up as an error
  step instead of quietly asking the system's DNS.
- Time: the FailFast retry policy, and each request's timeout clamped to
  what is left before ``deadline`` (absolute, ``time.monotonic()``).
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import logging
import random
import re
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from advisor.address import parse_address
from advisor.models import ExchangeFacts, Source, Step, StepStatus
from advisor.net.connect import ConnectStatus, connect
from advisor.net.resolver import AddressAnswer, DnsClient, DnsStatus
from advisor.net.trust import client_context
from advisor.secrets import MASK, Masker, Secret, masking_log_records
from advisor.sources import SourceResult
from advisor.sources.srv import rfc2782_order

if TYPE_CHECKING:
    import requests

__all__ = ["INSTALL_HINT", "authenticated_autodiscover"]

log = logging.getLogger(__name__)

SOURCE = str(Source.AUTODISCOVER)
INSTALL_HINT = "install the extra: pip install 'mail-setup-advisor[exchange]'"
# exchangelib waits up to 10 s for one Autodiscover request
# (AutodiscoverProtocol.TIMEOUT). Keep that as the ceiling, clamped to the budget.
HTTP_TIMEOUT = 10.0
# Loggers that see request headers (Authorization) or credentials. They never
# reach our handlers, whatever level the user asks for.
QUIET_LOGGERS = ("exchangelib", "requests_ntlm", "spnego")
USER_AGENT = "mail-setup-advisor (exchangelib)"
# Exchange Online's EWS hosts. Any other host is an Exchange someone runs themselves.
M365_EWS_HOSTS = ("outlook.office365.com", "outlook.office.com", "outlook.com")
# exchangelib's auth type names -> the WWW-Authenticate scheme names people know.
AUTH_NAMES = {
    "NTLM": "NTLM",
    "basic": "Basic",
    "digest": "Digest",
    "OAuth 2.0": "OAuth2",
    "gssapi": "Negotiate",
    "sspi": "Negotiate",
    "CBA": "TLS-client-cert",
    "no authentication": "none",
}
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*")  # RFC 9110 auth-scheme
_MAX_DETAIL = 240  # a step detail is one line: a server's error text is cut here
_BODY_KEPT = 8192  # bytes of each answer kept to quote the server: its error text comes first


# ---------------------------------------------------------------------- state of one call


class Fault(StrEnum):
    """Where a request ended without an HTTP answer (``advisor.verify_ews`` reports it)."""

    DNS = "dns"  # the name has no address
    CONNECT = "connect"  # no TCP connection: refused, unreachable
    TIMEOUT = "timeout"  # no connection or no answer in time, or the budget is spent
    TLS = "tls"  # the handshake failed or we rejected the certificate
    CLOSED = "closed"  # the server hung up or reset the connection without an answer
    OTHER = "other"


class Failure(NamedTuple):
    """Why the last connection failed, in our words."""

    status: StepStatus
    detail: str
    fault: Fault


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request as our adapter sent it, and how it ended."""

    method: str
    url: str
    status: int | None  # None: no HTTP answer (DNS, TCP, TLS, timeout)
    credentials: bool  # an Authorization header went out
    challenges: tuple[str, ...] = ()  # WWW-Authenticate schemes of a 401
    location: str | None = None
    reason: str = ""  # the status line's reason phrase
    answer: Any = field(default=None, repr=False, compare=False)  # the requests.Response
    failure: Failure | None = None  # why there is no answer, when known

    @property
    def body(self) -> bytes:
        """The first bytes of the answer, to quote the server. Read when asked, once the
        run is over: read in the adapter, it would close the socket requests_ntlm takes
        the server's certificate from (channel binding, on the 401)."""
        if self.answer is None:
            return b""
        try:
            content = self.answer.content
        except Exception:  # a stream someone closed unread: nothing to quote
            return b""
        return content[:_BODY_KEPT] if isinstance(content, bytes) else b""


@dataclass(kw_only=True)
class Wire:
    """What one signed-in run gives its HTTP layer (DNS, budget, TLS) and what that
    layer saw. Shared by the Autodiscover here and ``advisor.verify_ews``."""

    dns: DnsClient
    deadline: float
    context: ssl.SSLContext
    # False only when the user allowed an insecure check: ``context`` then checks
    # nothing, and urllib3 is told so (it would otherwise switch verification back on).
    verified: bool = True
    # An Authorization header over plain HTTP. Only ``verify_ews(allow_insecure=True)``.
    plain_credentials: bool = False
    exchanges: list[HttpExchange] = field(default_factory=list)
    # Set where it is known (DNS, TCP, TLS): exchangelib only passes on requests' messages.
    failure: Failure | None = None
    _addresses: dict[str, AddressAnswer] = field(default_factory=dict)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def addresses(self, host: str) -> AddressAnswer:
        """A and AAAA of ``host`` through our DnsClient, asked once per run:
        exchangelib checks a name before it connects, and steps 2 and 3 share one."""
        answer = self._addresses.get(host)
        if answer is None:
            answer = self.dns.addresses(host, deadline=self.deadline)
            self._addresses[host] = answer
        return answer


@dataclass(kw_only=True)
class _Call(Wire):
    """One signed-in Autodiscover: the wire, plus the user's domain and the steps."""

    domain: str  # the user's domain, A-labels
    user: str
    redact: tuple[str, ...]
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def clean(self, text: str) -> str:
        """One line, cut to size, with the secret's forms masked: the last resort
        if a server echoes what it was sent."""
        line = " ".join(text.split())
        for secret in self.redact:
            line = line.replace(secret, MASK)
        return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."

    def note(
        self, target: str, status: StepStatus, started: float, detail: str, trusted: bool = False
    ) -> None:
        detail = self.clean(detail)
        elapsed = (time.monotonic() - started) * 1000
        self.steps.append(Step(SOURCE, self.clean(target), status, elapsed, detail, trusted))
        log.debug("exchange autodiscover: %s: %s: %s", target, status, detail)

    def warn(self, text: str) -> None:
        self.warnings.append(self.clean(text))


class _Stop(Exception):
    """Ends the run at once with one final step (never leaves this module)."""

    def __init__(self, status: StepStatus, target: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.target = target
        self.detail = detail


# ---------------------------------------------------------------------- public entry point


def authenticated_autodiscover(
    address: str,
    *,
    user: str,
    password: Secret,
    dns: DnsClient,
    ca_file: Path | None,
    deadline: float,
    verify_tls: bool = True,
) -> SourceResult:
    """Ask the domain's Autodiscover service, signed in, for the EWS URL and server version.

    Runs exchangelib's SOAP Autodiscover (steps 1 to 5: ``https://D``,
    ``https://autodiscover.D``, a plain-HTTP redirect from ``autodiscover.D``,
    SRV ``_autodiscover._tcp.D``) with the rules in the module docstring. It
    never raises for a network or server outcome, nor when exchangelib is not
    installed: the steps say what happened. :class:`AdvisorError` only comes
    from a malformed address or an unreadable ``ca_file``.

    ``verify_tls=False`` runs nothing: this path sends a password, and
    passwords only go over verified TLS.
    """
    started = time.monotonic()
    email = parse_address(address).address_ascii
    domain = email.rpartition("@")[2]
    target = f"Autodiscover (signed in) for {email}"
    if not verify_tls:
        detail = (
            "not run with certificate checks off: it sends the password, "
            "and this tool only sends passwords over verified TLS"
        )
        return SourceResult(
            Source.AUTODISCOVER, (Step(SOURCE, target, StepStatus.SKIPPED, 0.0, detail),)
        )
    try:
        glue = _glue()
    except ImportError:
        skipped = Step(SOURCE, target, StepStatus.SKIPPED, 0.0, INSTALL_HINT)
        return SourceResult(Source.AUTODISCOVER, (skipped,))
    call = _Call(
        dns=dns,
        deadline=deadline,
        context=client_context(ca_file),
        domain=domain,
        user=user,
        redact=secret_forms(user, password),
    )
    if call.left() <= 0:
        call.note(target, StepStatus.TIMEOUT, started, "no time left in the budget")
        return SourceResult(Source.AUTODISCOVER, tuple(call.steps))
    discovery = glue.discovery(email, user, password, call)
    exchange: ExchangeFacts | None = None
    trusted = False
    try:
        # exchangelib logs requests and answers at DEBUG: an echo of the password too.
        with masking_log_records(Masker(password, user)):
            response = discovery.discover()
        exchange, trusted = _found(call, discovery, response)
    except _Stop as stop:
        call.note(stop.target, stop.status, started, stop.detail)
    except Exception as exc:  # exchangelib's own errors, or a bug in it: a step, never a crash
        answered = discovery.answered
        status, detail = _failure_of(exc, glue)
        call.note(f"POST {answered.url}" if answered else target, status, started, detail)
    finally:
        discovery.close()
    return SourceResult(
        Source.AUTODISCOVER,
        tuple(call.steps),
        trusted=trusted,
        exchange=exchange,
        warnings=tuple(call.warnings),
        origin=exchange.autodiscover_url if exchange is not None else None,
    )


# ---------------------------------------------------------------------- results


class _Answer(NamedTuple):
    url: str  # the autodiscover.svc endpoint that answered
    protocol: Any  # its exchangelib AutodiscoverProtocol
    guess: Any  # the Version object it started with (see _version_text)
    started: float
    trusted: bool  # reached without following an unauthenticated hint


def _found(call: _Call, discovery: Any, response: Any) -> tuple[ExchangeFacts | None, bool]:
    answer: _Answer | None = discovery.answered
    if answer is None:  # exchangelib returned without an answer: should not happen
        raise _Stop(StepStatus.ERROR, "autodiscover.svc", "exchangelib ended without an answer")
    settings: dict[str, str] = dict(response.user_settings or {})
    external = settings.get("external_ews_url")
    internal = settings.get("internal_ews_url")
    ews = external or internal
    auth_type = answer.protocol.config.auth_type
    auth = AUTH_NAMES.get(str(auth_type), str(auth_type))
    facts = ExchangeFacts(
        ews_url=ews, autodiscover_url=answer.url, auth=(auth,), hosted=_hosted(ews, settings)
    )
    target = f"POST {answer.url}"
    if ews is None:
        call.note(
            target,
            StepStatus.NOT_FOUND,
            answer.started,
            "the server answered for this mailbox but named no EWS URL",
            answer.trusted,
        )
        return facts, answer.trusted
    if external is None:
        call.warn(f"only an internal EWS URL ({internal}): it may work inside the network only")
    if urlsplit(ews).scheme.lower() != "https":
        call.warn(f"the EWS URL {ews} is plain HTTP: a client would send the password unprotected")
    version = _version_text(answer.protocol.config.version, answer.guess, settings)
    detail = f"EWS {ews}, {version or 'server version not stated'}, {auth} sign-in"
    call.note(target, StepStatus.FOUND, answer.started, detail, answer.trusted)
    return facts, answer.trusted


def _version_text(version: Any, guess: Any, settings: dict[str, str]) -> str | None:
    """``Exchange2016 (15.1.2507.6)``, from the ServerVersionInfo SOAP header.

    exchangelib replaces the protocol's Version object only when a header
    states another one, so the object we started with (a build no real
    server has) still being there means "no header". Then CasVersion.
    """
    if version is not guess and version is not None and version.build is not None:
        b = version.build
        build = f"{b.major_version}.{b.minor_version}.{b.major_build}.{b.minor_build}"
        return f"{version.api_version} ({build})"
    cas = settings.get("cas_version")
    if cas:
        try:
            parts = [str(int(p)) for p in cas.split(".")]
        except ValueError:
            return f"CasVersion {cas}"
        return f"CasVersion {'.'.join(parts)}"
    schemas = [s.strip() for s in (settings.get("ews_supported_schemas") or "").split(",")]
    schemas = [s for s in schemas if s]
    return f"EWS schemas up to {max(schemas)}" if schemas else None


def _hosted(ews: str | None, settings: dict[str, str]) -> str | None:
    if (settings.get("user_ms_online") or "").strip().lower() == "true":
        return "microsoft365"
    host = (urlsplit(ews).hostname or "").lower() if ews else ""
    if not host:
        return None
    if any(host == h or host.endswith("." + h) for h in M365_EWS_HOSTS):
        return "microsoft365"
    return "on-premises"


def _failure_of(exc: Exception, glue: _Glue) -> tuple[StepStatus, str]:
    """What exchangelib raised out of ``discover()``, in one line (the one table)."""
    e = glue.errors
    text = str(exc) or type(exc).__name__
    if isinstance(exc, e.ErrorNonExistentMailbox):
        return StepStatus.ERROR, f"the server does not know this mailbox: {text}"
    if isinstance(exc, e.AutoDiscoverCircularRedirect):
        return StepStatus.ERROR, f"Autodiscover redirects in a circle: {text}"
    if isinstance(exc, e.AutoDiscoverFailed):
        return StepStatus.ERROR, f"the server answered with an error: {text}"
    if isinstance(exc, e.UnauthorizedError):
        return StepStatus.ERROR, f"authentication failed: {text}"
    if isinstance(exc, e.EWSError):
        return StepStatus.ERROR, f"Autodiscover failed: {text}"
    log.debug("exchange autodiscover: unexpected %s from exchangelib", type(exc).__name__)
    return StepStatus.ERROR, f"unexpected failure inside exchangelib ({type(exc).__name__}): {text}"


_UNKNOWN_CODE = re.compile(
    r"Unknown ResponseCode in ResponseMessage: (\S+) \(MessageText: (.*), MessageXml: .*\)$", re.S
)


def server_text(exc: Exception) -> str:
    """``InternalServerError: text`` from exchangelib's wording of a SOAP error."""
    text = str(exc)
    unknown = _UNKNOWN_CODE.match(text)
    if unknown:
        return f"{unknown[1]}: {unknown[2]}"
    name = type(exc).__name__
    if name.startswith("Error") and name != "ErrorTimeoutExpired":
        return f"{name.removeprefix('Error')}: {text}"
    return text


def secret_forms(user: str, password: Secret) -> tuple[str, ...]:
    """The password as it could show up in text: plain, and inside a Basic header."""
    plain = password.reveal()
    if not plain:
        return ()
    basic = base64.b64encode(f"{user}:{plain}".encode()).decode("ascii")
    return (plain, basic)


# ---------------------------------------------------------------------- transport helpers


def _seconds(timeout: object) -> float | None:
    if isinstance(timeout, bool):
        return None
    return float(timeout) if isinstance(timeout, int | float) else None


def _limit(wire: Wire, *timeouts: float | None) -> float:
    return max(0.0, min([wire.left(), HTTP_TIMEOUT, *(t for t in timeouts if t is not None)]))


def dns_failure(host: str, answer: AddressAnswer) -> Failure:
    """A name without an address, in our words."""
    if answer.status is DnsStatus.TIMEOUT:
        return Failure(StepStatus.TIMEOUT, f"{host}: {answer.detail}", Fault.TIMEOUT)
    return Failure(StepStatus.NOT_FOUND, f"{host}: {answer.detail}", Fault.DNS)


def _open_socket(host: str, port: int, timeout: float | None, wire: Wire) -> socket.socket:
    """Connect to ``host`` as our DnsClient sees it; on failure set ``wire.failure``
    and raise the OSError urllib3 expects from ``create_connection``."""
    limit = _limit(wire, timeout)
    deadline = time.monotonic() + limit
    try:
        addresses: tuple[str, ...] = (str(ipaddress.ip_address(host.strip("[]"))),)
    except ValueError:
        answer = wire.addresses(host)
        if not answer.addresses:
            wire.failure = dns_failure(host, answer)
            raise socket.gaierror(socket.EAI_NONAME, answer.detail) from None
        addresses = answer.addresses
    outcome = connect(addresses, port, deadline=deadline)
    if outcome.sock is None:
        if outcome.status is ConnectStatus.FILTERED:
            detail = f"{host}: {outcome.detail}"
            wire.failure = Failure(StepStatus.TIMEOUT, detail, Fault.TIMEOUT)
            raise TimeoutError(outcome.detail)
        wire.failure = Failure(StepStatus.NOT_FOUND, f"{host}: {outcome.detail}", Fault.CONNECT)
        raise ConnectionRefusedError(outcome.detail)
    outcome.sock.settimeout(limit)
    return outcome.sock


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3 ``reason``s, args."""
    stack: list[object] = [exc]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])


def _transport_failure(exc: BaseException, limit: float) -> Failure:
    """A requests exception in one line, for failures not already described."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = f"certificate rejected: {cause.verify_message}; nothing sent"
            return Failure(StepStatus.ERROR, detail, Fault.TLS)
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            detail = f"TLS handshake failed: {cause.reason or cause}; nothing sent"
            return Failure(StepStatus.ERROR, detail, Fault.TLS)
    name = type(exc).__name__
    if name == "ReadTimeout":
        return Failure(StepStatus.TIMEOUT, f"no answer within {limit:.1f} s", Fault.TIMEOUT)
    if "Timeout" in name:
        return Failure(StepStatus.TIMEOUT, f"no connection within {limit:.1f} s", Fault.TIMEOUT)
    for cause in _causes(exc):
        if isinstance(cause, ConnectionResetError):
            return Failure(StepStatus.ERROR, "the server reset the connection", Fault.CLOSED)
        if type(cause).__name__ == "RemoteDisconnected":
            detail = "the server closed the connection without an answer"
            return Failure(StepStatus.ERROR, detail, Fault.CLOSED)
    return Failure(StepStatus.ERROR, f"connection failed ({name})", Fault.OTHER)


def challenges_of(header: str) -> tuple[str, ...]:
    """Scheme names of a (possibly merged) WWW-Authenticate header: ``Basic``, ``NTLM``..."""
    found: list[str] = []
    for part in header.split(","):
        word = part.strip().split(" ", 1)[0]
        if _TOKEN.fullmatch(word) and word.lower() not in (f.lower() for f in found):
            found.append(word)
    return tuple(found)


def _within(host: str, domain: str) -> bool:
    host = host.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


def _attempt_failure(call: _Call, mark: int, exc: BaseException) -> tuple[StepStatus, str]:
    """Why one endpoint gave no answer: our transport's words first, then HTTP."""
    if call.failure is not None:
        return call.failure.status, call.failure.detail
    mine = call.exchanges[mark:]
    last = mine[-1] if mine else None
    if last is not None and last.status is not None:
        if last.status == 401:
            offered = ", ".join(last.challenges) or "no scheme"
            if "oauth2" in str(exc).lower() or (
                last.challenges and {c.lower() for c in last.challenges} <= {"bearer"}
            ):
                return (
                    StepStatus.ERROR,
                    f"HTTP 401 offering {offered}: the server wants OAuth2 (modern "
                    "authentication), not a password; nothing sent",
                )
            return (
                StepStatus.ERROR,
                f"HTTP 401 offering {offered}: no sign-in method exchangelib can use; nothing sent",
            )
        if last.status in (200, 500) and type(exc).__name__ in (
            "SOAPError",
            "MalformedResponseError",
        ):
            return (
                StepStatus.NOT_FOUND,
                f"HTTP {last.status}, but not an Autodiscover SOAP answer (a web page?)",
            )
        if last.status >= 500:
            return StepStatus.ERROR, f"HTTP {last.status}: the server failed"
        return StepStatus.NOT_FOUND, f"HTTP {last.status}: no Autodiscover service here"
    return StepStatus.ERROR, f"failed: {exc}"


# ---------------------------------------------------------------------- exchangelib glue


class _Glue(NamedTuple):
    discovery: Any  # (email, user, password, call) -> _Discovery
    errors: Any  # the exchangelib.errors module


class CredentialsRefused(_Stop):
    """The adapter refused to send an Authorization header over plain HTTP."""


def quiet_loggers() -> None:
    """Silence exchangelib for good. It logs request headers, Authorization
    included, at DEBUG (``post_ratelimited``), and the cache key with the
    credentials. A level above CRITICAL means no record is ever created, so no
    handler can see one (pytest attaches its handler to non-propagating loggers
    too). ``propagate`` off and a NullHandler are a second wall, in case someone
    lowers the level again."""
    for name in QUIET_LOGGERS:
        quiet = logging.getLogger(name)
        quiet.setLevel(logging.CRITICAL + 1)
        quiet.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in quiet.handlers):
            quiet.addHandler(logging.NullHandler())


@functools.cache
def http_sessions() -> Callable[[Wire], requests.Session]:
    """The factory of ``requests`` sessions that both exchangelib paths use: every
    request goes through our DnsClient, ``connect``, the wire's SSLContext and the
    budget, and is recorded in ``wire.exchanges``. Imports requests (once)."""
    quiet_loggers()
    import requests
    import requests.adapters
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

    def new_conn(conn: HTTPConnection, wire: Wire) -> socket.socket:
        """``HTTPConnection._new_conn`` with our resolver: same exceptions as urllib3's."""
        try:
            sock = _open_socket(conn.host, conn.port, _seconds(conn.timeout), wire)
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
        for option in conn.socket_options or ():
            sock.setsockopt(*option)
        sys.audit("http.client.connect", conn, conn.host, conn.port)
        return sock

    def adapter_class(wire: Wire) -> type[requests.adapters.HTTPAdapter]:
        class Connection(HTTPConnection):
            def _new_conn(self) -> socket.socket:
                return new_conn(self, wire)

        class TLSConnection(HTTPSConnection):
            def _new_conn(self) -> socket.socket:
                return new_conn(self, wire)

        class Pool(HTTPConnectionPool):
            ConnectionCls = Connection

        class TLSPool(HTTPSConnectionPool):
            ConnectionCls = TLSConnection

            def _validate_conn(self, conn: Any) -> None:
                if wire.verified:
                    super()._validate_conn(conn)
                    return
                # The user allowed an unverified check and its outcome says so
                # (insecure=True): urllib3's InsecureRequestWarning would only repeat it.
                HTTPConnectionPool._validate_conn(self, conn)
                if conn.is_closed:
                    conn.connect()

        class Adapter(requests.adapters.HTTPAdapter):
            def init_poolmanager(
                self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
            ) -> None:
                # Our context: system store + --ca-file, CERT_REQUIRED, host name checked.
                pool_kwargs["ssl_context"] = wire.context
                super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
                self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}

            def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
                # requests would point the pool at certifi's bundle, which urllib3
                # then loads into our context. The context already verifies.
                return

            def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
                raise requests.exceptions.InvalidProxyURL("proxies are not used here")

            def send(
                self,
                request: requests.PreparedRequest,
                stream: bool = False,
                timeout: Any = None,
                verify: Any = True,
                cert: Any = None,
                proxies: Mapping[str, str] | None = None,
            ) -> requests.Response:
                url = request.url or ""
                method = request.method or "?"
                credentials = "Authorization" in request.headers
                if (
                    credentials
                    and urlsplit(url).scheme.lower() != "https"
                    and not wire.plain_credentials
                ):
                    raise CredentialsRefused(
                        StepStatus.ERROR,
                        f"{method} {url}",
                        "refused to send credentials over plain HTTP",
                    )
                if wire.left() <= 0:
                    wire.failure = Failure(
                        StepStatus.TIMEOUT, "the time budget is spent", Fault.TIMEOUT
                    )
                    raise requests.exceptions.ConnectTimeout("time budget spent", request=request)
                limit = _limit(wire, _seconds(timeout))
                wire.failure = None
                try:
                    # verify=False tells urllib3 CERT_NONE, which it sets on the context:
                    # only ever on the unverified one an insecure check made for itself.
                    response = super().send(
                        request,
                        stream=stream,
                        timeout=limit,
                        verify=wire.verified,
                        cert=None,
                        proxies=None,
                    )
                except requests.exceptions.RequestException as exc:
                    wire.failure = wire.failure or _transport_failure(exc, limit)
                    wire.exchanges.append(
                        HttpExchange(method, url, None, credentials, failure=wire.failure)
                    )
                    raise
                challenges = challenges_of(response.headers.get("WWW-Authenticate", ""))
                location = response.headers.get("Location")
                wire.exchanges.append(
                    HttpExchange(
                        method,
                        url,
                        response.status_code,
                        credentials,
                        challenges,
                        location,
                        response.reason or "",
                        response,
                    )
                )
                return response

        return Adapter

    def session(wire: Wire) -> requests.Session:
        """A session that knows nothing from the environment (``trust_env`` off: no
        proxy, ``REQUESTS_CA_BUNDLE`` or ``.netrc``), with our adapter on both schemes."""
        adapter = adapter_class(wire)(
            pool_connections=1, pool_maxsize=1, max_retries=0, pool_block=True
        )
        made = requests.Session()
        made.trust_env = False
        made.mount("http://", adapter)
        made.mount("https://", adapter)
        return made

    return session


@functools.cache
def _glue() -> _Glue:
    """Import exchangelib (about 0.3 to 0.8 s) and define the subclasses, once per
    process, on the first signed-in Autodiscover only. Raises ImportError when
    the ``exchange`` extra is not installed."""
    quiet_loggers()  # before the import: its module-level code logs too
    from exchangelib import errors
    from exchangelib.autodiscover.discovery import Autodiscovery, SrvRecord
    from exchangelib.autodiscover.protocol import AutodiscoverProtocol
    from exchangelib.configuration import Configuration
    from exchangelib.credentials import Credentials
    from exchangelib.protocol import FailFast
    from exchangelib.transport import (
        DEFAULT_HEADERS,
        OAUTH2,
        get_unauthenticated_autodiscover_response,
    )
    from exchangelib.util import CONNECTION_ERRORS, get_domain
    from exchangelib.version import Build, Version

    new_session = http_sessions()

    def protocol_class(call: _Call) -> Any:
        class Protocol(AutodiscoverProtocol):  # type: ignore[misc]
            TIMEOUT = HTTP_TIMEOUT

            @classmethod
            def raw_session(
                cls,
                prefix: str,
                oauth2_client: Any = None,
                oauth2_session_params: Any = None,
                oauth2_token_endpoint: Any = None,
            ) -> requests.Session:
                if oauth2_client is not None:  # we only ever pass a password
                    raise _Stop(StepStatus.ERROR, prefix, "OAuth2 credentials are not supported")
                session = new_session(call)
                session.headers.update(DEFAULT_HEADERS)
                session.headers["User-Agent"] = USER_AGENT
                return session

            def get_auth_type(self) -> Any:
                auth_type = super().get_auth_type()
                if auth_type == OAUTH2:  # "Modern Auth" in ms-diagnostics-public
                    raise errors.TransportError("the server wants OAuth2, not a password")
                return auth_type

        return Protocol

    class Discovery(Autodiscovery):  # type: ignore[misc]
        """exchangelib's Autodiscovery without its cache, on our DNS and transport."""

        def __init__(self, email: str, user: str, password: Secret, call: _Call) -> None:
            super().__init__(email=email, credentials=Credentials(user, password.reveal()))
            self.email: str = email
            self._call = call
            self._protocol_cls = protocol_class(call)
            self._protocols: list[Any] = []
            # Set while following a hint that came unauthenticated (plain HTTP,
            # SRV without DNSSEC): such hosts only get credentials in the user's domain.
            self._hint: str | None = None
            self.answered: _Answer | None = None

        @property
        def resolver(self) -> Any:
            raise RuntimeError(
                "exchangelib asked its own DNS resolver; advisor.exchange must route it"
            )

        def close(self) -> None:
            for protocol in self._protocols:
                protocol.close()
            self._protocols.clear()

        def _new_protocol(self, url: str, credentials: Any) -> tuple[Any, Any]:
            # A build no real server has: exchangelib swaps the Version object
            # only when a ServerVersionInfo header states another (_version_text).
            guess = Version(build=Build(15, 20, 0, 0), api_version="Exchange2016")
            config = Configuration(
                service_endpoint=url,
                credentials=credentials,
                retry_policy=FailFast(),
                version=guess,
            )
            protocol = self._protocol_cls(config=config)
            self._protocols.append(protocol)
            return protocol, guess

        def _check_time(self, target: str) -> None:
            if self._call.left() <= 0:
                raise _Stop(StepStatus.TIMEOUT, target, "the time budget ran out")

        # -- the cache is never consulted: this is Autodiscovery.discover() without it
        def discover(self) -> Any:
            self._emails_visited.append(self.email.lower())
            response = self._step_1(hostname=get_domain(self.email))
            if response.redirect_address:
                redirect = response.redirect_address
                if redirect.lower() in self._emails_visited:
                    raise errors.AutoDiscoverCircularRedirect(f"back to {redirect}")
                self._call.warn(f"Autodiscover redirected {self.email} to {redirect}")
                self.email = redirect
                self.answered = None
                return self.discover()
            self.clear()
            return response

        # -- and never written: this is _attempt_response() without the cache
        def _attempt_response(self, url: str) -> tuple[bool, Any]:
            call = self._call
            target = f"POST {url}"
            self._check_time(target)
            if not url.lower().startswith("https://"):  # exchangelib checks this too
                call.note(target, StepStatus.SKIPPED, time.monotonic(), "not HTTPS: not tried")
                return False, None
            self._urls_visited.append(url.lower())
            started = time.monotonic()
            mark = len(call.exchanges)
            call.failure = None
            try:
                self._ensure_valid_hostname(url)
            except errors.TransportError as exc:
                status, detail = _attempt_failure(call, mark, exc)
                call.note(target, status, started, detail)
                return False, None
            protocol, guess = self._new_protocol(url, self.credentials)
            try:
                response = protocol.get_user_settings(user=self.email)
            except errors.RedirectError as exc:
                call.note(target, StepStatus.NOT_FOUND, started, f"redirects to {exc.url}")
                if self._redirect_url_is_valid(url=exc.url):
                    return self._attempt_response(url=exc.url)
                return False, None
            except errors.UnauthorizedError as exc:
                raise _Stop(StepStatus.ERROR, target, self._refused(protocol, exc)) from None
            except (errors.CASError, errors.ResponseMessageError) as exc:
                mine = call.exchanges[mark:]
                last = mine[-1] if mine else None
                if last is not None and last.status == 401 and last.credentials:
                    # exchangelib calls a 401 that came with "Connection: close" busy.
                    raise _Stop(StepStatus.ERROR, target, self._refused(protocol, exc)) from None
                answered = last is not None and last.status in (200, 500)
                if isinstance(exc, errors.CASError) or (answered and call.failure is None):
                    # The server's own error, in SOAP or in X-CasErrorCode: this is
                    # the endpoint, and another one would only get the password too.
                    detail = f"the server answered with an error: {server_text(exc)}"
                    raise _Stop(StepStatus.ERROR, target, detail) from None
                # exchangelib turns connection errors into ErrorTimeoutExpired.
                status, detail = _attempt_failure(call, mark, exc)
                call.note(target, status, started, detail)
                return False, None
            except (errors.TransportError, *CONNECTION_ERRORS) as exc:
                mine = call.exchanges[mark:]
                if (
                    mine
                    and mine[-1].status == 200
                    and call.failure is None
                    and not isinstance(exc, errors.SOAPError | errors.MalformedResponseError)
                ):
                    # A SOAP answer whose error code exchangelib has no class for
                    # (InvalidRequest, InvalidDomain...): still the server's word.
                    detail = f"the server answered with an error: {server_text(exc)}"
                    raise _Stop(StepStatus.ERROR, target, detail) from None
                status, detail = _attempt_failure(call, mark, exc)
                call.note(target, status, started, detail)
                return False, None
            if response.redirect_url:
                call.note(
                    target, StepStatus.NOT_FOUND, started, f"redirects to {response.redirect_url}"
                )
            else:
                self.answered = _Answer(url, protocol, guess, started, self._hint is None)
            return True, response

        def _refused(self, protocol: Any, exc: Exception) -> str:
            if "locked out" in str(exc).lower():
                return "the server says the account is locked out"
            auth_type = protocol.config.auth_type
            auth = AUTH_NAMES.get(str(auth_type), str(auth_type))
            return (
                f"authentication failed: the server refused the credentials of "
                f"{self._call.user} ({auth}, HTTP 401); stopped after this one attempt"
            )

        def _get_unauthenticated_response(self, url: str, method: str = "post") -> Any:
            call = self._call
            target = f"{method.upper()} {url}"
            self._check_time(target)
            started = time.monotonic()
            mark = len(call.exchanges)
            call.failure = None
            try:
                self._ensure_valid_hostname(url)
                protocol, _guess = self._new_protocol(url, None)
                response = get_unauthenticated_autodiscover_response(
                    protocol=protocol, method=method
                )
            except errors.TransportError as exc:
                status, detail = _attempt_failure(call, mark, exc)
                call.note(target, status, started, detail)
                raise
            if method == "get":  # step 3: only a redirect is useful here
                location = response.headers.get("location")
                if response.status_code in (301, 302) and location:
                    call.note(target, StepStatus.FOUND, started, f"redirects to {location}")
                else:
                    detail = f"HTTP {response.status_code}: no redirect"
                    call.note(target, StepStatus.NOT_FOUND, started, detail)
            return None, response

        def _redirect_url_is_valid(self, url: str) -> bool:
            host = urlsplit(url).hostname or ""
            if self._hint is not None and not _within(host, self._call.domain):
                self._call.note(
                    f"redirect to {url}",
                    StepStatus.SKIPPED,
                    time.monotonic(),
                    f"not followed: {host} was named by {self._hint}, outside "
                    f"{self._call.domain}; the password only goes to hosts in the "
                    "user's domain or named over verified TLS",
                )
                return False
            return bool(super()._redirect_url_is_valid(url=url))

        def _step_3(self, hostname: str) -> Any:
            self._hint = "a plain-HTTP redirect"
            try:
                return super()._step_3(hostname=hostname)
            finally:
                self._hint = None

        def _step_4(self, hostname: str) -> Any:
            self._hint = None  # step 3 calls step 4 from inside itself
            try:
                return super()._step_4(hostname=hostname)
            finally:
                self._hint = None

        def _step_6(self) -> Any:
            tried = sum(1 for step in self._call.steps if "://" in step.target)
            raise _Stop(
                StepStatus.NOT_FOUND,
                f"Autodiscover for {self._call.domain}",
                f"no Autodiscover endpoint answered (asked {tried} URLs; see the steps above)",
            )

        # -- DNS through our DnsClient
        def _ensure_valid_hostname(self, url: str) -> None:
            host = urlsplit(url).hostname or ""
            answer = self._call.addresses(host)
            if not answer.addresses:
                self._call.failure = dns_failure(host, answer)
                raise errors.TransportError(f"{host!r} has no DNS entry")

        def _get_srv_records(self, hostname: str) -> list[Any]:
            """The RFC 2782 choice only, so exchangelib's "highest priority number"
            pick has one record to choose from."""
            call = self._call
            started = time.monotonic()
            self._check_time(f"SRV {hostname}")
            answer = call.dns.query(hostname, "SRV", deadline=call.deadline)
            raw = [
                (int(r.priority), int(r.weight), int(r.port), r.target.to_text(True).lower())
                for r in answer.records
            ]
            # exchangelib builds https://TARGET/ and ignores the port: only 443 fits.
            usable = [r for r in raw if r[3] not in ("", ".") and r[2] == 443]
            ordered = rfc2782_order(usable, random.Random(hostname))
            if not answer.found:
                call.note(f"SRV {hostname}", StepStatus.NOT_FOUND, started, answer.detail)
                return []
            if not ordered:
                detail = "no record on port 443" if raw else answer.detail
                call.note(f"SRV {hostname}", StepStatus.NOT_FOUND, started, detail)
                return []
            priority, weight, port, srv_target = ordered[0]
            signed = " (DNSSEC-validated)" if answer.ad else ""
            detail = f"{srv_target}:{port} (priority {priority}, weight {weight}){signed}"
            call.note(f"SRV {hostname}", StepStatus.FOUND, started, detail)
            if not answer.ad:
                self._hint = "an SRV record without DNSSEC"
            return [SrvRecord(priority=priority, weight=weight, port=port, srv=srv_target)]

    return _Glue(discovery=Discovery, errors=errors)
