"""Byte budgets for conversations with servers we do not trust.

imaplib, poplib and smtplib each cap a single line, but a multi-line reply
(an IMAP CAPABILITY split over untagged lines, a POP3 ``CAPA`` list, an SMTP
``250-`` continuation) may go on forever, and an IMAP literal announces its
own size. A probe gives each conversation one :class:`ByteBudget`; every byte
any library reads is charged to it, and going over raises
:class:`ReplyTooLarge` *before* the bytes are buffered where possible.

:class:`ConnectionClosed` turns the libraries' various ways of noticing an
end of file (``b""`` from ``readline``, a short ``read``) into one exception,
so that the probes can report "connection closed by server during ..." in
one place. Both exceptions deliberately do not derive from ``OSError``: the
libraries catch ``OSError`` on their read paths and would rename them.
"""

from __future__ import annotations

from typing import Protocol

# Everything a probe needs (greeting, CAPABILITY before and after STARTTLS,
# LOGOUT) fits in 2-4 KiB even on chatty servers; 64 KiB is ample headroom
# and still bounds the memory a hostile or broken server can make us use.
MAX_CONVERSATION_BYTES = 64 * 1024


class ReplyTooLarge(Exception):
    """The server sent more than the conversation's byte budget."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"reply exceeded {_human_size(limit)}")
        self.limit = limit


class ConnectionClosed(Exception):
    """The server closed the connection (end of file) while a reply was expected."""


class BinaryReader(Protocol):
    """The read side of ``socket.makefile("rb")``, as the mail libraries use it."""

    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class ByteBudget:
    """Counts what one conversation has received; remembers its first line."""

    def __init__(self, limit: int = MAX_CONVERSATION_BYTES) -> None:
        self.limit = limit
        self.used = 0
        # The first line received, kept for "greeting is not IMAP: '...'" messages.
        self.first_line: bytes | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def reserve(self, size: int) -> None:
        """Refuse up front a read of ``size`` bytes that cannot fit (an IMAP literal)."""
        if size > self.remaining:
            raise ReplyTooLarge(self.limit)

    def charge(self, data: bytes) -> bytes:
        """Count ``data`` just read; ``b""`` means the peer closed the connection."""
        if not data:
            raise ConnectionClosed("end of file")
        if self.first_line is None:
            self.first_line = data
        self.used += len(data)
        if self.used > self.limit:
            raise ReplyTooLarge(self.limit)
        return data


class CappedReader:
    """Wraps a binary file from ``socket.makefile`` so that it never reads past a budget.

    ``readline(limit)`` asks the underlying buffer for at most one byte more
    than the budget allows, so an endless line costs ``remaining + 1`` bytes,
    not the library's own per-line limit.
    """

    def __init__(self, raw: BinaryReader, budget: ByteBudget) -> None:
        self.raw = raw
        self.budget = budget

    def readline(self, limit: int | None = -1, /) -> bytes:
        allowed = self.budget.remaining + 1
        size = allowed if limit is None or limit < 0 else min(limit, allowed)
        return self.budget.charge(self.raw.readline(size))

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            # Reading to end of file is never what a mail library means to do.
            raise ValueError("CappedReader.read needs a size")
        if size == 0:
            return b""
        self.budget.reserve(size)
        data = self.budget.charge(self.raw.read(size))
        if len(data) < size:
            raise ConnectionClosed("end of file inside a fixed-size read")
        return data

    def close(self) -> None:
        self.raw.close()


def _human_size(size: int) -> str:
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"
