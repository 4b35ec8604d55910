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
"""

from __future__ import annotations

import getpass
import sys
from typing import NoReturn, TextIO

from advisor.errors import AdvisorError
from advisor.fsutil import read_line_bounded

__all__ = ["Secret", "read_password", "read_token"]

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
