"""A fake Exchange front end: SOAP Autodiscover (``autodiscover.svc``) over HTTPS.

    ex = fake_exchange(lab, "autodiscover.example.test",
                       ews_url="https://mail.example.test/EWS/Exchange.asmx")
    ex.requests            # every request, HTTPS and HTTP, in order
    ex.tls_failures        # handshakes that failed (e.g. the client refused our certificate)

It answers what exchangelib 5.x sends (``exchangelib/autodiscover/discovery.py``,
``transport.get_autodiscover_authtype``, ``services/get_user_settings.py``):

- ``POST /autodiscover/autodiscover.svc`` without credentials: 401 with the
  ``challenges`` as ``WWW-Authenticate`` (default ``Basic realm=...``: exchangelib
  then picks Basic; with ``NTLM`` among them it picks NTLM, which the fake
  checks it with pyspnego against the ``NTLM_USER_FILE`` the test sets, see
  ``ntlm_user_file``). With valid credentials: a GetUserSettings SOAP answer
  (MS-OXWSADISC) for the requested settings, ``ServerVersionInfo`` in the SOAP
  header, ``InvalidUser`` for an unknown mailbox, or the configured
  ``response_error`` / ``redirect_url``. Wrong credentials: 401 again.
- ``HEAD``/``GET`` on HTTPS (exchangelib's "does the redirect target answer"
  check): 401 with the challenges, like IIS.
- Port 80 (``http_port``): ``GET`` of the Autodiscover path answers 302 to
  ``http_redirect`` when given (Autodiscover step 3), 404 otherwise.
- ``mode="html"``: 200 with a web page for every HTTPS request, like a web host
  that serves its home page on any path.

EWS itself (``/EWS/Exchange.asmx``) is not served: exchangelib learns the server
version from the Autodiscover SOAP header, so nothing asks it.

Each fake host binds the standard ports (443, and 80 unless ``http_port=None``) on
its own loopback IP, so ``Unavailable`` is raised when that is impossible (not root).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.server
import socket
import ssl
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self
from xml.sax.saxutils import escape

from .ca import CertFiles
from .errors import Unavailable, bind_failure

if TYPE_CHECKING:
    from .servers import Lab

__all__ = [
    "AUTODISCOVER_PATH",
    "FakeExchange",
    "RecordedRequest",
    "fake_exchange",
    "ntlm_user_file",
]

AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc"
ANS = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
_TIMEOUT = 5.0  # an idle keep-alive connection is dropped after this many seconds


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    scheme: Literal["http", "https"]
    method: str
    path: str
    host: str  # the Host header
    authorization: str | None  # the raw Authorization header, if any
    body: bytes

    @property
    def basic(self) -> tuple[str, str] | None:
        """(user, password) of an HTTP Basic Authorization header."""
        if not self.authorization or not self.authorization.lower().startswith("basic "):
            return None
        try:
            text = base64.b64decode(self.authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = text.partition(":")
        return (user, password) if sep else None


class FakeExchange:
    """Autodiscover SOAP on ``ip``:443 (and a redirecting HTTP listener on :80)."""

    def __init__(
        self,
        ip: str,
        cert: CertFiles,
        users: Mapping[str, str],
        *,
        ews_url: str | None = "https://mail.example.test/EWS/Exchange.asmx",
        internal_ews_url: str | None = None,
        mailboxes: tuple[str, ...] | None = None,
        build: tuple[int, int, int, int] = (15, 1, 2507, 6),
        api_version: str = "Exchange2016",
        server_version_header: bool = True,
        challenges: tuple[str, ...] = ('Basic realm="autodiscover"',),
        https_port: int = 443,
        http_port: int | None = 80,
        http_redirect: str | None = None,
        mode: Literal["autodiscover", "html"] = "autodiscover",
        response_error: tuple[str, str] | None = None,
        redirect_url: str | None = None,
        ms_online: bool = False,
        extra_settings: Mapping[str, str] | None = None,
    ) -> None:
        self.ip = ip
        self.cert = cert
        self.users = dict(users)
        self.mailboxes = tuple(m.lower() for m in (mailboxes or tuple(users)))
        self.ews_url = ews_url
        self.internal_ews_url = internal_ews_url
        self.build = build
        self.api_version = api_version
        self.server_version_header = server_version_header
        self.challenges = challenges
        self.https_port = https_port
        self.http_port = http_port
        self.http_redirect = http_redirect
        self.mode = mode
        self.response_error = response_error
        self.redirect_url = redirect_url
        self.ms_online = ms_online
        self.extra_settings = dict(extra_settings or {})
        self.requests: list[RecordedRequest] = []
        self.tls_failures: list[str] = []
        self._lock = threading.Lock()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._live: set[socket.socket] = set()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        context = self.cert.server_context()
        listeners: list[tuple[int, ssl.SSLContext | None]] = [(self.https_port, context)]
        if self.http_port is not None:
            listeners.append((self.http_port, None))
        try:
            for port, tls in listeners:
                try:
                    server = _Server((self.ip, port), self, tls)
                except OSError as exc:
                    raise Unavailable(bind_failure(exc, self.ip, port, "fake Exchange")) from exc
                self._servers.append(server)
        except Unavailable:
            self.stop()
            raise
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-exchange-{self.ip}:{server.server_address[1]}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server, _thread in zip(self._servers, self._threads, strict=False):
            server.shutdown()  # only servers whose loop runs: shutdown() waits for it
        for server in self._servers:
            server.server_close()
        with self._lock:
            live = list(self._live)
        for sock in live:  # wake handler threads waiting on idle keep-alive connections
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the fd, under any TLS layer
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ queries
    @property
    def credentialed(self) -> list[RecordedRequest]:
        """The requests that carried an Authorization header."""
        with self._lock:
            return [r for r in self.requests if r.authorization]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # ------------------------------------------------------------------ answers
    def settings_for(self, mailbox: str) -> dict[str, str]:
        schemas = "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, "
        schemas += "Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2015, Exchange2016"
        major, minor, build, revision = self.build
        values = {
            "UserDisplayName": "Lab User",
            "UserDeploymentId": "5b5c2c0a-7c4b-4c47-9a1b-1d1b8d7c0d6e",
            "AutoDiscoverSMTPAddress": mailbox,
            "CasVersion": f"{major}.{minor:02d}.{build:04d}.{revision:03d}",
            "EwsSupportedSchemas": schemas,
            "UserMSOnline": "True" if self.ms_online else "False",
        }
        if self.ews_url:
            values["ExternalEwsUrl"] = self.ews_url
        if self.internal_ews_url:
            values["InternalEwsUrl"] = self.internal_ews_url
        return values

    def soap_answer(self, body: bytes) -> bytes:
        """The GetUserSettings answer to request ``body``."""
        root = ET.fromstring(body)  # our own client's request, on loopback
        mailbox = (root.findtext(f".//{{{ANS}}}Mailbox") or "").strip()
        wanted = [s.text or "" for s in root.iter(f"{{{ANS}}}Setting")]
        if self.response_error is not None:
            code, message = self.response_error
            return _envelope(self._header(), _response(code, message, ""))
        if self.redirect_url is not None:
            user = _user_response("RedirectUrl", "Redirection URL.", self.redirect_url, {})
            return _envelope(self._header(), _response("NoError", "", user))
        if mailbox.lower() not in self.mailboxes:
            user = _user_response("InvalidUser", f"Invalid user: '{mailbox}'", None, {})
            return _envelope(self._header(), _response("NoError", "", user))
        values = self.settings_for(mailbox)
        chosen = {name: values[name] for name in wanted if name in values}
        chosen.update(self.extra_settings)  # sent whether asked for or not
        user = _user_response("NoError", "No error.", None, chosen)
        return _envelope(self._header(), _response("NoError", "", user))

    def _header(self) -> str:
        if not self.server_version_header:
            return ""
        major, minor, build, revision = self.build
        return (
            f'<h:ServerVersionInfo xmlns:h="{ANS}" '
            'xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
            f"<h:MajorVersion>{major}</h:MajorVersion><h:MinorVersion>{minor}</h:MinorVersion>"
            f"<h:MajorBuildNumber>{build}</h:MajorBuildNumber>"
            f"<h:MinorBuildNumber>{revision}</h:MinorBuildNumber>"
            f"<h:Version>{escape(self.api_version)}</h:Version></h:ServerVersionInfo>"
        )

    def authorised(self, authorization: str | None) -> bool:
        request = RecordedRequest("https", "", "", "", authorization, b"")
        pair = request.basic
        return pair is not None and self.users.get(pair[0]) == pair[1]


def _envelope(header: str, body: str) -> bytes:
    action = (
        '<a:Action s:mustUnderstand="1">'
        "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/"
        "GetUserSettingsResponse</a:Action>"
    )
    text = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:a="http://www.w3.org/2005/08/addressing">'
        f"<s:Header>{action}{header}</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )
    return text.encode()


def _response(code: str, message: str, user_responses: str) -> str:
    return (
        f'<GetUserSettingsResponseMessage xmlns="{ANS}">'
        '<Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        f"<ErrorCode>{escape(code)}</ErrorCode><ErrorMessage>{escape(message)}</ErrorMessage>"
        f"<UserResponses>{user_responses}</UserResponses>"
        "</Response></GetUserSettingsResponseMessage>"
    )


def _user_response(code: str, message: str, target: str | None, settings: dict[str, str]) -> str:
    redirect = f"<RedirectTarget>{escape(target)}</RedirectTarget>" if target else ""
    items = "".join(
        f'<UserSetting i:type="StringSetting"><Name>{escape(name)}</Name>'
        f"<Value>{escape(value)}</Value></UserSetting>"
        for name, value in settings.items()
    )
    return (
        f"<UserResponse><ErrorCode>{escape(code)}</ErrorCode>"
        f"<ErrorMessage>{escape(message)}</ErrorMessage>{redirect}"
        f"<UserSettingErrors/><UserSettings>{items}</UserSettings></UserResponse>"
    )


_HTML = b"<!doctype html><html><head><title>Welcome</title></head><body>Hello</body></html>"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], fake: FakeExchange, tls: ssl.SSLContext | None
    ) -> None:
        self.fake = fake
        self.tls = tls
        self.scheme: Literal["http", "https"] = "https" if tls is not None else "http"
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so a client
        # that stalls or refuses our certificate never blocks the accept loop.
        conn: socket.socket = request
        conn.settimeout(_TIMEOUT)
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                with self.fake._lock:
                    self.fake.tls_failures.append(str(exc))
                return
        with self.fake._lock:
            self.fake._live.add(conn)
        try:
            _Handler(conn, client_address, self)
        finally:
            with self.fake._lock:
                self.fake._live.discard(conn)
            if conn is not request:
                conn.close()  # the TLS socket; socketserver closes the plain one

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-request is not news in these tests


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: NTLM and exchangelib's sessions expect it
    server: _Server
    timeout = _TIMEOUT
    _ntlm: Any = None  # pyspnego acceptor of the NTLM handshake on this connection

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _record(self, body: bytes) -> None:
        self.server.fake._record(
            RecordedRequest(
                self.server.scheme,
                self.command,
                self.path,
                self.headers.get("Host", ""),
                self.headers.get("Authorization"),
                body,
            )
        )

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/xml; charset=utf-8",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body or self.command != "HEAD":
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _challenge(self) -> None:
        headers = tuple(("WWW-Authenticate", c) for c in self.server.fake.challenges)
        self._send(401, headers=headers)

    def _handle(self) -> None:
        body = self._read_body()
        self._record(body)
        fake = self.server.fake
        path = self.path.split("?", 1)[0].lower()
        if self.server.scheme == "http":
            if path == AUTODISCOVER_PATH and fake.http_redirect and self.command == "GET":
                self._send(302, headers=(("Location", fake.http_redirect),))
            else:
                self._send(404, b"not found", "text/plain")
            return
        if fake.mode == "html":
            self._send(200, _HTML, "text/html; charset=utf-8")
            return
        if path != AUTODISCOVER_PATH:
            self._send(404, b"not found", "text/plain")
            return
        authorization = self.headers.get("Authorization") or ""
        if authorization.lower().startswith("ntlm "):
            if not self._ntlm_step(authorization[5:].strip()):
                return  # a challenge or a refusal was sent
        elif self.command != "POST" or not fake.authorised(authorization):
            self._challenge()
            return
        self._send(200, fake.soap_answer(body))

    def _ntlm_step(self, token: str) -> bool:
        """One leg of NTLM (pyspnego as acceptor, users from ``NTLM_USER_FILE``); True
        once the client proved the password. State lives on this keep-alive connection."""
        import spnego
        import spnego.exceptions

        raw = base64.b64decode(token)
        if raw[8:12] == b"\x01\x00\x00\x00" or self._ntlm is None:  # NEGOTIATE starts over
            self._ntlm = spnego.server(protocol="ntlm")
        try:
            answer = self._ntlm.step(raw)
        except spnego.exceptions.SpnegoError:
            self._ntlm = None
            self._challenge()
            return False
        if answer:
            challenge = "NTLM " + base64.b64encode(answer).decode("ascii")
            self._send(401, headers=(("WWW-Authenticate", challenge),))
            return False
        done = bool(self._ntlm.complete)
        self._ntlm = None
        if not done:
            self._challenge()
        return done

    do_GET = do_POST = do_HEAD = _handle


def ntlm_user_file(folder: Path, users: Mapping[str, str]) -> Path:
    """Write ``users`` as an NTLM credential store (``:USER:PASSWORD`` lines, the
    Heimdal format pyspnego reads); point ``NTLM_USER_FILE`` at it for NTLM tests."""
    path = folder / "ntlm_users"
    path.write_text("".join(f":{user}:{password}\n" for user, password in users.items()))
    return path


def fake_exchange(
    lab: Lab,
    *names: str,
    cert: CertFiles | None = None,
    users: Mapping[str, str] | None = None,
    **options: Any,
) -> FakeExchange:
    """Start a ``FakeExchange`` for host ``names`` in ``lab`` (A records added, all on the
    first name's IP; default certificate: the lab CA's for ``names`` + the IP), stopped
    at ``lab.close()``. ``options`` go to ``FakeExchange``."""
    ip = lab.host(names[0])
    for name in names[1:]:
        lab.host(name, ip)
    if cert is None:
        cert = lab.ca.issue(*names, ip)
    server = FakeExchange(ip, cert, lab.users if users is None else users, **options)
    return lab.serve(server)
