"""A small HTTPS + HTTP web server with name-based virtual hosts, for the web probes
(autoconfig, Autodiscover, EWS/ActiveSync 401 challenges...).

    site = WebServer("127.0.1.9", lab.cert("example.test", "autoconfig.example.test"))
    site.host("example.test").host("autoconfig.example.test")
    site.host("bad.example.test", cert=lab.ca.issue_expired("bad.example.test"))
    site.route("autoconfig.example.test", "GET", "/mail/config-v1.1.xml", xml(CONFIG))
    site.route("example.test", "POST", "/autodiscover/autodiscover.xml", answer_fn)
    site.route("example.test", "GET", "/", redirect("https://x.test/"), scheme="http")
    site.fallback(None, html("<h1>Parked</h1>"))      # 200 HTML on every other path
    site.start() ... site.requests ... site.stop()    # or ``with``, or ``lab.web(...)``

One server listens on one IP: HTTPS on ``https_port`` (443) and plain HTTP on
``http_port`` (80); either may be None (off) or 0 (a free port, read back after
``start()``).  The TLS certificate is picked by SNI: a name declared with
``host(name, cert)`` gets its own certificate, anything else (unknown name, no SNI, a
vhost declared without a certificate) gets the default ``cert``.  Routes are looked up
by (scheme, Host header without port, method, path without query): first the exact
route, then ``fallback(host)``, then ``fallback(None)``, then 405 (the path exists with
another method) or 404.  HEAD uses the GET route without the body.  ``answer`` is a
``Response`` or a function ``Request -> Response``.

Every request is recorded in ``requests`` (``Request``: scheme, host, method, path,
query, headers, body, sni...); every TLS handshake in ``handshakes`` (a client that
rejected the certificate leaves ``Handshake(ok=False)`` and no request).  A handler
that raises answers 500 and ``stop()`` raises ``LabError`` with it.

How a client reaches a vhost by IP while verifying the name, as a browser would (httpx
0.28; the product calls it the same way)::

    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    with httpx.Client(verify=ctx) as client:
        client.get(f"https://{ip}/mail/config-v1.1.xml",
                   headers={"Host": name}, extensions={"sni_hostname": name})

``sni_hostname`` sets the TLS server name *and* the name the certificate is checked
against; the ``Host`` header picks the vhost (httpx would otherwise send the IP).
Caveat: httpx pools connections by (scheme, IP, port) only, so one ``Client`` that asks
two names on the same IP reuses the first TLS connection (first name's SNI and
certificate check) for the second: use one client per name, or
``headers={"Connection": "close"}``.  On a redirect httpx keeps the request extensions,
i.e. the old ``sni_hostname``: follow redirects by hand.

Plain HTTP with the stdlib: ``http.client.HTTPConnection(ip, 80).request("GET", path,
headers={"Host": name})``.

Response helpers: ``html``, ``xml``, ``json_response``, ``redirect``, ``unauthorized``
(one ``WWW-Authenticate`` header per challenge), ``chunked`` / ``slow`` (a chunked body
that drips, one chunk every ``interval`` s), ``huge`` (a generated body of N bytes,
never held in memory), and ``Response(..., delay=s)`` (headers only after ``s``
seconds).  Every wait wakes up at ``stop()``; ``stop()`` shuts every connection down
(idle keep-alive, mid-handshake, mid-body) and joins every thread.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

from .ca import CertFiles
from .errors import LabError, Unavailable, bind_failure

__all__ = [
    "Handler",
    "Handshake",
    "Request",
    "Response",
    "Scheme",
    "WebServer",
    "chunked",
    "html",
    "huge",
    "json_response",
    "redirect",
    "slow",
    "unauthorized",
    "xml",
]

Scheme = Literal["http", "https"]
_SCHEMES: dict[str, tuple[Scheme, ...]] = {
    "http": ("http",),
    "https": ("https",),
    "both": ("https", "http"),
}
_JOIN_TIMEOUT = 5.0
_DRAIN = 64 << 20  # request body bytes beyond max_body read (and dropped) before a 413


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _name(name: str) -> str:
    """Host name as compared: lower case, A-label (punycode), no trailing dot."""
    name = name.strip().rstrip(".").lower()
    if not name.isascii():
        with contextlib.suppress(UnicodeError):
            name = name.encode("idna").decode("ascii")
    return name


def _host_of(header: str) -> str:
    """The host of a ``Host`` header value, without the port."""
    value = header.strip()
    if value.startswith("["):  # [v6]:port
        return value[1 : value.find("]")].lower() if "]" in value else value.lower()
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit():
        value = host
    return _name(value)


def _split_target(target: str) -> tuple[str, str]:
    """(path, raw query) of a request target, origin-form or absolute-form."""
    if not target.startswith("/"):
        parts = urlsplit(target)
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query.partition("#")[0]


# ------------------------------------------------------------------------ records
@dataclass(frozen=True)
class Request:
    """One request as received.  ``host``: the Host header without port (lower case;
    the SNI name if there was no Host header); ``path``: as sent, without the query;
    ``raw_query``: the query string as sent; ``headers``: every header, in order."""

    scheme: Scheme
    host: str
    method: str
    path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    sni: str | None
    port: int
    client: tuple[str, int]

    @property
    def query(self) -> dict[str, list[str]]:
        """The decoded query, e.g. ``{"emailaddress": ["user@example.test"]}``."""
        return parse_qs(self.raw_query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def target(self) -> str:
        return f"{self.path}?{self.raw_query}" if self.raw_query else self.path

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first header ``name`` (any case), or ``default``."""
        values = self.header_all(name)
        return values[0] if values else default

    def header_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def contains(self, needle: str | bytes) -> bool:
        """True if ``needle`` appears anywhere in this request: target (raw or
        percent-decoded), header values, Basic credentials (decoded), body (raw or
        form-decoded).  For "the password was never sent" assertions."""
        needle = _bytes(needle)
        haystacks = [self.target.encode(), unquote_to_bytes(self.target.replace("+", " "))]
        haystacks += [value.encode("latin-1", "replace") for _, value in self.headers]
        for value in self.header_all("Authorization") + self.header_all("Proxy-Authorization"):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "basic":
                with contextlib.suppress(binascii.Error, ValueError):
                    haystacks.append(base64.b64decode(token.strip(), validate=False))
        haystacks += [self.body, unquote_to_bytes(self.body.replace(b"+", b" "))]
        return any(needle in haystack for haystack in haystacks)


