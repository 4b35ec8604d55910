"""HTTP(S) requests whose host names are resolved by our :class:`DnsClient`.

Autoconfig and Autodiscover must see a domain exactly as ``--dns`` sees it,
so httpx never resolves a name here. Each hop looks its host up with
:meth:`DnsClient.addresses` and tries the addresses in that order (IPv6 and
IPv4 interleaved, the next one when a connection fails): httpx is given a URL
with the IP address in the netloc, a ``Host`` header naming the real host and
the ``sni_hostname`` request extension, so that httpcore sends SNI for the
real name and the TLS context verifies the certificate against it.

Connection reuse: never. httpcore pools connections by the URL's (scheme,
host, port) - here an IP address - and ignores ``sni_hostname``, so a pooled
TLS connection validated for one name could carry the next request for
another virtual host on the same IP. Each connection attempt therefore gets
its own short-lived ``httpx.Client`` (keep-alive off as well), closed once
that hop's answer is read. Building one costs about 0.3 ms, nothing next to a
TLS handshake, and it leaves :class:`HttpClient` with no state to close.

Deadline: every operation (connect, TLS handshake, each read and write) gets
``min(timeout, time left)``, and a watchdog shuts the socket down when the
deadline passes, so a server dripping its body one byte at a time ends as
``TIMEOUT`` at the deadline, not one timeout after it.

TLS context: httpcore calls ``set_alpn_protocols`` on the context it is given.
The context passed to :class:`HttpClient` is also the one the IMAP, POP3 and
SMTP probes use, and offering ALPN ``http/1.1`` to a mail server is exactly
what ALPACA countermeasures reject; so httpx gets a stand-in that leaves the
shared context untouched (no ALPN: HTTP/1.1 is the default) and registers
each TLS socket with the watchdog before its handshake.

Outcomes (:class:`FetchStatus`; never an exception for a network outcome):

==================  ==========================================================
``OK``              a final response arrived, whatever its HTTP status
``DNS_ERROR``       the host name has no address (NXDOMAIN, no A/AAAA, SERVFAIL)
``CONNECT_ERROR``   every address refused the connection or was unreachable
``TIMEOUT``         no handshake, no answer or no complete body in time
``TLS_ERROR``       the TLS handshake failed for a reason other than the certificate
``CERT_INVALID``    the certificate failed validation (expired, wrong name, unknown CA);
                    no request is ever sent over such a connection
``TOO_LARGE``       the body exceeded ``max_body``
``REDIRECT_REFUSED``  a loop, too many hops, an unusable Location, or ``redirect_check``
``PROTOCOL_ERROR``  not HTTP, a broken connection, a body we cannot decode
``CANCELLED``       the caller's ``cancel`` event was set (its socket is shut down at once)
==================  ==========================================================
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import TracebackType
from typing import Any, cast

import httpx

from advisor import __version__
from advisor.net.resolver import DnsClient, DnsStatus
from advisor.net.tls import tls_error_reason, verify_error

# Autoconfig files are a few KB, Autodiscover answers under 20 KB; 1 MiB bounds
# the memory a hostile or misconfigured server can make us use.
MAX_BODY_BYTES = 1024 * 1024
# Requests in one redirect chain, the first included. MS-OXDSCLI clients stop
# after 10 redirections; browsers allow about 20. Autoconfig and Autodiscover
# never need more than two or three.
MAX_HOPS = 10
# Connect timeout for an address when more addresses remain: a handshake that
# has not completed in 2 s is more likely a broken path (often IPv6) than a slow
# server, so the next address gets its chance. The last address gets the full timeout.
FALLBACK_CONNECT_TIMEOUT = 2.0
# How often a request given a ``cancel`` event looks at it; bounds cancel latency only.
CANCEL_POLL = 0.05

DEFAULT_USER_AGENT = f"advisor/{__version__}"
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Headers that must not follow a redirect to another origin (RFC 9110 §15.4
# leaves it to the client; browsers and httpx drop credentials).
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})

# httpx logs every request at INFO and httpcore every step at DEBUG: this is a
# library inside a CLI, and the CLI decides what reaches the terminal. Only a
# logger nobody configured is quietened.
for _name in ("httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if _logger.level == logging.NOTSET:
        _logger.setLevel(logging.WARNING)


class FetchStatus(StrEnum):
    OK = "ok"  # a final response was received, whatever its HTTP status
    DNS_ERROR = "dns-error"
    CONNECT_ERROR = "connect-error"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls-error"
    CERT_INVALID = "cert-invalid"
    TOO_LARGE = "too-large"
    REDIRECT_REFUSED = "redirect-refused"
    PROTOCOL_ERROR = "protocol-error"
    CANCELLED = "cancelled"  # the caller set ``cancel``: the answer was no longer needed


@dataclass(frozen=True)
class Hop:
    """One request of a chain (a failed one too)."""

    url: str
    status: int | None  # HTTP status; None when no response arrived
    secure: bool  # https with a valid certificate
    address: str | None = None  # the IP address connected to (the last one tried)


@dataclass(frozen=True)
class HttpResult:
    status: FetchStatus
    detail: str  # one line for people
    url: str  # the last URL requested (the redirect's source for REDIRECT_REFUSED)
    http_status: int | None
    headers: tuple[tuple[str, str], ...]  # lower-case names, repeated headers kept
    body: bytes
    hops: tuple[Hop, ...]
    trusted: bool  # every hop https with a valid certificate
    elapsed_ms: float
    address: str | None = None  # the IP address that gave the last answer

    @property
    def ok(self) -> bool:
        return self.status is FetchStatus.OK

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        key = name.lower()
        return next((v for k, v in self.headers if k == key), None)

    def headers_named(self, name: str) -> list[str]:
        """Every value of header ``name``, in order (e.g. several WWW-Authenticate)."""
        key = name.lower()
        return [v for k, v in self.headers if k == key]


@dataclass(frozen=True)
class _Fetched:
    """What one hop produced, before the chain logic looks at it."""

    status: FetchStatus
    detail: str
    http_status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    address: str | None = None
    secure: bool = False
    try_next: bool = False  # a connection failure: the next address may work


class _BadUrl(Exception):
    pass


class HttpClient:
    """Requests over httpx, names resolved by ``dns``, certificates checked by ``tls_context``.

    Thread-safe and stateless between requests: every connection is new.
    """

    def __init__(
        self,
        dns: DnsClient,
        tls_context: ssl.SSLContext,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self._dns = dns
        self._tls = tls_context
        self._user_agent = user_agent
        # A hop is "secure" only if this context really verifies chain and name.
        self._verifies = tls_context.verify_mode == ssl.CERT_REQUIRED and tls_context.check_hostname

    def request(
        self,
        method: str,
        url: str,
        *,
        deadline: float,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = True,
        redirect_check: Callable[[str, str], str | None] | None = None,
        keep_method: bool = False,
        max_body: int = MAX_BODY_BYTES,
        max_hops: int = MAX_HOPS,
        cancel: threading.Event | None = None,
    ) -> HttpResult:
        """Send one request, following redirects by hand; never raises for network outcomes.

        ``redirect_check(from_url, to_url)`` returns a reason to refuse a hop, or None.
        ``keep_method`` re-sends method and body on 301/302/307/308 (Autodiscover
        re-POSTs); otherwise 303, and 301/302 after a POST, become GET as in browsers.
        ``max_hops`` bounds the requests of the chain, the first included.
        ``cancel``: setting it abandons the request at once (status ``CANCELLED``).
        """
        started = time.monotonic()
        hops: list[Hop] = []
        seen: set[str] = set()
        current_method = method.upper()
        body = content
        send_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}

        def finish(fetched: _Fetched, at: str, status: FetchStatus | None = None) -> HttpResult:
            return HttpResult(
                status=status or fetched.status,
                detail=fetched.detail,
                url=at,
                http_status=fetched.http_status,
                headers=fetched.headers,
                body=fetched.body if (status or fetched.status) is FetchStatus.OK else b"",
                hops=tuple(hops),
                trusted=bool(hops) and all(h.secure for h in hops),
                elapsed_ms=(time.monotonic() - started) * 1000,
                address=fetched.address,
            )

        try:
            target = _parse_url(url)
        except _BadUrl as exc:
            return finish(_Fetched(FetchStatus.PROTOCOL_ERROR, str(exc)), url)
        while True:
            seen.add(str(target))
            if _cancelled(cancel, deadline):
                return finish(_Fetched(FetchStatus.CANCELLED, "cancelled"), str(target))
            fetched = self._hop(
                current_method,
                target,
                headers=send_headers,
                content=body,
                deadline=deadline,
                timeout=timeout,
                max_body=max_body,
                read_redirect_body=not follow_redirects,
                cancel=cancel,
            )
            hops.append(Hop(str(target), fetched.http_status, fetched.secure, fetched.address))
            location = _header(fetched.headers, "location")
            if (
                fetched.status is not FetchStatus.OK
                or not follow_redirects
                or fetched.http_status not in _REDIRECT_CODES
                or location is None
            ):
                return finish(fetched, str(target))
            refused = _Fetched(
                FetchStatus.REDIRECT_REFUSED,
                "",
                fetched.http_status,
                fetched.headers,
                address=fetched.address,
                secure=fetched.secure,
            )
            try:
                following = _parse_url(location, base=target)
            except _BadUrl as exc:
                return finish(replace(refused, detail=f"unusable redirect: {exc}"), str(target))
            if str(following) in seen:
                detail = f"redirect loop: {target} -> {following} was already requested"
                return finish(replace(refused, detail=detail), str(target))
            if len(hops) >= max_hops:
                detail = f"too many redirects: more than {max_hops} hops (next: {following})"
                return finish(replace(refused, detail=detail), str(target))
            if redirect_check is not None:
                reason = redirect_check(str(target), str(following))
                if reason is not None:
                    return finish(replace(refused, detail=reason), str(target))
            assert fetched.http_status is not None
            if fetched.http_status == 303 or (
                fetched.http_status in (301, 302) and current_method == "POST" and not keep_method
            ):
                if current_method != "HEAD":
                    current_method = "GET"
                body = None
                send_headers = {
                    k: v for k, v in send_headers.items() if k.lower() not in _BODY_HEADERS
                }
            if _origin(following) != _origin(target):
                send_headers = {
                    k: v for k, v in send_headers.items() if k.lower() not in _CREDENTIAL_HEADERS
                }
            target = following

    # ----------------------------------------------------------------- one hop

    def _hop(
        self,
        method: str,
        target: httpx.URL,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        deadline: float,
        timeout: float,
        max_body: int,
        read_redirect_body: bool,
        cancel: threading.Event | None,
    ) -> _Fetched:
        host = target.raw_host.decode("ascii")
        if _is_ip(host):
            addresses: tuple[str, ...] = (host,)
        else:
            if deadline - time.monotonic() <= 0:
                return _Fetched(FetchStatus.TIMEOUT, f"no time left to look up {host}")
            answer = self._dns.addresses(host, deadline=deadline)
            if not answer.addresses:
                if answer.status is DnsStatus.TIMEOUT:
                    return _Fetched(FetchStatus.TIMEOUT, f"DNS lookup of {host}: {answer.detail}")
                return _Fetched(FetchStatus.DNS_ERROR, f"{host}: {answer.detail}")
            addresses = answer.addresses
        last: _Fetched | None = None
        for index, address in enumerate(addresses):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if _cancelled(cancel, deadline):
                return _Fetched(FetchStatus.CANCELLED, "cancelled", address=address)
            op_timeout = min(timeout, left)
            connect_timeout = op_timeout
            if index < len(addresses) - 1:
                connect_timeout = min(op_timeout, FALLBACK_CONNECT_TIMEOUT)
            last = self._attempt(
                method,
                target,
                address,
                headers=headers,
                content=content,
                deadline=deadline,
                op_timeout=op_timeout,
                connect_timeout=connect_timeout,
                max_body=max_body,
                read_redirect_body=read_redirect_body,
                cancel=cancel,
            )
            if not last.try_next:
                return last
        if last is None:
            return _Fetched(FetchStatus.TIMEOUT, f"no time left to connect to {host}")
        return last

    def _attempt(
        self,
        method: str,
        target: httpx.URL,
        address: str,
        *,
        headers: Mapping[str, str],
        content: bytes | None,
        deadline: float,
        op_timeout: float,
        connect_timeout: float,
        max_body: int,
        read_redirect_body: bool,
        cancel: threading.Event | None,
    ) -> _Fetched:
        host = target.raw_host.decode("ascii")
        https = target.scheme == "https"
        port = target.port or _DEFAULT_PORTS[target.scheme]
        watchdog = _Watchdog(deadline, cancel)
        phase = ["connection.connect_tcp"]

        def trace(event: str, info: Mapping[str, Any]) -> None:
            if event.endswith(".started"):
                phase[0] = event.removesuffix(".started")
            elif event == "connection.connect_tcp.complete":
                stream = info.get("return_value")
                if stream is not None:
                    watchdog.watch(stream.get_extra_info("socket"))

        request_headers = {
            "User-Agent": self._user_agent,
            "Accept": "*/*",
            # Identity: a compressed body could inflate a thousandfold before any
            # size check; a server that compresses anyway is decoded with a cap.
            "Accept-Encoding": "identity",
            "Connection": "close",
            **headers,
            "Host": host if target.port is None else f"{host}:{target.port}",
        }
        extensions: dict[str, Any] = {"trace": trace}
        if https and not _is_ip(host):
            extensions["sni_hostname"] = host
        tls = cast(ssl.SSLContext, _HopTLS(self._tls, watchdog))

        def fail(status: FetchStatus, detail: str, try_next: bool = False) -> _Fetched:
            return _Fetched(status, detail, address=address, try_next=try_next)

        with (
            watchdog,
            httpx.Client(
                verify=tls,
                trust_env=False,  # no proxies from the environment: we connect to IPs
                follow_redirects=False,
                limits=httpx.Limits(max_keepalive_connections=0),
                timeout=httpx.Timeout(op_timeout, connect=connect_timeout),
            ) as client,
        ):
            request = client.build_request(
                method,
                target.copy_with(host=address),
                headers=request_headers,
                content=content,
                extensions=extensions,
            )
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                return fail(*self._classify(exc, phase[0], watchdog, host, address, port))
            try:
                status = response.status_code
                answer_headers = tuple(response.headers.multi_items())
                secure = https and self._verifies

                def got(fetch_status: FetchStatus, detail: str, body: bytes = b"") -> _Fetched:
                    return _Fetched(
                        fetch_status, detail, status, answer_headers, body, address, secure
                    )

                if (
                    status in _REDIRECT_CODES
                    and "location" in response.headers
                    and not read_redirect_body
                ):
                    return got(FetchStatus.OK, f"HTTP {status} redirect")
                length = response.headers.get("content-length", "")
                if length.strip().isdigit() and int(length) > max_body:
                    return got(
                        FetchStatus.TOO_LARGE,
                        f"body larger than {_size(max_body)} (Content-Length {int(length)})",
                    )
                try:
                    body = _read_body(response, max_body=max_body, watchdog=watchdog)
                except _BodyTooLarge:
                    return got(FetchStatus.TOO_LARGE, f"body larger than {_size(max_body)}")
                except _BodyTimeout:
                    if watchdog.cancelled or _cancelled(cancel, deadline):
                        return got(FetchStatus.CANCELLED, "cancelled")
                    return got(FetchStatus.TIMEOUT, f"body not complete by the deadline ({host})")
                except _BodyUndecodable as exc:
                    return got(FetchStatus.PROTOCOL_ERROR, str(exc))
                except httpx.HTTPError as exc:
                    result = self._classify(exc, phase[0], watchdog, host, address, port)
                    return got(result[0], result[1])
                return got(FetchStatus.OK, f"HTTP {status}, {len(body)} bytes", body)
            finally:
                response.close()

    @staticmethod
    def _classify(
        exc: httpx.HTTPError,
        phase: str,
        watchdog: _Watchdog,
        host: str,
        address: str,
        port: int,
    ) -> tuple[FetchStatus, str, bool]:
        """(status, one-line reason, try the next address) for an httpx error."""
        where = f"{host} ({address}) port {port}"
        if watchdog.cancelled:
            return FetchStatus.CANCELLED, "cancelled", False
        if watchdog.fired:
            return FetchStatus.TIMEOUT, f"{where}: no complete answer by the deadline", False
        cause = _root_cause(exc)
        timed_out = isinstance(exc, httpx.TimeoutException)
        if phase == "connection.connect_tcp":
            if timed_out:
                return FetchStatus.TIMEOUT, f"{where}: no TCP handshake (filtered?)", True
            code = cause.errno if isinstance(cause, OSError) else None
            if code == errno.ECONNREFUSED:
                return FetchStatus.CONNECT_ERROR, f"{where}: connection refused", True
            reason = errno.errorcode.get(code, str(cause)) if code else str(cause)
            return FetchStatus.CONNECT_ERROR, f"{where}: cannot connect ({reason})", True
        if phase == "connection.start_tls":
            if isinstance(cause, ssl.SSLCertVerificationError):
                return FetchStatus.CERT_INVALID, _certificate_problem(host, cause), False
            if timed_out:
                return FetchStatus.TIMEOUT, f"{where}: TLS handshake did not finish in time", False
            if isinstance(cause, ssl.SSLError):
                reason = tls_error_reason(cause)
                return FetchStatus.TLS_ERROR, f"{where}: TLS handshake failed: {reason}", False
            return (
                FetchStatus.TLS_ERROR,
                f"{where}: connection closed during the TLS handshake",
                False,
            )
        if timed_out:
            return FetchStatus.TIMEOUT, f"{where}: no answer in time", False
        if isinstance(exc, httpx.RemoteProtocolError):
            text = str(exc).rstrip(".")
            if "without sending" in text or "disconnected" in text:
                return FetchStatus.PROTOCOL_ERROR, f"{where}: closed the connection: {text}", False
            return FetchStatus.PROTOCOL_ERROR, f"{where}: not a valid HTTP answer: {text}", False
        return FetchStatus.PROTOCOL_ERROR, f"{where}: connection broken: {exc or cause}", False


# ------------------------------------------------------------------ watchdog and TLS


class _Watchdog:
    """Shuts the connection's socket down at the deadline, or when ``cancel`` is set,
    whatever httpx is waiting for at that moment."""

    def __init__(self, deadline: float, cancel: threading.Event | None = None) -> None:
        self._deadline = deadline
        self._cancel = cancel
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.fired = False  # the deadline passed, or cancel was set
        self.cancelled = False

    def __enter__(self) -> _Watchdog:
        self._thread = threading.Thread(target=self._run, name="http-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._sock = None

    @property
    def expired(self) -> bool:
        """Time is up or the caller cancelled, even if the thread has not acted yet."""
        return (
            self.fired
            or time.monotonic() >= self._deadline
            or (self._cancel is not None and self._cancel.is_set())
        )

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.fired:
                self._shutdown()

    def _run(self) -> None:
        while True:
            left = self._deadline - time.monotonic()
            if left <= 0:
                self._fire(cancelled=False)
                return
            wait = left if self._cancel is None else min(left, CANCEL_POLL)
            if self._done.wait(wait):
                return
            if _cancelled(self._cancel, self._deadline):
                self._fire(cancelled=True)
                return

    def _fire(self, *, cancelled: bool) -> None:
        with self._lock:
            self.fired = True
            self.cancelled = cancelled
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)


class _HopTLS:
    """What httpcore gets instead of the shared ``SSLContext`` (see the module docstring)."""

    def __init__(self, context: ssl.SSLContext, watchdog: _Watchdog) -> None:
        self._context = context
        self._watchdog = watchdog

    def set_alpn_protocols(self, protocols: list[str]) -> None:
        """Ignored: the shared context must not offer ALPN ``http/1.1`` to mail servers."""

    def wrap_socket(
        self, sock: socket.socket, server_hostname: str | None = None, **_: object
    ) -> ssl.SSLSocket:
        # A connection the server already reset makes SSLSocket's constructor
        # raise without closing itself (CPython 3.11 ssl.py): find out first.
        sock.getpeername()
        tls = self._context.wrap_socket(
            sock, server_hostname=server_hostname, do_handshake_on_connect=False
        )
        self._watchdog.watch(tls)
        try:
            tls.do_handshake()
        except BaseException:
            # httpcore closes the plain socket it passed in, which is detached now.
            tls.close()
            raise
        return tls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


# ------------------------------------------------------------------ bodies


class _BodyTooLarge(Exception):
    pass


class _BodyTimeout(Exception):
    pass


class _BodyUndecodable(Exception):
    pass


def _read_body(response: httpx.Response, *, max_body: int, watchdog: _Watchdog) -> bytes:
    """The body, decoded, at most ``max_body`` bytes; the deadline is checked per chunk."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflate: Any = None
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflate = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise _BodyUndecodable(f"unsupported Content-Encoding {encoding[:20]!r}")
    parts: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        if inflate is None:
            data = raw
        else:
            try:
                # max_length bounds what one chunk may inflate to (a gzip bomb).
                data = inflate.decompress(raw, max_body - size + 1)
            except zlib.error as exc:
                raise _BodyUndecodable(f"body is not valid {encoding}: {exc}") from None
        size += len(data)
        if size > max_body:
            raise _BodyTooLarge
        parts.append(data)
        if watchdog.expired:
            raise _BodyTimeout
    return b"".join(parts)


