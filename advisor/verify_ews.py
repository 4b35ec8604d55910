"""Sign in to a known EWS URL as a mail client would, and read the Inbox's item count.

The Exchange half of ``advisor verify``: it proves that an address, a login name
and a password (or an OAuth2 access token) open the mailbox at an EWS endpoint.
It keeps the rules of :mod:`advisor.exchange` (its module docstring) and runs on
the same HTTP layer (:func:`advisor.exchange.http_sessions`): every name through
our :class:`DnsClient`, every connection through :func:`advisor.net.connect.connect`
with our ``SSLContext``, no proxy nor anything else from the environment, the
budget clamping each request, exchangelib's loggers silenced.

What goes over the wire (exchangelib 5.x, bent as below), in order:

1. With a password, one request without credentials: exchangelib's probe (a
   ConvertId ``POST``), whose 401 names the sign-in methods. exchangelib picks
   Digest, then NTLM, then Basic. A 401 offering only ``Bearer`` (or saying
   ``ms-diagnostics-public: Modern Auth``) ends the check as ``oauth2-required``;
   a certificate that fails ends it as ``tls-refused``: in both cases before any
   credentials left. exchangelib itself would send this probe once per API
   version it knows while the 401 names nothing it can use; we send it once.
2. One ``GetFolder`` of the distinguished folder ``inbox`` asking for
   ``TotalCount`` only, with credentials: Basic in that request; NTLM and
   Digest send it bare first (requests_ntlm, requests), then NTLM as a
   NEGOTIATE + AUTHENTICATE pair on one connection, Digest once with the
   nonce of that 401.
   A 401 then ends the check (the FailFast retry policy makes exchangelib raise
   instead of trying again), so the account's failed-logon counter moves by one
   at most. With a token only this step is sent, with ``Authorization: Bearer``:
   the token is never used as a password, and there is no refresh nor any call
   to a token endpoint.

exchangelib sends GetFolder again, with an older ``RequestServerVersion``, when
the server answers that it does not know the version asked (Exchange 2010): by
then the credentials were accepted.

Credentials never go over plain HTTP nor over TLS that was not verified, unless
``allow_insecure``: an ``http://`` URL is then used as it is, and a certificate
that fails verification gets a second run without verification (the first one
sent nothing); ``insecure`` says when credentials went out that way.

exchangelib's process-wide caches are not used: our Protocol class bypasses the
one ``Protocol`` keeps (it would keep the credentials and replay an earlier
failure), and the one entry ``Account()`` adds for itself is removed at once.
"""

from __future__ import annotations

import functools
import html
import logging
import re
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from advisor.address import parse_address
from advisor.errors import AdvisorError
from advisor.exchange import (
    AUTH_NAMES,
    HTTP_TIMEOUT,
    INSTALL_HINT,
    USER_AGENT,
    CredentialsRefused,
    Fault,
    HttpExchange,
    Wire,
    challenges_of,
    http_sessions,
    quiet_loggers,
    secret_forms,
    server_text,
)
from advisor.net.resolver import DnsClient
from advisor.net.trust import client_context
from advisor.secrets import MASK, Secret

__all__ = ["EwsOutcome", "EwsResult", "verify_ews"]

log = logging.getLogger(__name__)


class EwsResult(StrEnum):
    OK = "ok"
    AUTH_FAILED = "auth-failed"  # the server refused the credentials (one attempt)
    TLS_REFUSED = "tls-refused"  # no verified TLS: credentials not sent
    UNREACHABLE = "unreachable"  # no DNS answer, no connection, no answer in time
    OAUTH2_REQUIRED = "oauth2-required"  # the server wants a token, not a password
    ERROR = "error"  # anything else: the detail says what


@dataclass(frozen=True)
class EwsOutcome:
    result: str  # an EwsResult
    detail: str  # one line for people: what happened (never contains the secret)
    # The server's own words where there are some: HTTP status line, then the SOAP
    # error or a short body text; printable, at most _MAX_REPLY characters, secret masked.
    reply: str = ""
    mechanism: str | None = None  # "Basic", "NTLM", "Digest", "Bearer": what authenticated
    mailbox: str | None = None  # on ok: "Inbox: 12 items"
    insecure: bool = False  # credentials went over plain HTTP or unverified TLS


