"""``advisor verify``: log in to each server as the mail client would, once.

The IETF autoconfig draft asks a client to test a login before it saves an
account; IT staff need the same before handing a laptop over. For every
server of the configuration (the incoming IMAP or POP3 server, the SMTP
submission server, Exchange's EWS URL) this module connects, secures the
connection, reads what the server offers and authenticates with the
password (or an OAuth2 bearer token), then proves the session is real:
IMAP ``STATUS INBOX``, POP3 ``STAT``, the EWS inbox's item count. SMTP
sends nothing unless asked to (``send_test_to``).

Rules, in the order they apply:

1. **Never in clear, never to an unverified server.** The password is only
   sent over TLS whose certificate validated against the system store plus
   ``--ca-file`` (implicit TLS, or STARTTLS the server offered). A plain
   configuration, a missing STARTTLS, a failed handshake or a failed
   certificate ends the check as ``tls-refused`` before anything secret is
   sent, unless ``allow_insecure``; then the check goes on and the result
   says ``insecure`` (the command prints a loud warning).
2. **One attempt per server, and none after a refusal.** One mechanism, one
   exchange: no fallback to another mechanism or user name (smtplib's
   ``login()`` would try three). The first ``auth-failed`` stops the run:
   every later server is ``skipped``, so that a wrong password costs one
   failure on the account's lockout counter, not four.
3. **OAuth2-only servers get no password.** When the provider is known to
   require OAuth2, or the server offers XOAUTH2/OAUTHBEARER and no password
   mechanism, the result is ``oauth2-required`` and the password stays here;
   with a token (``--oauth-token-stdin``) XOAUTH2 or OAUTHBEARER is used.
4. **The secret is never shown.** It lives in a :class:`Secret` until the
   last moment; every text quoted from a server is scrubbed of it (and of
   the base64 forms SASL sent), and the protocol libraries never log here.

Reading is bounded as in discovery: each conversation runs under a deadline
and a byte budget (:class:`advisor.probes._session.Conversation`), so a
hostile server cannot flood or stall the check.
"""

from __future__ import annotations

import base64
import imaplib
import poplib
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from advisor.address import EmailAddress, parse_address
from advisor.errors import AdvisorError
from advisor.i18n import _
from advisor.models import DiscoveryReport, ProbeStatus, Protocol, Security
from advisor.net.connect import ConnectStatus, connect
from advisor.net.resolver import DnsClient, DnsStatus
from advisor.net.tls import inspection_context, verify_error
from advisor.probes._session import (
    EXPECTED,
    Conversation,
    Refusal,
    classify,
    command,
    printable,
)
from advisor.secrets import Masker, Secret, masking_log_records

__all__ = [
    "Check",
    "Result",
    "Target",
    "VerifyOptions",
    "run_checks",
    "targets_from_config",
    "targets_from_report",
    "to_json",
]

SCHEMA = "advisor.verify/1"
# b'...' or b"..." inside a library's error text: the server's reply, as a repr.
_BYTES_REPR = re.compile(r"""b(['"])(.*?)\1""")
REPLY_CHARS = 200  # server text quoted in a result
MAX_CONFIG_BYTES = 1 << 20
OAUTH_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
# Password mechanisms we speak, preferred first. PLAIN carries UTF-8 as is.
PASSWORD_MECHANISMS = ("PLAIN", "LOGIN")
# A configuration's stated method -> the one SASL mechanism that tests it (Thunderbird:
# "encrypted password" is CRAM-MD5). GSSAPI, TLS-client-cert... are not testable here.
_METHOD_MECHANISMS = {"NTLM": "NTLM", "password-encrypted": "CRAM-MD5"}
# Mechanisms where the server speaks first: no initial response (RFC 4954 §4).
_SERVER_FIRST = frozenset({"LOGIN", "CRAM-MD5"})


class Result(StrEnum):
    OK = "ok"
    AUTH_FAILED = "auth-failed"  # the server refused the credentials
    TLS_REFUSED = "tls-refused"  # we refused: no verified encryption to send them over
    UNREACHABLE = "unreachable"  # no address, no connection, or no answer in time
    OAUTH2_REQUIRED = "oauth2-required"  # password not sent: the server wants a token
    SKIPPED = "skipped"  # not tried: an earlier login failed
    UNTESTED = "untested"  # the configuration's sign-in method is one advisor cannot test
    ERROR = "error"  # the server misbehaved, or offers no way to log in we can use


@dataclass(frozen=True)
class Target:
    """One server to log in to, as the configuration describes it."""

    role: str  # "incoming", "outgoing", "exchange"
    protocol: str  # "imap", "pop3", "smtp", "ews"
    host: str
    port: int
    security: str  # "ssl", "starttls", "plain"; "https" or "http" for EWS
    username: str
    url: str | None = None  # EWS
    oauth2_required: bool = False  # the provider is known to take only OAuth2 here
    # The sign-in method the configuration states (Mozilla words: "NTLM", "GSSAPI",
    # "password-encrypted"...); None or "password-cleartext": a password mechanism.
    auth: str | None = None

    @property
    def label(self) -> str:
        if self.url:
            return f"EWS {self.url}"
        how = {"ssl": "TLS", "starttls": "STARTTLS", "plain": "no encryption"}[self.security]
        return f"{self.protocol.upper()} {self.host}:{self.port} ({how})"


