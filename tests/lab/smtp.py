"""aiosmtpd submission servers on one loopback address, in one background event loop.

    with SmtpServer("127.0.1.6", cert, {"alice@example.test": "secret"}) as srv:
        smtplib.SMTP("127.0.1.6", 587) ...       # STARTTLS required, then AUTH
        smtplib.SMTP_SSL("127.0.1.6", 465) ...   # implicit TLS, AUTH

Ports (each None to disable): ``submission`` 587 (STARTTLS, required before MAIL and
AUTH), ``submissions`` 465 (implicit TLS), ``smtp`` 25 (off by default; an MX-style
server: STARTTLS offered not required, AUTH only after STARTTLS, no AUTH required).
AUTH PLAIN/LOGIN check ``users``; ``extra_mechanisms`` are advertised too: XOAUTH2 and
OAUTHBEARER accept ``oauth_token``; NTLM is a real NTLMv2 acceptor (pyspnego, users
named ``DOMAIN\\user``; it reads them from a file named by $NTLM_USER_FILE, set while
the server runs); any other extra name always fails with 535.
Received messages land in ``messages``, AUTH attempts in ``auth_attempts``; a recipient
whose local part is ``refused`` gets 550 (an unknown mailbox).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import ssl
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from .ca import CertFiles
from .errors import LabError, Unavailable, bind_failure

__all__ = ["AuthAttempt", "ReceivedMessage", "SmtpServer"]

_OAUTH_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


def _not_login_data_nag(record: logging.LogRecord) -> bool:
    # aiosmtpd itself sets the deprecated Session.login_data on every successful AUTH
    # and logs a warning about it each time.
    return not str(record.msg).startswith("Session.login_data is deprecated")


logging.getLogger("mail.log").addFilter(_not_login_data_nag)


@dataclass(frozen=True)
class AuthAttempt:
    port: int
    mechanism: str
    login: str
    success: bool


@dataclass(frozen=True)
class ReceivedMessage:
    port: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None


class _LabSMTP(SMTP):
    """aiosmtpd's SMTP that tells its owner when a connection ends."""

    def __init__(self, owner: SmtpServer, port: int, handler: Any, **kwargs: Any) -> None:
        require_auth = kwargs.pop("lab_require_auth", None)
        super().__init__(handler, **kwargs)
        if require_auth is not None:
            # Set after __init__: passing auth_required=True with auth_require_tls=False
            # (the implicit-TLS port) makes aiosmtpd emit a UserWarning.
            self._auth_required = require_auth
        self.lab_owner = owner
        self.lab_port = port
        owner._live.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.lab_owner._live.discard(self)
        super().connection_lost(error)

    def lab_abort(self) -> None:
        for transport in (self.transport, self._original_transport):
            if isinstance(transport, asyncio.Transport):
                transport.abort()


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        # A recipient whose local part is "refused" does not exist (550), as a real
        # server would answer for an unknown mailbox.
        if address.lower().startswith("refused@"):
            return "550 5.1.1 <" + address + ">: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(server, _LabSMTP)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else auth
        self.owner.messages.append(
            ReceivedMessage(
                port=server.lab_port,
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                login=login if isinstance(login, str) else None,
            )
        )
        return "250 2.0.0 Message accepted"