# The EWS schema version asked first: Exchange 2013 and every later Exchange,
# Exchange Online included, accept it (MS-OXWSCDATA RequestServerVersion); an
# Exchange 2010 answers ErrorInvalidServerVersion and exchangelib steps down.
API_VERSION = "Exchange2013"
_MAX_REPLY = 200  # characters of the server's words quoted in ``reply``
_MAX_DETAIL = 240  # ``detail`` is one line
_XML_WORDS = re.compile(
    r"<(?:[\w.-]+:)?(ResponseCode|MessageText|faultstring)\b[^>]*>([^<]{1,400})<", re.S
)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)
_UNSEEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
_TAG = re.compile(r"<[^>]*>")
# Failures that leave before the request is written: no address, no connection, no handshake.
_UNSENT = (Fault.DNS, Fault.CONNECT, Fault.TLS)


# ---------------------------------------------------------------------- one check


@dataclass(kw_only=True)
class _Check(Wire):
    """One sign-in: the wire, what to sign in with, and what we learnt on the way."""

    address: str
    url: str
    username: str
    secret: Secret
    oauth: bool
    redact: tuple[str, ...]
    mechanism: str | None = None

    def clean(self, text: str, limit: int = _MAX_DETAIL) -> str:
        """Printable, one line, the secret's forms masked, cut to ``limit``."""
        line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        for form in self.redact:
            line = line.replace(form, MASK)
        return line if len(line) <= limit else line[: limit - 3] + "..."

    @property
    def sent(self) -> bool:
        """Whether credentials left: a request with an Authorization header that
        got further than DNS, TCP and the TLS handshake."""
        return any(
            e.credentials and (e.failure is None or e.failure.fault not in _UNSENT)
            for e in self.exchanges
        )