@dataclass(frozen=True)
class Check:
    target: Target
    result: Result
    detail: str  # one line: what happened
    reply: str = ""  # the server's own words, scrubbed
    mechanism: str | None = None
    mailbox: str | None = None  # "INBOX: 3 messages"
    tls: str | None = None  # "TLSv1.3"
    insecure: bool = False  # credentials went over an unverified or clear connection
    sent: str | None = None  # --send-test-to: what the server said about the message
    elapsed_ms: float = 0.0
    user: str = ""  # the login name used (or that would have been)


@dataclass(frozen=True)
class VerifyOptions:
    address: str
    username: str | None = None  # overrides every target's user name
    password: Secret | None = None
    token: Secret | None = None  # an OAuth2 access token instead of a password
    allow_insecure: bool = False
    send_test_to: str | None = None
    timeout: float = 15.0  # per server
    ca_file: Path | None = None


# ----------------------------------------------------------------- targets


def _oauth_only(auth: Sequence[str]) -> bool:
    names = {a.lower() for a in auth}
    return bool(names) and names <= {"oauth2", "xoauth2", "oauthbearer"}


def _stated_method(auth: Sequence[str]) -> str | None:
    """The method a client takes from a source's list (the first; OAuth2 is handled
    by ``oauth2_required``)."""
    return next((str(a) for a in auth if str(a) != "OAuth2"), None)


def targets_from_report(report: DiscoveryReport, protocol: str | None = None) -> list[Target]:
    """The servers an export of this discovery report would configure.

    A saved report is checked against the address to log in as before this is
    called (:func:`advisor.planning.read_report`): the password only goes to the
    servers found for that address."""
    from advisor.export import pick

    oauth = report.provider is not None and report.provider.requires_oauth2
    targets: list[Target] = []
    if protocol != "exchange":
        incoming = pick(report.incoming, protocol)
        if incoming is None:
            what = protocol.upper() if protocol else "incoming"
            raise AdvisorError(f"no {what} server was found to log in to")
        outgoing = pick(report.outgoing, None)
        for role, c in (("incoming", incoming), ("outgoing", outgoing)):
            if c is None:
                continue
            e = c.endpoint
            targets.append(
                Target(
                    role=role,
                    protocol=e.protocol.value,
                    host=e.hostname,
                    port=e.port,
                    security=e.security.value,
                    username=c.username or report.address,
                    oauth2_required=oauth or _oauth_only(c.stated_auth),
                    auth=_stated_method(c.stated_auth),
                )
            )
    ews = report.exchange.ews_url if report.exchange is not None else None
    if ews and protocol in (None, "exchange"):
        targets.append(_ews_target(ews, report.address))
    elif protocol == "exchange":
        raise AdvisorError("no Exchange (EWS) URL was found to log in to")
    return targets


