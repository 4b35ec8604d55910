"""Passwords: read without echo, held in a value that never prints itself.

A password reaches the program one of two ways only: an interactive prompt
without echo (``getpass``, which reads the controlling terminal) or the first
line of standard input with ``--password-stdin`` (as ``docker login`` does).
Never from argv, where ``ps`` and shell history show it, nor from the
environment, which child processes inherit and ``/proc/PID/environ`` shows.

:class:`Secret` keeps the value out of ``repr``/``str``/f-strings, and so out
of log records, exception messages and tracebacks that format their
arguments; code that needs the text calls :meth:`Secret.reveal` at the last
moment.  It refuses to be pickled or copied, so no cache or shelve file can
carry it to disk by accident.

A server may still echo what it was sent, and a library may log it: a
:class:`Masker` takes the secret out of text in every form it takes on the
wire or in a log (IMAP's quoted string with its escapes, Python's ``repr``
escapes, whitespace as :func:`printable` folds it, base64 of the SASL blobs
and of any blob holding it at any of base64's three alignments), and
:func:`masking_log_records` applies it to every log record made meanwhile.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TextIO

from advisor.errors import AdvisorError
from advisor.fsutil import read_line_bounded

__all__ = ["Masker", "Secret", "masking_log_records", "read_password", "read_token"]

MASK = "********"  # the same width whatever the length: says nothing about it
# A password is tens of characters and an access token a few KB (a JWT with many
# claims); a longer first line is a mistake (or /dev/zero): refused, never read whole.
MAX_SECRET_CHARS = 16 * 1024


class Secret:
    """A string that does not show itself; ``reveal()`` returns it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or copied")


# A form this short is masked only where it stands alone (not inside a longer word or
# number): masking every "a" of a reply would make it unreadable, and a one-letter
# password next to other letters is no longer recognisable as one anyway.
MIN_MASKED_ANYWHERE = 3
_WORD = "0-9A-Za-z"


def _folded(text: str) -> str:
    """``text`` as a server reply reads once made printable: controls and runs of
    white space become one space (``probes._session.printable``)."""
    kept = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(kept.split())


def _imap_quoted(text: str) -> str:
    """Inside IMAP's quoted string (RFC 9051 §4.3; imaplib's ``_quote``)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Masker:
    """Replaces a secret, in every form it can take in text, with :data:`MASK`.

    ``username`` lets it recognise the SASL blobs whole (``\\0user\\0secret``,
    ``user\\0secret``, ``user:secret``, XOAUTH2), user name included; any other
    blob holding the secret is caught by its base64 at each of the three
    alignments (all of it but the two or three characters at each end that
    also encode its neighbours). :meth:`add` takes one more blob that carried it on the wire.
    """

    def __init__(self, secret: Secret | None, username: str = "") -> None:
        self._anywhere: list[str] = []
        self._alone: re.Pattern[str] | None = None
        if secret is None or not secret.reveal():
            return
        value = secret.reveal()
        forms: set[str] = set()
        for text in (value, _imap_quoted(value)):
            forms |= {
                text,
                _folded(text),
                repr(text)[1:-1],
                repr(text.encode("utf-8", "surrogatepass"))[2:-1],
            }
        raw = value.encode("utf-8", "surrogatepass")
        user = username.encode("utf-8", "surrogatepass")
        for blob in (
            raw,  # SASL LOGIN's second answer
            b"\0" + user + b"\0" + raw,  # PLAIN (RFC 4616)
            user + b"\0" + raw,  # PLAIN as some servers re-encode it
            user + b":" + raw,  # HTTP Basic
            b"user=" + user + b"\x01auth=Bearer " + raw + b"\x01\x01",  # XOAUTH2
        ):
            forms.add(_b64(blob))
        for start in range(3):  # the secret's own base64 at each alignment
            whole = raw[start:][: (len(raw) - start) // 3 * 3]
            if whole:
                forms.add(_b64(whole))
        forms.discard("")
        self._set(forms)

    def _set(self, forms: set[str]) -> None:
        self._anywhere = sorted(
            (f for f in forms if len(f) >= MIN_MASKED_ANYWHERE), key=len, reverse=True
        )
        short = sorted((f for f in forms if len(f) < MIN_MASKED_ANYWHERE), key=len, reverse=True)
        if short:
            either = "|".join(re.escape(f) for f in short)
            self._alone = re.compile(f"(?<![{_WORD}])(?:{either})(?![{_WORD}])")

    def add(self, sent: bytes) -> None:
        """A blob that carried the secret on the wire: its base64 is masked too."""
        if (self._anywhere or self._alone is not None) and len(sent) >= MIN_MASKED_ANYWHERE:
            self._anywhere = sorted({*self._anywhere, _b64(sent)}, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._anywhere) or self._alone is not None

    def __call__(self, text: str) -> str:
        for form in self._anywhere:
            text = text.replace(form, MASK)
        if self._alone is not None:
            text = self._alone.sub(MASK, text)
        return text


@contextlib.contextmanager
def masking_log_records(mask: Callable[[str], str]) -> Iterator[None]:
    """Every log record made meanwhile, by any library, carries its text masked.

    imapclient logs every line a server sends at DEBUG (and redacts only what
    it sends itself), so a server echoing the password would put it in any
    log a user or a test collects. Records are masked when they are made,
    whichever handler later reads them.
    """
    import logging

    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            text = record.getMessage()
        except Exception:  # arguments that do not format: shown as given
            text = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = mask(text), None
        if record.exc_info:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)


def read_password(*, stdin: bool, prompt: str, stream: TextIO | None = None) -> Secret:
    """The password from the first line of ``stream`` (``stdin=True``) or from a prompt.

    ``stream`` defaults to ``sys.stdin``. Without ``stdin`` the prompt needs a
    terminal: in a pipe or a cron job there is nobody to answer it, so this
    raises :class:`AdvisorError` naming the flag instead of hanging or reading
    the pipe with echo.
    """
    source = sys.stdin if stream is None else stream
    if stdin:
        if source is None:  # pythonw, or a daemon with stdin closed
            raise AdvisorError("--password-stdin: standard input is closed")
        # The first line without its line break; everything else in it is the password.
        value = read_line_bounded(source, MAX_SECRET_CHARS, what="--password-stdin")
        if not value:
            raise AdvisorError("--password-stdin: the first line of standard input is empty")
        return Secret(value)
    if source is None or not source.isatty():
        raise AdvisorError("a password is needed: pipe it with --password-stdin")
    try:
        value = getpass.getpass(prompt)
    except EOFError:
        raise AdvisorError("no password was typed") from None
    if not value:
        raise AdvisorError("the password is empty")
    return Secret(value)


def read_token(stream: TextIO | None = None) -> Secret:
    """An OAuth2 access token from the first line of ``stream`` (``--oauth-token-stdin``).

    Tokens come from another program (an identity provider's CLI, a token
    cache), never from a prompt: they are too long to type.
    """
    source = sys.stdin if stream is None else stream
    if source is None:
        raise AdvisorError("--oauth-token-stdin: standard input is closed")
    value = read_line_bounded(source, MAX_SECRET_CHARS, what="--oauth-token-stdin").strip()
    if not value:
        raise AdvisorError("--oauth-token-stdin: the first line of standard input is empty")
    if any(not (33 <= ord(c) <= 126) for c in value):
        # RFC 6750 §2.1 b64token: printable ASCII without spaces.
        raise AdvisorError("--oauth-token-stdin: the first line is not a bearer token")
    return Secret(value)