class _End(Exception):
    """Ends the check with this result (raised from inside exchangelib's call chain)."""

    def __init__(self, result: EwsResult, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


class _Signed(NamedTuple):
    """What a successful GetFolder told us."""

    total: int | None
    version: str | None


# ---------------------------------------------------------------------- public entry point


def verify_ews(
    *,
    address: str,
    ews_url: str,
    username: str,
    secret: Secret,
    oauth: bool,
    dns: DnsClient,
    ca_file: Path | None,
    deadline: float,
    allow_insecure: bool = False,
) -> EwsOutcome:
    """Sign in to ``ews_url`` as ``username`` and read the Inbox of ``address``.

    ``secret`` is a password, or with ``oauth`` an OAuth2 access token sent as
    ``Authorization: Bearer``. ``deadline`` is absolute (``time.monotonic()``)
    and covers the whole check. Never raises for a network or server outcome,
    nor when exchangelib is missing: the outcome says what happened. Only an
    unreadable ``ca_file`` raises (:class:`AdvisorError`, from ``client_context``).
    """
    forms = _forms(username, secret, oauth)
    what = "access token" if oauth else "password"
    try:
        email = parse_address(address).address_ascii
    except AdvisorError as exc:
        return EwsOutcome(EwsResult.ERROR, f"not a usable mailbox address: {exc}")
    try:
        parts = urlsplit(ews_url)
        scheme, host, _port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as exc:
        return EwsOutcome(EwsResult.ERROR, f"not a usable EWS URL: {exc}")
    if parts.username is not None or parts.password is not None:
        # requests would send them as Basic with the probe, before anything is known.
        return EwsOutcome(EwsResult.ERROR, "the EWS URL carries a user name or password: remove it")
    if scheme not in ("http", "https") or not host:
        return EwsOutcome(EwsResult.ERROR, f"not an http(s) URL: {ews_url}"[:_MAX_DETAIL])
    if scheme == "http" and not allow_insecure:
        detail = (
            f"{ews_url} is plain HTTP: the {what} would cross the network readable; "
            "not sent (--allow-insecure to send it anyway)"
        )
        return EwsOutcome(EwsResult.TLS_REFUSED, detail[:_MAX_DETAIL])
    if deadline - time.monotonic() <= 0:
        return EwsOutcome(EwsResult.UNREACHABLE, "no time left in the budget")
    try:
        glue = _glue()
    except ImportError:
        return EwsOutcome(EwsResult.ERROR, INSTALL_HINT)
    context = client_context(ca_file)

    def attempt(context: ssl.SSLContext, verified: bool) -> tuple[EwsOutcome, _Check]:
        check = _Check(
            dns=dns,
            deadline=deadline,
            context=context,
            verified=verified,
            plain_credentials=scheme == "http",  # only reached with allow_insecure
            address=email,
            url=ews_url,
            username=username,
            secret=secret,
            oauth=oauth,
            redact=forms,
        )
        return _run(check, glue), check

    outcome, check = attempt(context, verified=True)
    failure = check.failure
    refused = outcome.result == EwsResult.TLS_REFUSED and not check.sent
    if refused and failure is not None and failure.fault is Fault.TLS:
        if not allow_insecure:
            detail = f"{outcome.detail} (--allow-insecure to send it anyway)"
            return replace(outcome, detail=check.clean(detail))
        reason = failure.detail.removeprefix("certificate rejected: ")
        reason = f"certificate not trusted: {reason.removesuffix('; nothing sent')}"
        # Once more without checking the certificate: the first run sent nothing.
        outcome, check = attempt(_unverified_context(), verified=False)
    else:
        reason = "no encryption: sent in clear"
    if check.sent and (scheme == "http" or not check.verified):
        detail = check.clean(f"{outcome.detail} [INSECURE: {reason}]")
        outcome = replace(outcome, detail=detail, insecure=True)
    return outcome


def _forms(username: str, secret: Secret, oauth: bool) -> tuple[str, ...]:
    """The secret as it could show up in a server's text: plain, in a Basic header,
    XML- or HTML-escaped."""
    plain = secret.reveal()
    if not plain:
        return ()
    forms = [plain] if oauth else list(secret_forms(username, secret))
    escaped = html.escape(plain, quote=False)  # as text in XML or HTML
    forms += [escaped, html.escape(plain), escaped.replace("'", "&apos;").replace('"', "&quot;")]
    return tuple(dict.fromkeys(forms))


def _unverified_context() -> ssl.SSLContext:
    """For ``allow_insecure`` only, and a fresh one each time: urllib3 sets
    ``verify_mode`` on the context it is given, so the shared verified one must
    never reach an unverified request."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# ---------------------------------------------------------------------- one run


def _run(check: _Check, glue: _Glue) -> EwsOutcome:
    try:
        signed = glue.sign_in(check)
    except Exception as exc:  # exchangelib's errors, ours, or a bug in it: an outcome
        result, detail = _failure_of(exc, check, glue.errors)
        detail = check.clean(detail)
        log.debug("verify ews: %s: %s: %s", check.url, result, detail)
        return EwsOutcome(result, detail, reply=_reply(check), mechanism=check.mechanism)
    count = "item count not stated" if signed.total is None else _items(signed.total)
    mailbox = f"Inbox: {count}"
    detail = (
        f"signed in as {check.username} ({check.mechanism}) and read the Inbox: {count}; "
        f"{signed.version or 'server version not stated'}"
    )
    detail = check.clean(detail)
    log.debug("verify ews: %s: ok: %s", check.url, detail)
    return EwsOutcome(
        EwsResult.OK,
        detail,
        reply=_reply(check),
        mechanism=check.mechanism,
        mailbox=mailbox,
    )


def _build_text(version: Any, before: Any) -> str | None:
    """``server build 15.1.2507.6`` from the ServerVersionInfo SOAP header. exchangelib
    replaces the account's Version object only when a header states another one."""
    if version is before or version is None or version.build is None:
        return None
    b = version.build
    return f"server build {b.major_version}.{b.minor_version}.{b.major_build}.{b.minor_build}"


def _items(total: int) -> str:
    return "1 item" if total == 1 else f"{total} items"


def _failure_of(exc: Exception, check: _Check, errors: Any) -> tuple[EwsResult, str]:
    """Why the check ended, in one line: the one table from exceptions to results."""
    if isinstance(exc, _End):
        return exc.result, exc.detail
    if isinstance(exc, CredentialsRefused):
        return EwsResult.TLS_REFUSED, "refused to send credentials over plain HTTP"
    last = _last_answer(check)
    refused = last is not None and last.status == 401 and last.credentials
    if refused or isinstance(exc, errors.UnauthorizedError):
        if "locked out" in str(exc).lower():
            return EwsResult.AUTH_FAILED, "the server says the account is locked out"
        if not check.sent:  # e.g. a Digest or NTLM challenge the client could not answer
            return (
                EwsResult.ERROR,
                f"HTTP 401 before {check.mechanism} could send the credentials; nothing sent",
            )
        whose = "access token" if check.oauth else f"credentials of {check.username}"
        return (
            EwsResult.AUTH_FAILED,
            f"the server refused the {whose} ({check.mechanism}, HTTP 401); "
            "stopped after this one attempt",
        )
    failure = check.failure
    if failure is not None:
        if failure.fault is Fault.TLS:
            host = urlsplit(check.url).hostname
            return EwsResult.TLS_REFUSED, f"{host}: {failure.detail}"
        if failure.fault is Fault.OTHER:
            return EwsResult.ERROR, failure.detail
        return EwsResult.UNREACHABLE, failure.detail
    signed_in = last is not None and last.credentials and last.status in (200, 500)
    if isinstance(exc, errors.CASError):
        return EwsResult.ERROR, f"the server answered with an error: {exc.cas_error}"
    if isinstance(exc, errors.RedirectError):
        return EwsResult.ERROR, f"the server redirects to {exc.url}: not followed with credentials"
    if isinstance(exc, errors.SOAPError | errors.MalformedResponseError) and last is not None:
        return EwsResult.ERROR, f"HTTP {last.status}, but not an EWS SOAP answer (a web page?)"
    if isinstance(exc, errors.EWSError) and last is not None:
        text = server_text(exc)
        if signed_in:
            return (
                EwsResult.ERROR,
                f"signed in ({check.mechanism}), but the server did not open the Inbox "
                f"of {check.address}: {text}",
            )
        return EwsResult.ERROR, f"the server answered with an error: {text}"
    name = type(exc).__name__
    return EwsResult.ERROR, f"unexpected failure inside exchangelib ({name}): {exc}"


def _last_answer(check: _Check) -> HttpExchange | None:
    answered = [e for e in check.exchanges if e.status is not None]
    return answered[-1] if answered else None


def _reply(check: _Check) -> str:
    """The last HTTP answer in the server's words: status line, then what it said."""
    last = _last_answer(check)
    if last is None:
        return ""
    line = f"HTTP {last.status} {last.reason}".strip()
    words = _words(last.body)
    return check.clean(f"{line}: {words}" if words else line, _MAX_REPLY)


def _words(body: bytes) -> str:
    """The useful text of an answer: a SOAP error's code and message, a web page's
    title (or its text), or a plain-text body."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return ""
    if text.startswith("<?xml") or "Envelope" in text[:300]:
        found: dict[str, str] = {}
        for name, value in _XML_WORDS.findall(text):
            found.setdefault(name, html.unescape(value.strip()))
        code = found.get("ResponseCode", "")
        message = found.get("MessageText") or found.get("faultstring") or ""
        return ": ".join(part for part in (code, message) if part)
    if "<" in text and ">" in text:
        title = _TITLE.search(text)
        if title:
            return html.unescape(title[1])
        return html.unescape(_TAG.sub(" ", _UNSEEN.sub(" ", text)))
    return text


# ---------------------------------------------------------------------- exchangelib glue


class _Glue(NamedTuple):
    sign_in: Any  # (check) -> _Signed; raises
    errors: Any  # the exchangelib.errors module


@functools.cache
def _glue() -> _Glue:
    """Import exchangelib (about 0.8 s) and define the subclasses, once per process.
    Raises ImportError when the ``exchange`` extra is not installed."""
    quiet_loggers()  # before the import: its module-level code logs too
    import requests
    import requests.auth
    from exchangelib import errors
    from exchangelib.account import Account
    from exchangelib.configuration import Configuration
    from exchangelib.credentials import DELEGATE, Credentials
    from exchangelib.ewsdatetime import UTC
    from exchangelib.fields import FieldPath
    from exchangelib.folders import Inbox, Root
    from exchangelib.items import ID_ONLY
    from exchangelib.properties import DistinguishedFolderId, Mailbox
    from exchangelib.protocol import CachingProtocol, FailFast, Protocol
    from exchangelib.services import GetFolder
    from exchangelib.transport import (
        DEFAULT_HEADERS,
        NOAUTH,
        OAUTH2,
        get_auth_method_from_response,
    )
    from exchangelib.version import Build, Version

    new_session = http_sessions()

    class Bearer(requests.auth.AuthBase):
        """``Authorization: Bearer`` with the token as given (RFC 6750 §2.1)."""

        def __init__(self, token: Secret) -> None:
            self.token = token

        def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
            request.headers["Authorization"] = f"Bearer {self.token.reveal()}"
            return request

    class Uncached(CachingProtocol):  # type: ignore[misc]
        """A Protocol per check: exchangelib's process-wide cache would keep the
        credentials, and replay a failure of an earlier check."""

        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            return type.__call__(cls, *args, **kwargs)

    def probe(protocol: Any, check: _Check) -> Any:
        """exchangelib's ``get_service_authtype``, asked once: which sign-in methods
        the endpoint offers, from a request without credentials."""
        protocol.api_version_hint = API_VERSION
        with protocol.raw_session(protocol.service_endpoint) as session:
            response = session.post(
                url=protocol.service_endpoint,
                data=protocol.dummy_xml(),
                allow_redirects=False,
                timeout=protocol.TIMEOUT,
            )
        status = response.status_code
        if status == 401:
            offered = challenges_of(response.headers.get("WWW-Authenticate", ""))
            schemes = ", ".join(offered) or "no scheme"
            try:
                auth_type = get_auth_method_from_response(response=response)
            except errors.UnauthorizedError:
                auth_type = None
            if auth_type == OAUTH2 or (
                auth_type is None and "bearer" in (o.lower() for o in offered)
            ):
                raise _End(
                    EwsResult.OAUTH2_REQUIRED,
                    f"HTTP 401 offering {schemes}: the server wants OAuth2 (modern "
                    "authentication), not a password; nothing sent",
                )
            if auth_type is None:
                raise _End(
                    EwsResult.ERROR,
                    f"HTTP 401 offering {schemes}: no sign-in method this check can use "
                    "(Basic, NTLM or Digest); nothing sent",
                )
            check.mechanism = AUTH_NAMES.get(str(auth_type), str(auth_type))
            return auth_type
        if status == 200:
            raise _End(
                EwsResult.ERROR,
                "the EWS URL answered without asking for a sign-in (HTTP 200): the "
                "password would prove nothing here; not sent",
            )
        location = response.headers.get("Location")
        if location and 300 <= status < 400:
            raise _End(
                EwsResult.ERROR,
                f"HTTP {status} to {location}: not an EWS endpoint; nothing sent",
            )
        raise _End(EwsResult.ERROR, f"HTTP {status}: no EWS service at this URL; nothing sent")

    def protocol_class(check: _Check) -> Any:
        class EwsProtocol(Protocol, metaclass=Uncached):  # type: ignore[misc]
            TIMEOUT = HTTP_TIMEOUT

            @classmethod
            def raw_session(
                cls,
                prefix: str,
                oauth2_client: Any = None,
                oauth2_session_params: Any = None,
                oauth2_token_endpoint: Any = None,
            ) -> requests.Session:
                if oauth2_client is not None:  # a token is sent as it is (create_session)
                    raise _End(EwsResult.ERROR, "OAuth2 client flows are not used here")
                session = new_session(check)
                session.headers.update(DEFAULT_HEADERS)
                session.headers["User-Agent"] = USER_AGENT
                return session

            def get_auth_type(self) -> Any:
                return probe(self, check)

            def create_session(self) -> Any:
                if not check.oauth:
                    return super().create_session()
                session: Any = self.raw_session(self.service_endpoint)
                session.auth = Bearer(check.secret)
                session.session_id = 0  # exchangelib's debug messages name it
                session.usage_count = 0
                return session

        return EwsProtocol

    def sign_in(check: _Check) -> _Signed:
        # A build no real server has: exchangelib swaps the Version object only
        # when a ServerVersionInfo header states one (see _build_text).
        guess = Version(build=Build(15, 20, 0, 0), api_version=API_VERSION)
        if check.oauth:
            check.mechanism = "Bearer"
            credentials = None
            auth_type = NOAUTH  # our create_session adds the token
        else:
            credentials = Credentials(check.username, check.secret.reveal())
            auth_type = None  # probe() finds it
        config = Configuration(
            service_endpoint=check.url,
            credentials=credentials,
            auth_type=auth_type,
            retry_policy=FailFast(),
            version=guess,
        )
        protocol = protocol_class(check)(config=config)
        account = Account(
            primary_smtp_address=check.address,
            config=config,
            autodiscover=False,
            access_type=DELEGATE,
            default_timezone=UTC,
            locale="en_US",
        )
        # Account() made its own Protocol through exchangelib's cache: forget it.
        with suppress(KeyError):
            del Protocol[config]
        account.protocol = protocol
        inbox = Inbox(
            _distinguished_id=DistinguishedFolderId(
                id=Inbox.DISTINGUISHED_FOLDER_ID, mailbox=Mailbox(email_address=check.address)
            ),
            root=Root(account=account),
        )
        total = FieldPath(field=Inbox.get_field_by_fieldname("total_count"))
        before = account.version  # the account's own copy of ``guess``
        try:
            answers = list(
                GetFolder(account=account).call(
                    folders=[inbox], additional_fields=[total], shape=ID_ONLY
                )
            )
        finally:
            protocol.close()
        if not answers:
            raise _End(EwsResult.ERROR, "the server answered GetFolder with no folder")
        folder = answers[0]
        if isinstance(folder, Exception):
            raise folder
        count = folder.total_count
        return _Signed(
            count if isinstance(count, int) else None, _build_text(account.version, before)
        )

    return _Glue(sign_in=sign_in, errors=errors)