def _ews_target(url: str, username: str) -> Target:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AdvisorError(f"not an EWS URL: {printable(url)}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Target("exchange", "ews", parts.hostname, port, parts.scheme, username, url=url)


def targets_from_config(path: Path, address: str, protocol: str | None = None) -> list[Target]:
    """The servers of a configuration file: a Thunderbird/autoconfig ``clientConfig``
    XML (as ``advisor export`` or ``advisor autoconfig`` write it) or an Outlook
    Autodiscover XML; placeholders are filled in for ``address``."""
    from advisor.fsutil import read_bounded

    data = read_bounded(path, MAX_CONFIG_BYTES, what=_("a mail configuration"))
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"<Autodiscover" in head:
        return _targets_from_autodiscover(path, data, address, protocol)
    return _targets_from_autoconfig(path, data, address, protocol)


def _targets_from_autoconfig(
    path: Path, data: bytes, address: str, protocol: str | None
) -> list[Target]:
    from advisor.formats.mozilla import parse_client_config

    parsed = parse_address(address)
    config = parse_client_config(data, source_name=str(path)).for_address(parsed)
    if not config.providers:
        raise AdvisorError(f"{path}: no emailProvider in the file")
    provider = config.providers[0]
    servers = [
        Target(
            role="outgoing" if s.kind == "smtp" else "incoming",
            protocol=s.kind,
            host=s.hostname,
            port=s.port,
            security=str(s.security),
            username=s.username or parsed.address_ascii,
            oauth2_required=_oauth_only(s.auth),
            auth=_stated_method(s.auth),
        )
        for s in (*provider.incoming, *provider.outgoing)
        if s.protocol is not None and s.hostname and s.port and s.security is not None
    ]
    ews = next((s for s in provider.incoming if s.kind == "ews" and s.url), None)
    url = ews.url if ews is not None else None
    return _choose(path, protocol, servers, url, ews.username if ews is not None else None, parsed)


def _targets_from_autodiscover(
    path: Path, data: bytes, address: str, protocol: str | None
) -> list[Target]:
    from advisor.formats.autodiscover import parse_response

    parsed = parse_address(address)
    response = parse_response(data)
    servers = [
        Target(
            role="outgoing" if endpoint.protocol is Protocol.SMTP else "incoming",
            protocol=str(endpoint.protocol),
            host=endpoint.hostname,
            port=endpoint.port,
            security=str(endpoint.security),
            username=p.login_name or parsed.address_ascii,
            # MS-OXDSCLI SPA: Secure Password Authentication, i.e. NTLM.
            auth="NTLM" if p.spa else None,
        )
        for p in response.protocols
        if (endpoint := p.endpoint()) is not None
    ]
    url = next((p.ews_url for p in response.protocols if p.ews_url), None)
    return _choose(path, protocol, servers, url, None, parsed)


def _choose(
    path: Path,
    protocol: str | None,
    servers: Sequence[Target],
    ews_url: str | None,
    ews_user: str | None,
    address: EmailAddress,
) -> list[Target]:
    """From a file's servers (preference order), the ones a client would use."""
    targets: list[Target] = []
    if protocol != "exchange":
        wanted = (protocol,) if protocol else ("imap", "pop3")
        incoming = next((t for t in servers if t.protocol in wanted), None)
        if incoming is None:
            raise AdvisorError(f"{path}: no {' or '.join(w.upper() for w in wanted)} server")
        outgoing = next((t for t in servers if t.protocol == "smtp"), None)
        targets = [incoming] if outgoing is None else [incoming, outgoing]
    if ews_url and protocol in (None, "exchange"):
        targets.append(_ews_target(ews_url, ews_user or address.address_ascii))
    elif protocol == "exchange":
        raise AdvisorError(f"{path}: no EWS server in the file")
    return targets


# ----------------------------------------------------------------- secrets


class _Scrub(Masker):
    """Takes the secret, and every encoding of it that went on the wire, out of text
    (see :class:`advisor.secrets.Masker`)."""


# ----------------------------------------------------------------- the run


# Before the secret is asked for, each server is looked up and connected to (no
# credentials): nobody should type a password for a run that can reach nothing.
# A reachable server answers a connect in milliseconds; a filtered port hangs.
PREFLIGHT_TIMEOUT = 5.0


def unreachable(
    targets: Sequence[Target], *, dns: DnsClient, timeout: float = PREFLIGHT_TIMEOUT
) -> dict[Target, Check]:
    """The targets that cannot be looked up or connected to, each with its
    ``unreachable`` check; the others are absent. Connections are closed at once."""

    def reach(target: Target) -> Check | None:
        deadline = time.monotonic() + timeout
        answer = dns.addresses(target.host, deadline=deadline)
        if answer.status is not DnsStatus.FOUND or not answer.addresses:
            return Check(target, Result.UNREACHABLE, f"{target.host}: {answer.detail}")
        outcome = connect(answer.addresses, target.port, deadline=deadline)
        if outcome.sock is not None:
            outcome.sock.close()
        if outcome.status is not ConnectStatus.CONNECTED:
            return Check(
                target, Result.UNREACHABLE, f"{target.host}:{target.port}: {outcome.detail}"
            )
        return None

    # One after the other: a configuration names two or three servers, and a
    # filtered one is not tried again by run_checks (it is ``known``).
    found = [reach(target) for target in dict.fromkeys(targets)]
    return {c.target: c for c in found if c is not None}


def dns_looks_filtered(checks: Sequence[Check], *, dns: DnsClient) -> str | None:
    """When a host "does not exist": the top-level domain that the same resolver also
    says does not exist (its view is filtered or offline), else None."""
    for check in checks:
        if check.result is Result.UNREACHABLE and "NXDOMAIN" in check.detail.upper():
            tld = check.target.host.rstrip(".").rsplit(".", 1)[-1] + "."
            answer = dns.query(tld, "SOA", deadline=time.monotonic() + PREFLIGHT_TIMEOUT)
            if answer.status is DnsStatus.NXDOMAIN:
                return tld.rstrip(".")
    return None


def run_checks(
    targets: Sequence[Target],
    options: VerifyOptions,
    *,
    dns: DnsClient,
    context: ssl.SSLContext,
    on_check: Callable[[Check], None] | None = None,
    known: Mapping[Target, Check] | None = None,
) -> list[Check]:
    """Check every target in order; after an ``auth-failed``, skip the rest. ``known``:
    targets already found unreachable (:func:`unreachable`), not tried again."""
    checks: list[Check] = []
    failed: Check | None = None
    for target in targets:
        if known and target in known:
            check = known[target]
        elif failed is not None:
            check = Check(
                target,
                Result.SKIPPED,
                f"not tried: the login to {failed.target.label} failed, and one failure"
                " is all this run may cost the account's lockout counter",
            )
        else:
            started = time.monotonic()
            user = options.username or target.username
            # imapclient logs every server line at DEBUG: an echo of the secret too.
            with masking_log_records(_Scrub(options.token or options.password, user)):
                check = _check(target, options, dns=dns, context=context)
            check = replace(check, elapsed_ms=round((time.monotonic() - started) * 1000, 1))
            if check.result is Result.AUTH_FAILED:
                failed = check
        check = replace(check, user=options.username or target.username)
        checks.append(check)
        if on_check is not None:
            on_check(check)
    return checks


def _check(
    target: Target, options: VerifyOptions, *, dns: DnsClient, context: ssl.SSLContext
) -> Check:
    user = options.username or target.username
    secret = options.token or options.password
    scrub = _Scrub(secret, user)
    deadline = time.monotonic() + options.timeout
    if target.protocol == "ews":
        return _check_ews(target, options, user, dns, deadline, scrub)
    if target.security == "plain" and not options.allow_insecure:
        return Check(
            target,
            Result.TLS_REFUSED,
            "the configuration sends the password without encryption: not sent"
            " (--allow-insecure to try anyway)",
        )
    answer = dns.addresses(target.host, deadline=deadline)
    if answer.status is not DnsStatus.FOUND or not answer.addresses:
        return Check(target, Result.UNREACHABLE, f"{target.host}: {answer.detail}")
    session = _Session(target, options, user, scrub)

    def open_conversation(tls: ssl.SSLContext, cert_error: str | None) -> Conversation | Check:
        outcome = connect(answer.addresses, target.port, deadline=deadline)
        if outcome.status is not ConnectStatus.CONNECTED or outcome.sock is None:
            return Check(
                target, Result.UNREACHABLE, f"{target.host}:{target.port}: {outcome.detail}"
            )
        return Conversation(
            outcome.sock,
            hostname=target.host,
            port=target.port,
            security=Security(target.security),
            context=tls,
            deadline=deadline,
            started=time.monotonic(),
            register=lambda _sock: None,
            cert_error=cert_error,
        )

    if target.security == "plain":
        session.insecure_reason = "no encryption: sent in clear"
    first = open_conversation(context, None)
    if isinstance(first, Check):
        return first
    try:
        return session.run(first)
    except ssl.SSLCertVerificationError as exc:
        failure = exc
    except Exception as exc:  # a bug: this server's result says so, the others still run
        return Check(
            target, Result.ERROR, f"internal error: {type(exc).__name__}: {scrub(str(exc))}"
        )
    reason = verify_error(failure)
    if not options.allow_insecure:
        return Check(
            target,
            Result.TLS_REFUSED,
            f"certificate not trusted ({reason}): the password was not sent"
            " (--allow-insecure to send it anyway)",
        )
    # --allow-insecure: once more, without checking the certificate; loudly.
    again = open_conversation(inspection_context(context), reason)
    if isinstance(again, Check):
        return again
    session.insecure_reason = f"certificate not trusted: {reason}"
    try:
        return session.run(again)
    except Exception as exc:  # as above
        return Check(
            target, Result.ERROR, f"internal error: {type(exc).__name__}: {scrub(str(exc))}"
        )


class _Session:
    """One conversation with one IMAP, POP3 or SMTP server, up to the login and a little more."""

    def __init__(self, target: Target, options: VerifyOptions, user: str, scrub: _Scrub) -> None:
        self.target = target
        self.options = options
        self.user = user
        self.scrub = scrub
        self.insecure_reason: str | None = None
        self.mechanism: str | None = None
        self.sent_secret = False  # set just before the secret goes on the wire

    def quote(self, data: object) -> str:
        """Server text for people: printable, scrubbed, short. Library errors that
        carry ``b'...'`` reprs of the reply are unwrapped first."""
        if isinstance(data, (list, tuple)) and data:
            data = data[-1]
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
        text = _BYTES_REPR.sub(lambda m: m.group(2), text)
        # Masked before printable() folds white space and cuts (a tab in the password, or
        # the cut falling inside it), and after, for a form only the folding produced.
        return self.scrub(printable(self.scrub(text), REPLY_CHARS * 2))[:REPLY_CHARS]

    def check(self, conv: Conversation, result: Result, detail: str, **extra: Any) -> Check:
        tls = conv.facts.tls.version if conv.facts.tls is not None else None
        insecure = self.insecure_reason is not None and self.sent_secret
        if insecure and self.insecure_reason:
            detail += f" [INSECURE: {self.insecure_reason}]"
        return Check(
            self.target,
            result,
            self.scrub(detail),
            mechanism=self.mechanism,
            tls=tls,
            insecure=insecure,
            **extra,
        )

    def run(self, conv: Conversation) -> Check:
        """Talk; raises only SSLCertVerificationError (the caller decides what next)."""
        speak = {"imap": self._imap, "pop3": self._pop3, "smtp": self._smtp}[self.target.protocol]
        try:
            with conv:
                return speak(conv)
        except _Failed as failed:
            return self.check(conv, failed.result, failed.detail, reply=failed.reply)
        except Refusal as refusal:
            if refusal.status is ProbeStatus.NO_STARTTLS:
                return self.check(conv, Result.TLS_REFUSED, f"{refusal.detail}: password not sent")
            return self.check(conv, Result.ERROR, refusal.detail)
        except ssl.SSLCertVerificationError:
            raise
        except EXPECTED as exc:
            found = classify(exc, conv)
            if found is None:
                raise
            status, detail = found
            if status is ProbeStatus.TLS_ERROR:
                return self.check(
                    conv,
                    Result.TLS_REFUSED,
                    f"{detail}: no encrypted connection, password not sent",
                )
            if status is ProbeStatus.TIMEOUT:
                return self.check(conv, Result.UNREACHABLE, detail)
            return self.check(conv, Result.ERROR, detail)

    # -- shared decisions

    def starttls_missing(self, conv: Conversation, keyword: str) -> None:
        """STARTTLS was wanted and is not offered: refuse, or go on in clear if allowed."""
        if not self.options.allow_insecure:
            raise _Failed(
                Result.TLS_REFUSED,
                f"{keyword} not offered: the password would travel in clear, not sent"
                " (--allow-insecure to send it anyway)",
            )
        self.insecure_reason = f"{keyword} not offered, sent in clear"

    def plan(self, offered: Sequence[str], *, login_command: bool) -> tuple[str, Secret]:
        """The mechanism to use, and the secret for it; raises _Failed when none fits.

        ``login_command``: the protocol's own password command is available
        (IMAP LOGIN without LOGINDISABLED, POP3 USER/PASS).
        """
        offered = [m.upper() for m in offered]
        oauth_offered = [m for m in OAUTH_MECHANISMS if m in offered]
        if self.options.token is not None:
            if not oauth_offered:
                raise _Failed(
                    Result.ERROR,
                    "the server offers no OAuth2 mechanism (XOAUTH2, OAUTHBEARER) for the token"
                    f" (offered: {' '.join(offered) or 'none'})",
                )
            return oauth_offered[0], self.options.token
        password_ways = [m for m in PASSWORD_MECHANISMS if m in offered]
        if self.target.oauth2_required or (
            oauth_offered and not password_ways and not login_command
        ):
            why = (
                "the provider accepts only OAuth2 sign-in here"
                if self.target.oauth2_required
                else f"the server offers only {' and '.join(oauth_offered)}"
            )
            raise _Failed(
                Result.OAUTH2_REQUIRED,
                f"{why}: the password was not sent; give an access token with --oauth-token-stdin",
            )
        stated = _METHOD_MECHANISMS.get(self.target.auth or "")
        if stated is None and self.target.auth not in (None, "password-cleartext"):
            raise _Failed(
                Result.UNTESTED,
                f"the configuration signs in with {self.target.auth}, which advisor cannot"
                " test: nothing was sent; try it in the mail program itself",
            )
        if self.options.password is None:
            raise _Failed(Result.ERROR, "no password was given")
        if stated is not None:
            # The file's method, or nothing: a silent PLAIN would test another setup.
            if stated not in offered:
                raise _Failed(
                    Result.ERROR,
                    f"the configuration signs in with {self.target.auth}, but the server does"
                    f" not offer {stated} (offered: {' '.join(offered) or 'none'}): the"
                    " password was not sent",
                )
            if stated == "NTLM" and _spnego() is None:
                raise _Failed(
                    Result.UNTESTED,
                    "the configuration signs in with NTLM, which advisor tests with pyspnego:"
                    " install it (pip install 'mail-setup-advisor[exchange]'); nothing was sent",
                )
            return stated, self.options.password
        if password_ways:
            return password_ways[0], self.options.password
        if login_command:
            return "", self.options.password  # the protocol's own command
        raise _Failed(
            Result.ERROR,
            "the server offers no password mechanism we speak"
            f" (offered: {' '.join(offered) or 'none'})",
        )

    def initial_response(self, mechanism: str, secret: Secret) -> bytes:
        value = secret.reveal().encode()
        user = self.user.encode()
        if mechanism == "PLAIN":
            return b"\0" + user + b"\0" + value
        if mechanism == "XOAUTH2":
            return b"user=" + user + b"\x01auth=Bearer " + value + b"\x01\x01"
        if mechanism == "OAUTHBEARER":
            authzid = user.replace(b"=", b"=3D").replace(b",", b"=2C")
            host = self.target.host.encode()
            port = str(self.target.port).encode()
            return (
                b"n,a="
                + authzid
                + b",\x01host="
                + host
                + b"\x01port="
                + port
                + b"\x01auth=Bearer "
                + value
                + b"\x01\x01"
            )
        raise AssertionError(mechanism)

    def sasl_steps(self, mechanism: str, secret: Secret) -> Callable[[bytes], bytes]:
        """The client side of a SASL exchange: each call answers one challenge.

        LOGIN answers the user then the password. The others send their
        initial response first; a later challenge is the server's error report
        (RFC 7628 §3.2.3, Google's XOAUTH2), answered with the dummy reply that
        lets it send its failure (never the secret again).
        """
        if mechanism == "NTLM":
            return self._ntlm_steps(secret)
        if mechanism == "CRAM-MD5":
            return self._cram_md5_step(secret)
        if mechanism == "LOGIN":
            answers = [self.user.encode(), secret.reveal().encode()]
        else:
            answers = [self.initial_response(mechanism, secret)]
            self.scrub.add(answers[0])
        after = b"\x01" if mechanism == "OAUTHBEARER" else b""

        def step(_challenge: bytes) -> bytes:
            return answers.pop(0) if answers else after

        return step

    def _ntlm_steps(self, secret: Secret) -> Callable[[bytes], bytes]:
        """NTLM over SASL (MS-SMTPNTLM, MS-OXIMAP4 NTLM): NEGOTIATE, then the
        AUTHENTICATE message answering the server's CHALLENGE; ``DOMAIN\\user`` or a
        UPN as the user name. The password itself never goes on the wire."""
        spnego = _spnego()
        assert spnego is not None  # plan() checked
        service = {"imap": "imap", "pop3": "pop", "smtp": "smtp"}[self.target.protocol]
        context = spnego.client(
            self.user,
            secret.reveal(),
            hostname=self.target.host,
            service=service,
            protocol="ntlm",
        )

        def step(challenge: bytes) -> bytes:
            if context.complete:
                return b""
            try:
                return bytes(context.step(challenge or None) or b"")
            except Exception as exc:  # pyspnego's errors: a malformed CHALLENGE
                raise _Failed(
                    Result.ERROR, f"the server's NTLM challenge is unusable ({type(exc).__name__})"
                ) from None

        return step

    def _cram_md5_step(self, secret: Secret) -> Callable[[bytes], bytes]:
        """RFC 2195: "user HMAC-MD5(password, challenge)" in hex (Thunderbird's
        "encrypted password")."""
        import hmac

        def step(challenge: bytes) -> bytes:
            digest = hmac.new(secret.reveal().encode(), challenge, "md5").hexdigest()
            return self.user.encode() + b" " + digest.encode()

        return step

    # -- IMAP

    def _imap(self, conv: Conversation) -> Check:
        from imapclient.exceptions import IMAPClientError, LoginError

        from advisor.probes import imap as probe

        try:
            client = probe._Client(conv)
        except imaplib.IMAP4.error:
            conv.judge_greeting("IMAP", probe._WELCOME, probe._GOODBYE)
            raise
        conv.judge_greeting("IMAP", probe._WELCOME, probe._GOODBYE)
        imap4 = client.imap4
        assert imap4 is not None
        caps = imap4.advertised
        if conv.security is Security.STARTTLS:
            if imap4.state == "AUTH":
                raise _Failed(Result.TLS_REFUSED, "server pre-authenticated the plain session")
            if "STARTTLS" in caps:
                conv.enter(command("STARTTLS"))
                client.starttls(conv.starttls_context())
                caps = imap4.advertised
            else:
                self.starttls_missing(conv, "STARTTLS")
        mechanism, secret = self.plan(
            probe._mechanisms(caps), login_command="LOGINDISABLED" not in caps
        )
        self.mechanism = mechanism or "LOGIN"
        if not mechanism and not (secret.reveal().isascii() and self.user.isascii()):
            raise _Failed(
                Result.ERROR,
                "IMAP LOGIN cannot carry a user name or password with non-ASCII"
                " characters, and the server offers no AUTHENTICATE PLAIN: not sent",
            )
        conv.enter(command(f"AUTHENTICATE {mechanism}" if mechanism else "LOGIN"))
        self.sent_secret = True
        try:
            if mechanism:
                reply = client.sasl_login(mechanism, self.sasl_steps(mechanism, secret))
            else:
                reply = client.login(self.user, secret.reveal())
        except (LoginError, imaplib.IMAP4.error) as exc:
            raise _Failed(
                Result.AUTH_FAILED,
                f"the server refused the login ({self.mechanism})",
                self.quote(exc.args[0] if exc.args else ""),
            ) from None
        reply_text = self.quote(reply)
        conv.enter(command("STATUS INBOX"))
        try:
            status = client.folder_status("INBOX", [b"MESSAGES"])
            count = int(status.get(b"MESSAGES", 0))
            mailbox = f"INBOX: {count} message{'s' if count != 1 else ''}"
        except (IMAPClientError, ValueError) as exc:
            mailbox = f"INBOX not readable: {self.quote(str(exc))}"
        conv.goodbye(client.logout, "LOGOUT")
        return self.check(
            conv,
            Result.OK,
            f"logged in as {self.user} with {self.mechanism}",
            reply=reply_text,
            mailbox=mailbox,
        )

    # -- POP3

    def _pop3(self, conv: Conversation) -> Check:
        from advisor.probes import pop3 as probe

        try:
            pop = probe._POP3(conv)
        except poplib.error_proto:
            conv.judge_greeting("POP3", probe._WELCOME, probe._GOODBYE)
            raise
        conv.judge_greeting("POP3", probe._WELCOME, probe._GOODBYE)
        lines = pop.capability_lines()
        if conv.security is Security.STARTTLS:
            if lines is not None and probe._has(lines, "STLS"):
                conv.enter(command("STLS"))
                pop.stls(conv.starttls_context())
                lines = pop.capability_lines()
            else:
                self.starttls_missing(conv, "STLS")
        offered = probe._mechanisms(lines or ())
        # RFC 2449: without CAPA, USER/PASS is the one way every server knows.
        has_user = lines is None or "USER" in offered
        mechanism, secret = self.plan([m for m in offered if m != "USER"], login_command=has_user)
        self.mechanism = mechanism or "USER/PASS"
        self.sent_secret = True
        if mechanism:
            conv.enter(command(f"AUTH {mechanism}"))
            ok, reply = _pop_sasl(pop, mechanism, self.sasl_steps(mechanism, secret))
        else:
            conv.enter(command("USER"))
            ok, reply = _pop_short(pop, f"USER {self.user}")
            if ok:
                conv.enter(command("PASS"))
                ok, reply = _pop_short(pop, "PASS " + secret.reveal())
        if not ok:
            raise _Failed(
                Result.AUTH_FAILED,
                f"the server refused the login ({self.mechanism})",
                self.quote(reply),
            )
        conv.enter(command("STAT"))
        count, size = pop.stat()
        conv.goodbye(pop.quit, "QUIT")
        return self.check(
            conv,
            Result.OK,
            f"logged in as {self.user} with {self.mechanism}",
            reply=self.quote(reply),
            mailbox=f"{count} message{'s' if count != 1 else ''}, {size} bytes",
        )

    # -- SMTP

    def _smtp(self, conv: Conversation) -> Check:
        from advisor.probes import smtp as probe

        try:
            smtp = probe._SMTP(conv, probe.ehlo_name(conv.sock))
        except smtplib.SMTPException:
            conv.judge_greeting("SMTP", probe._WELCOME, probe._GOODBYE)
            raise
        conv.judge_greeting("SMTP", probe._WELCOME, probe._GOODBYE)
        probe._ehlo(conv, smtp, "EHLO")
        if conv.security is Security.STARTTLS:
            if smtp.has_extn("starttls"):
                conv.enter(command("STARTTLS"))
                smtp.starttls(context=conv.starttls_context())
                probe._ehlo(conv, smtp, "EHLO after STARTTLS")
            else:
                self.starttls_missing(conv, "STARTTLS")
        offered = probe._mechanisms(smtp)
        if not offered:
            raise _Failed(
                Result.ERROR,
                "the server offers no authentication (no AUTH in its EHLO reply):"
                " nothing to log in to",
            )
        mechanism, secret = self.plan(offered, login_command=False)
        self.mechanism = mechanism
        conv.enter(command(f"AUTH {mechanism}"))
        self.sent_secret = True
        code, reply = _smtp_sasl(smtp, mechanism, self.sasl_steps(mechanism, secret))
        if code != 235:
            raise _Failed(
                Result.AUTH_FAILED,
                f"the server refused the login ({mechanism})",
                f"{code} {self.quote(reply)}",
            )
        sent = None
        if self.options.send_test_to:
            sent = self._send_test(conv, smtp)
        conv.goodbye(smtp.quit, "QUIT")
        result = Result.OK if sent is None or sent.startswith("sent") else Result.ERROR
        return self.check(
            conv,
            result,
            f"logged in as {self.user} with {mechanism}",
            reply=f"{code} {self.quote(reply)}",
            sent=sent,
        )

    def _send_test(self, conv: Conversation, smtp: smtplib.SMTP) -> str:
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        to = self.options.send_test_to
        assert to is not None
        message = EmailMessage()
        message["From"] = self.options.address
        message["To"] = to
        message["Subject"] = "advisor verify: test message"
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.options.address.rpartition("@")[2])
        message.set_content(
            f"This message was sent by advisor verify to check that {self.options.address}"
            f" can send mail through {self.target.host}:{self.target.port}.\n"
            "No reply is needed.\n"
        )
        conv.enter(command("MAIL FROM"))
        try:
            refused = smtp.send_message(message, from_addr=self.options.address, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return f"not sent: recipient refused: {code} {self.quote(text)}"
        except smtplib.SMTPResponseException as exc:
            return f"not sent: {exc.smtp_code} {self.quote(exc.smtp_error)}"
        if refused:
            return f"not sent to {', '.join(refused)}"
        return f"sent to {to}"

    # -- Exchange is in verify_ews


class _Failed(Exception):
    def __init__(self, result: Result, detail: str, reply: str = "") -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail
        self.reply = reply


def _pop_short(pop: poplib.POP3, line: str) -> tuple[bool, bytes]:
    """A one-line command: (+OK?, the reply line). Never raises for -ERR."""
    reply = _pop_exchange(pop, line)
    return reply.startswith(b"+OK"), reply


def _pop_sasl(
    pop: poplib.POP3, mechanism: str, step: Callable[[bytes], bytes]
) -> tuple[bool, bytes]:
    """RFC 5034 AUTH with an initial response (LOGIN, CRAM-MD5: without), then the
    challenges."""
    if mechanism in _SERVER_FIRST:
        reply = _pop_exchange(pop, f"AUTH {mechanism}")
    else:
        reply = _pop_exchange(pop, f"AUTH {mechanism} {_b64(step(b''))}")
    rounds = 0
    while reply.startswith(b"+ ") or reply == b"+":
        rounds += 1
        if rounds > 4:
            raise poplib.error_proto("too many SASL challenges")
        challenge = _unb64(reply[2:])
        reply = _pop_exchange(pop, _b64(step(challenge)))
    return reply.startswith(b"+OK"), reply


def _pop_exchange(pop: poplib.POP3, line: str) -> bytes:
    """Send one line, read one reply line (poplib's own readers raise on -ERR)."""
    pop._putcmd(line)  # type: ignore[attr-defined]
    reply, _octets = pop._getline()  # type: ignore[attr-defined]
    return bytes(reply)


def _smtp_sasl(
    smtp: smtplib.SMTP, mechanism: str, step: Callable[[bytes], bytes]
) -> tuple[int, bytes]:
    """RFC 4954 AUTH, initial response included (LOGIN: without); smtplib's auth()
    would encode the secret as ASCII and its login() would try other mechanisms."""
    if mechanism in _SERVER_FIRST:
        code, reply = smtp.docmd("AUTH", mechanism)
    else:
        code, reply = smtp.docmd("AUTH", f"{mechanism} {_b64(step(b''))}")
    rounds = 0
    while code == 334:
        rounds += 1
        if rounds > 4:
            raise smtplib.SMTPException("too many SASL challenges")
        code, reply = smtp.docmd(_b64(step(_unb64(reply))))
    return code, reply


def _spnego() -> Any:
    """pyspnego (the exchange extra), imported only when a file asks for NTLM."""
    try:
        import spnego
    except ImportError:
        return None
    return spnego


def _b64(data: bytes) -> str:
    # RFC 4954 §4: an empty response is "=" only as an initial response; a reply is "".
    return base64.b64encode(data).decode()


def _unb64(data: bytes) -> bytes:
    try:
        return base64.b64decode(data.strip(), validate=False)
    except ValueError:
        return b""


# ----------------------------------------------------------------- Exchange


def _check_ews(
    target: Target,
    options: VerifyOptions,
    user: str,
    dns: DnsClient,
    deadline: float,
    scrub: _Scrub,
) -> Check:
    from advisor.verify_ews import verify_ews

    secret = options.token or options.password
    if secret is None:
        return Check(target, Result.ERROR, "no password was given")
    assert target.url is not None
    outcome = verify_ews(
        address=options.address,
        ews_url=target.url,
        username=user,
        secret=secret,
        oauth=options.token is not None,
        dns=dns,
        ca_file=options.ca_file,
        deadline=deadline,
        allow_insecure=options.allow_insecure,
    )
    return Check(
        target,
        Result(outcome.result),
        scrub(outcome.detail),
        reply=scrub(outcome.reply),
        mechanism=outcome.mechanism,
        mailbox=outcome.mailbox,
        insecure=outcome.insecure,
    )


# ----------------------------------------------------------------- output


def to_json(address: str, source: str, checks: Sequence[Check]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "address": address,
        "source": source,
        "ok": bool(checks) and all(c.result is Result.OK for c in checks),
        "checks": [
            {
                "role": c.target.role,
                "protocol": c.target.protocol,
                "host": c.target.host,
                "port": c.target.port,
                "security": c.target.security,
                "url": c.target.url,
                "username": c.user or c.target.username,
                "result": str(c.result),
                "detail": c.detail,
                "reply": c.reply,
                "mechanism": c.mechanism,
                "mailbox": c.mailbox,
                "tls": c.tls,
                "insecure": c.insecure,
                "sent": c.sent,
                "elapsed_ms": c.elapsed_ms,
            }
            for c in checks
        ],
    }