@dataclass(frozen=True)
class Handshake:
    """One TLS handshake: the SNI the client sent, whether it completed, and why not."""

    sni: str | None
    ok: bool
    error: str = ""


@dataclass(init=False)
class Response:
    """What to answer.  ``headers``: a mapping or (name, value) pairs (repeat a name to
    send it several times).  A ``Content-Length`` is added unless given (a given
    ``Content-Length`` or ``Transfer-Encoding`` is sent as is, and the connection is
    closed after the response).

    ``stream``: a factory of body pieces, sent instead of ``body``: chunked, or raw with
    ``Content-Length: length`` when ``length`` is given; ``interval`` seconds between
    pieces.  ``delay``: seconds to wait before the status line.  ``close``: send
    ``Connection: close`` and close after the response."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    stream: Callable[[], Iterable[bytes]] | None
    length: int | None
    interval: float
    delay: float
    close: bool

    def __init__(
        self,
        status: int = 200,
        body: bytes | str = b"",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        *,
        stream: Callable[[], Iterable[bytes]] | None = None,
        length: int | None = None,
        interval: float = 0.0,
        delay: float = 0.0,
        close: bool = False,
    ) -> None:
        self.status = status
        self.body = _bytes(body)
        if headers is None:
            self.headers = ()
        elif isinstance(headers, Mapping):
            self.headers = tuple(headers.items())
        else:
            self.headers = tuple(headers)
        self.stream = stream
        self.length = length
        self.interval = interval
        self.delay = delay
        self.close = close


Handler = Callable[[Request], Response]
"""A dynamic answer: called (in the connection's thread) with each matching request."""


# ------------------------------------------------------------------------ helpers
def _with(headers: Mapping[str, str] | None, *pairs: tuple[str, str]) -> list[tuple[str, str]]:
    given = list((headers or {}).items())
    names = {key.lower() for key, _ in given}
    return [pair for pair in pairs if pair[0].lower() not in names] + given


def html(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """An HTML page (``text/html; charset=utf-8``)."""
    return Response(status, text, _with(headers, ("Content-Type", "text/html; charset=utf-8")))


def xml(
    text: str | bytes,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    content_type: str = "text/xml; charset=utf-8",
) -> Response:
    """An XML document (autoconfig, Autodiscover POX)."""
    return Response(status, text, _with(headers, ("Content-Type", content_type)))


def json_response(
    value: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``value`` as JSON (Autodiscover v2)."""
    body = json.dumps(value).encode()
    return Response(status, body, _with(headers, ("Content-Type", "application/json")))


def redirect(
    location: str, status: int = 302, headers: Mapping[str, str] | None = None
) -> Response:
    """A redirect to ``location`` (301, 302, 303, 307, 308)."""
    body = f'<a href="{location}">moved</a>'
    pairs = _with(headers, ("Location", location), ("Content-Type", "text/html"))
    return Response(status, body, pairs)


def unauthorized(
    *challenges: str, body: str | bytes = b"", headers: Mapping[str, str] | None = None
) -> Response:
    """A 401 with one ``WWW-Authenticate`` header per challenge, e.g.
    ``unauthorized('Bearer authorization_uri="https://login.test/x"', "Negotiate",
    "NTLM", 'Basic realm="x"')``."""
    pairs = [("WWW-Authenticate", challenge) for challenge in challenges]
    return Response(401, body, pairs + list((headers or {}).items()))


def chunked(
    *chunks: str | bytes,
    interval: float = 0.0,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A chunked body: ``chunks`` one by one, ``interval`` seconds apart."""
    pieces = [_bytes(chunk) for chunk in chunks]
    return Response(
        status,
        headers=_with(headers, ("Content-Type", "text/plain")),
        stream=lambda: pieces,
        interval=interval,
    )


def slow(
    body: str | bytes,
    *,
    interval: float = 1.0,
    chunk_size: int = 1,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``body`` dripped ``chunk_size`` bytes every ``interval`` seconds (chunked)."""
    data = _bytes(body)
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    return chunked(*pieces, interval=interval, status=status, headers=headers)


def huge(
    size: int,
    *,
    fill: bytes = b"x",
    piece: int = 65536,
    announce: bool = False,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A generated body of ``size`` bytes of ``fill``, sent as fast as the client
    reads: chunked, or with ``Content-Length: size`` up front when ``announce``."""
    block = (fill * (piece // max(1, len(fill)) + 1))[:piece]

    def pieces() -> Iterator[bytes]:
        left = size
        while left > 0:
            yield block[:left]
            left -= len(block)

    return Response(
        status,
        headers=_with(headers, ("Content-Type", "application/octet-stream")),
        stream=pieces,
        length=size if announce else None,
    )


# ------------------------------------------------------------------------ HTTP
class _Handler(BaseHTTPRequestHandler):
    server: _Listener
    protocol_version = "HTTP/1.1"
    server_version = "LabWeb/1.0"
    disable_nagle_algorithm = True  # else headers + body cost a 40 ms delayed ACK

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # no stderr noise
        pass

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_PROPFIND = do_GET

    def _dispatch(self) -> None:
        site = self.server.site
        read = self._read_body()
        if read is None:
            return
        body, too_large = read
        path, query = _split_target(self.path)
        sni = site.current_sni()
        host = _host_of(self.headers.get("Host", "")) or sni or ""
        request = Request(
            scheme=self.server.scheme,
            host=host,
            method=self.command,
            path=path,
            raw_query=query,
            headers=tuple(self.headers.items()),
            body=body,
            sni=sni,
            port=self.server.server_address[1],
            client=(str(self.client_address[0]), int(self.client_address[1])),
        )
        site.record(request)
        if too_large:
            self._send(Response(413, "request body too large", close=True))
        else:
            self._send(site.answer(request))

    def _read_body(self) -> tuple[bytes, bool] | None:
        """(body, too large); the part beyond ``max_body`` is read and dropped (so the
        client gets the 413 instead of a reset).  None: bad framing, 400 sent."""
        limit = self.server.site.max_body
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "bad Content-Length")
            return None
        body = self.rfile.read(min(length, limit))
        if length <= limit:
            return body, False
        left = length - limit
        if left > _DRAIN:
            self.close_connection = True  # do not read a flood
        while 0 < left <= _DRAIN and (piece := self.rfile.read(min(left, 65536))):
            left -= len(piece)
        return body, True

    def _read_chunked(self, limit: int) -> tuple[bytes, bool] | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.send_error(400, "bad chunk")
                return None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)[:limit], total > limit
            total += size
            if total > limit + _DRAIN:
                self.close_connection = True  # do not read a flood
                return b"".join(parts)[:limit], True
            piece = self.rfile.read(size)
            if total - size < limit:
                parts.append(piece)
            self.rfile.readline()

    def _send(self, response: Response) -> None:
        site = self.server.site
        if response.delay > 0 and site.sleep(response.delay):
            self.close_connection = True
            return
        status = response.status
        self.send_response(status)
        names = {key.lower() for key, _ in response.headers}
        for key, value in response.headers:
            self.send_header(key, value)
        if response.close:
            self.send_header("Connection", "close")
        bodiless = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        framed = False  # chunked framing added here
        if "content-length" in names or "transfer-encoding" in names:
            self.close_connection = True  # the given framing may be a lie
        elif response.stream is None:
            if status not in (204, 304) and not 100 <= status < 200:
                self.send_header("Content-Length", str(len(response.body)))
        elif response.length is not None:
            self.send_header("Content-Length", str(response.length))
        else:
            self.send_header("Transfer-Encoding", "chunked")
            framed = True
        self.end_headers()
        if bodiless:
            return
        if response.stream is None:
            self.wfile.write(response.body)
            return
        sent = 0
        for i, piece in enumerate(response.stream()):
            if (i and response.interval > 0 and site.sleep(response.interval)) or site.stopping:
                self.close_connection = True
                return
            if piece:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if framed else piece)
                sent += len(piece)
        if framed:
            self.wfile.write(b"0\r\n\r\n")
        elif response.length is not None and sent != response.length:
            self.close_connection = True


class _Listener(ThreadingHTTPServer):
    """One port of a ``WebServer``; connections are served by the ``WebServer``."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, site: WebServer, scheme: Scheme, port: int) -> None:
        self.site = site
        self.scheme: Scheme = scheme
        super().__init__((site.ip, port), _Handler, bind_and_activate=False)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() would do a reverse DNS lookup (getfqdn): skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.site.ip
        self.server_port = self.server_address[1]

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        assert isinstance(request, socket.socket)
        self.site.spawn(self, request, client_address)


class WebServer:
    """HTTPS (``https_port``) and plain HTTP (``http_port``) on ``ip`` with name-based
    virtual hosts; see the module documentation.  ``cert``: the default certificate
    (unknown or absent SNI); None: the first vhost's.  ``max_body``: larger request
    bodies get 413.  ``idle_timeout``: a connection that sends nothing for that long
    is closed (``stop()`` does not wait for it)."""

    def __init__(
        self,
        ip: str = "127.0.0.1",
        cert: CertFiles | None = None,
        *,
        https_port: int | None = 443,
        http_port: int | None = 80,
        max_body: int = 1 << 20,
        idle_timeout: float = 30.0,
    ) -> None:
        self.ip = ip
        self.cert = cert
        self.https_port = https_port
        self.http_port = http_port
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.requests: list[Request] = []
        """Every request received, in order."""
        self.handshakes: list[Handshake] = []
        """Every TLS handshake, completed or not."""
        self.errors: list[BaseException] = []
        """Exceptions raised by handlers (answered 500) or by the server itself."""
        self.vhosts: dict[str, CertFiles | None] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._local = threading.local()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._default_context: ssl.SSLContext | None = None
        self._routes: dict[tuple[Scheme, str, str, str], Response | Handler] = {}
        self._fallbacks: dict[tuple[Scheme, str | None], Response | Handler] = {}
        self._listeners: list[tuple[_Listener, threading.Thread]] = []
        self._conns: dict[threading.Thread, socket.socket] = {}
        self._reported = False

    # ------------------------------------------------------------------ config
    def host(self, name: str, cert: CertFiles | None = None) -> Self:
        """Declare virtual host ``name``; its SNI gets ``cert`` (None: the default
        certificate).  May be called while running."""
        key = _name(name)
        context = cert.server_context() if cert is not None else None
        with self._lock:
            self.vhosts[key] = cert
            if context is not None:
                self._contexts[key] = context
            else:
                self._contexts.pop(key, None)
        return self

    def route(
        self,
        host: str,
        method: str,
        path: str,
        answer: Response | Handler,
        *,
        scheme: Literal["https", "http", "both"] = "https",
    ) -> Self:
        """Answer ``method path`` (no query string) on vhost ``host`` over ``scheme``."""
        with self._lock:
            for one in _SCHEMES[scheme]:
                self._routes[(one, _name(host), method.upper(), path)] = answer
        return self

    def fallback(
        self,
        host: str | None,
        answer: Response | Handler,
        *,
        scheme: Literal["https", "http", "both"] = "both",
    ) -> Self:
        """Answer every unrouted request for ``host`` (None: for any host), like a web
        host that answers 200 HTML on every path."""
        with self._lock:
            for one in _SCHEMES[scheme]:
                self._fallbacks[(one, None if host is None else _name(host))] = answer
        return self

    def url(self, path: str = "/", scheme: Scheme = "https") -> str:
        """``scheme://ip:port/path`` (connect there, send the name as SNI and Host)."""
        port = self.https_port if scheme == "https" else self.http_port
        return f"{scheme}://{self.ip}:{port}{path}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        self._stopping.clear()
        if self.https_port is not None:
            self._default_context = self._make_default_context()
        try:
            ports: tuple[tuple[Scheme, int | None], ...] = (
                ("https", self.https_port),
                ("http", self.http_port),
            )
            for scheme, port in ports:
                if port is None:
                    continue
                listener = _Listener(self, scheme, port)
                try:
                    listener.server_bind()
                    listener.server_activate()
                except OSError as exc:
                    listener.server_close()
                    what = f"WebServer {scheme}"
                    raise Unavailable(bind_failure(exc, self.ip, port, what)) from exc
                thread = threading.Thread(
                    target=listener.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"lab-web-{scheme}-{self.ip}",
                    daemon=True,
                )
                thread.start()
                self._listeners.append((listener, thread))
                if scheme == "https":
                    self.https_port = listener.server_address[1]
                else:
                    self.http_port = listener.server_address[1]
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop listening, shut every connection down, join every thread; then raise
        ``LabError`` if a handler raised meanwhile.  Idempotent."""
        with self._lock:
            self._stopping.set()
        for listener, thread in self._listeners:
            listener.shutdown()
            thread.join(timeout=_JOIN_TIMEOUT)
        with self._lock:
            conns = dict(self._conns)
        for conn in conns.values():
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RDWR)  # not SSLSocket's
        stuck = []
        for thread in conns:
            thread.join(timeout=_JOIN_TIMEOUT)
            if thread.is_alive():  # pragma: no cover - a handler that never returns
                stuck.append(thread.name)
        for listener, _ in self._listeners:
            listener.server_close()
        self._listeners.clear()
        if stuck:
            raise LabError(f"WebServer {self.ip}: connection threads did not stop: {stuck}")
        if self.errors and not self._reported:
            self._reported = True
            first = self.errors[0]
            raise LabError(f"WebServer {self.ip}: a handler failed: {first!r}") from first

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals
    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True if ``stop()`` was called meanwhile."""
        return self._stopping.wait(seconds)

    def current_sni(self) -> str | None:
        """The SNI of the connection served by the calling thread."""
        sni: str | None = getattr(self._local, "sni", None)
        return sni

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, request: Request) -> Response:
        """The answer to ``request`` (500 if a handler raises)."""
        with self._lock:
            found = self._lookup(request)
        if found is None:
            return Response(404, "not found", {"Content-Type": "text/plain"})
        if isinstance(found, Response):
            return found
        try:
            return found(request)
        except Exception as exc:
            with self._lock:
                self.errors.append(exc)
            return Response(500, "handler failed", {"Content-Type": "text/plain"})

    def _lookup(self, request: Request) -> Response | Handler | None:
        methods = [request.method]
        if request.method == "HEAD":
            methods.append("GET")
        for method in methods:
            found = self._routes.get((request.scheme, request.host, method, request.path))
            if found is not None:
                return found
        for host in (request.host, None):
            found = self._fallbacks.get((request.scheme, host))
            if found is not None:
                return found
        allowed = sorted(
            method
            for (scheme, host, method, path) in self._routes
            if (scheme, host, path) == (request.scheme, request.host, request.path)
        )
        if allowed:
            text = "method not allowed"
            return Response(405, text, {"Allow": ", ".join(allowed), "Content-Type": "text/plain"})
        return None

    def _make_default_context(self) -> ssl.SSLContext:
        cert = self.cert or next((c for c in self.vhosts.values() if c is not None), None)
        if cert is None:
            raise LabError("WebServer: HTTPS needs a certificate (cert= or host(name, cert))")
        context = cert.server_context()
        context.sni_callback = self._on_sni
        return context

    def _on_sni(
        self, sock: ssl.SSLSocket | ssl.SSLObject, name: str | None, _context: ssl.SSLContext
    ) -> None:
        self._local.sni = name
        if name:
            other = self._contexts.get(_name(name))
            if other is not None:
                sock.context = other

    def spawn(self, listener: _Listener, raw: socket.socket, address: Any) -> None:
        """Serve connection ``raw`` in a new thread (called by the listener)."""
        with self._lock:
            if self._stopping.is_set():
                raw.close()
                return
            thread = threading.Thread(
                target=self._serve,
                args=(listener, raw, address),
                name=f"lab-web-{listener.scheme}-{address}",
                daemon=True,
            )
            self._conns[thread] = raw
            thread.start()

    def _serve(self, listener: _Listener, raw: socket.socket, address: Any) -> None:
        conn: socket.socket | None = raw
        self._local.sni = None
        try:
            raw.settimeout(self.idle_timeout)
            if listener.scheme == "https":
                conn = self._handshake(raw)
            if conn is not None:
                listener.RequestHandlerClass(conn, address, listener)
        except OSError:
            pass  # the client went away, or stop()
        except Exception as exc:
            with self._lock:
                self.errors.append(exc)
        finally:
            with self._lock:
                self._conns.pop(threading.current_thread(), None)
            if conn is not None:
                conn.close()
            raw.close()

    def _handshake(self, raw: socket.socket) -> ssl.SSLSocket | None:
        assert self._default_context is not None
        with self._lock:
            if self._stopping.is_set():
                return None
            tls = self._default_context.wrap_socket(
                raw, server_side=True, do_handshake_on_connect=False
            )
            self._conns[threading.current_thread()] = tls
        try:
            tls.do_handshake()
        except OSError as exc:
            tls.close()
            with self._lock:
                self.handshakes.append(Handshake(self.current_sni(), False, str(exc)))
            return None
        with self._lock:
            self.handshakes.append(Handshake(self.current_sni(), True))
        return tls