# ------------------------------------------------------------------ helpers


def _parse_url(text: str, *, base: httpx.URL | None = None) -> httpx.URL:
    try:
        url = base.join(text.strip()) if base is not None else httpx.URL(text)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise _BadUrl(f"invalid URL {text[:80]!r}: {exc}") from None
    if url.scheme not in _DEFAULT_PORTS:
        raise _BadUrl(f"not an http(s) URL: {text[:80]!r}")
    if not url.raw_host:
        raise _BadUrl(f"no host in URL {text[:80]!r}")
    return url


def _origin(url: httpx.URL) -> tuple[str, bytes, int]:
    return (url.scheme, url.raw_host, url.port or _DEFAULT_PORTS[url.scheme])


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    return next((v for k, v in headers if k == name), None)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _cancelled(cancel: threading.Event | None, deadline: float) -> bool:
    """The caller cancelled before time ran out (at the deadline it is a timeout)."""
    return cancel is not None and cancel.is_set() and time.monotonic() < deadline


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception: httpx wraps httpcore's, which wraps the OSError."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


# OpenSSL verify codes (x509_vfy.h) that get their own words; 62 is the name mismatch.
_CERT_WORDS = {
    10: "the certificate of {host} has expired",
    9: "the certificate of {host} is not valid yet",
    62: "the certificate is not valid for the name {host}",
    18: "the certificate of {host} is self-signed",
    19: "the certificate chain of {host} ends in an unknown self-signed root",
    2: "the certificate of {host} comes from an unknown authority",
    20: "the certificate of {host} comes from an unknown authority",
    21: "the certificate of {host} comes from an unknown authority",
}


def _certificate_problem(host: str, exc: ssl.SSLCertVerificationError) -> str:
    code = getattr(exc, "verify_code", -1)
    words = _CERT_WORDS.get(code)
    message = verify_error(exc)
    if words is None:
        return f"invalid certificate for {host}: {message}"
    if code == 62:  # OpenSSL's words would only repeat ours
        return words.format(host=host)
    return f"{words.format(host=host)} ({message})"


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"