class SmtpServer:
    """Submission (587, 465) and optionally MX-style (25) SMTP on ``ip``."""

    def __init__(
        self,
        ip: str,
        cert: CertFiles | None,
        users: Mapping[str, str],
        *,
        submission: int | None = 587,
        submissions: int | None = 465,
        smtp: int | None = None,
        hostname: str = "smtp.lab.test",
        mechanisms: Sequence[str] = ("PLAIN", "LOGIN"),
        extra_mechanisms: Sequence[str] = (),
        oauth_token: str | None = None,
        require_starttls: bool = True,
        require_auth: bool = True,
    ) -> None:
        if cert is None and (submissions or require_starttls):
            raise ValueError("a certificate is needed for port 465 or require_starttls")
        self.ip = ip
        self.cert = cert
        self.users = dict(users)
        self.ports: dict[str, int | None] = {
            "submission": submission,
            "submissions": submissions,
            "smtp": smtp,
        }
        self.hostname = hostname
        self.mechanisms = tuple(m.upper() for m in mechanisms)
        self.extra_mechanisms = tuple(m.upper() for m in extra_mechanisms)
        self.oauth_token = oauth_token
        self.require_starttls = require_starttls
        self.require_auth = require_auth
        self.messages: list[ReceivedMessage] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.loop_errors: list[dict[str, Any]] = []
        self._live: set[_LabSMTP] = set()
        self._ntlm_file: Path | None = None
        self._servers: list[asyncio.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def open_ports(self) -> list[int]:
        return [port for port in self.ports.values() if port]

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if not self.open_ports:
            raise ValueError("no port to listen on")
        if "NTLM" in self.extra_mechanisms:
            self._ntlm_store()
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name=f"lab-smtp-{self.ip}", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(), loop).result(timeout=5)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close listeners and live connections, stop and close the loop.  Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if thread.is_alive():  # pragma: no cover - would be a bug
            raise LabError("SMTP loop thread did not stop")
        self._loop = self._thread = None
        if self._ntlm_file is not None:
            if os.environ.get("NTLM_USER_FILE") == str(self._ntlm_file):
                del os.environ["NTLM_USER_FILE"]
            self._ntlm_file.unlink(missing_ok=True)
            self._ntlm_file = None

    def _ntlm_store(self) -> None:
        """pyspnego's acceptor reads its users from $NTLM_USER_FILE (Heimdal lines
        ``DOMAIN:USER:PASSWORD``); the users named ``DOMAIN\\user`` go there."""
        lines = []
        for login, password in self.users.items():
            domain, sep, user = login.partition("\\")
            if sep:
                lines.append(f"{domain}:{user}:{password}\n")
        handle, name = tempfile.mkstemp(prefix="lab-ntlm-", suffix=".txt")
        with os.fdopen(handle, "w") as store:
            store.write("".join(lines))
        self._ntlm_file = Path(name)
        os.environ["NTLM_USER_FILE"] = name

    def __enter__(self) -> Self:
        return self.start() if self._loop is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        server_ctx = self.cert.server_context() if self.cert is not None else None
        plan: list[tuple[int, ssl.SSLContext | None, dict[str, Any]]] = []
        exclude = [m for m in ("PLAIN", "LOGIN") if m not in self.mechanisms]
        common: dict[str, Any] = {
            "hostname": self.hostname,
            "authenticator": self._authenticate,
            "auth_exclude_mechanism": exclude,
            "loop": loop,
        }
        if port := self.ports["submission"]:
            plan.append(
                (
                    port,
                    None,
                    {
                        **common,
                        "tls_context": server_ctx,
                        "require_starttls": self.require_starttls and server_ctx is not None,
                        "auth_required": self.require_auth,
                        "auth_require_tls": server_ctx is not None,
                    },
                )
            )
        if port := self.ports["submissions"]:
            plan.append(
                (
                    port,
                    server_ctx,
                    {
                        **common,
                        "auth_require_tls": False,
                        "lab_require_auth": self.require_auth,
                    },
                )
            )
        if port := self.ports["smtp"]:
            plan.append(
                (
                    port,
                    None,
                    {
                        **common,
                        "tls_context": server_ctx,
                        "auth_require_tls": server_ctx is not None,
                    },
                )
            )
        handler = _Handler(self)
        for mechanism in self.extra_mechanisms:
            setattr(handler, "auth_" + mechanism.replace("-", "__"), self._extra_auth(mechanism))
        for port, tls, kwargs in plan:

            def factory(port: int = port, kwargs: dict[str, Any] = kwargs) -> _LabSMTP:
                return _LabSMTP(self, port, handler, **kwargs)

            try:
                server = await loop.create_server(
                    factory, self.ip, port, ssl=tls, reuse_address=True
                )
            except OSError as exc:
                raise Unavailable(bind_failure(exc, self.ip, port, "SMTP")) from exc
            self._servers.append(server)

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for proto in list(self._live):
            proto.lab_abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        for _ in range(3):  # let connection_lost callbacks and cancellations run
            await asyncio.sleep(0)

    # ------------------------------------------------------------------ AUTH
    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(server, _LabSMTP)
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = login in self.users and self.users[login] == password
        self.auth_attempts.append(AuthAttempt(server.lab_port, mechanism, login, ok))
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False makes aiosmtpd send the 535; handled=True would send nothing.
        return AuthResult(success=False, handled=False)

    def _extra_auth(self, mechanism: str) -> Any:
        async def auth(server: SMTP, args: list[str]) -> AuthResult:
            assert isinstance(server, _LabSMTP)
            if mechanism == "NTLM":
                return await self._ntlm(server, args)
            if mechanism not in _OAUTH_MECHANISMS:
                self.auth_attempts.append(AuthAttempt(server.lab_port, mechanism, "", False))
                return AuthResult(success=False, handled=False)
            if len(args) > 1:
                try:
                    blob = base64.b64decode(args[1], validate=True)
                except ValueError:
                    await server.push("501 5.5.2 Can't decode base64")
                    return AuthResult(success=False, handled=True)
            else:
                response = await server.challenge_auth("", encode_to_b64=False)
                if response is MISSING:
                    return AuthResult(success=False, handled=True)
                assert isinstance(response, bytes)
                blob = response
            user, token = _parse_oauth(blob.decode("utf-8", "replace"))
            ok = token is not None and token == self.oauth_token and user in self.users
            self.auth_attempts.append(AuthAttempt(server.lab_port, mechanism, user, ok))
            if ok:
                return AuthResult(success=True, auth_data=user)
            # RFC 7628 / Google XOAUTH2: a 334 with a JSON error, the client answers an
            # empty line, then the failure code.
            error = json.dumps({"status": "invalid_token", "schemes": "bearer"})
            await server.challenge_auth(error.encode(), encode_to_b64=True)
            return AuthResult(success=False, handled=False)

        return auth

    async def _ntlm(self, server: _LabSMTP, args: list[str]) -> AuthResult:
        """MS-SMTPNTLM: NEGOTIATE (initial response or after an empty 334), CHALLENGE
        in a 334, AUTHENTICATE; the acceptor checks the NTLMv2 response."""
        import spnego

        context = spnego.server(protocol="ntlm")
        try:
            if len(args) > 1:
                negotiate = base64.b64decode(args[1], validate=True)
            else:
                response = await server.challenge_auth("", encode_to_b64=False)
                if response is MISSING:
                    return AuthResult(success=False, handled=True)
                negotiate = bytes(response)
            challenge = context.step(negotiate)
            answer = await server.challenge_auth(challenge or b"", encode_to_b64=True)
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
            context.step(bytes(answer))
            ok = context.complete
        except Exception:  # a bad message or a wrong password: 535
            ok = False
        user = str(context.client_principal or "") if ok else ""
        self.auth_attempts.append(AuthAttempt(server.lab_port, "NTLM", user, ok))
        if ok:
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)


def _parse_oauth(text: str) -> tuple[str, str | None]:
    """(user, token) from an XOAUTH2 or OAUTHBEARER initial response."""
    user = ""
    token: str | None = None
    for part in text.split("\x01"):
        if part.startswith("user="):
            user = part[5:]
        elif part.startswith("auth="):
            value = part[5:]
            if value.lower().startswith("bearer "):
                token = value[7:]
        elif part.startswith(("n,", "y,", "p=")):  # OAUTHBEARER gs2 header: n,a=user,
            for field in part.split(","):
                if field.startswith("a="):
                    user = field[2:].replace("=2C", ",").replace("=3D", "=")
    return user, token
