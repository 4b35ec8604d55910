"""The one error the user can fix.

Everything the person at the keyboard can correct (a malformed address, an
unreadable file, a bad option value) raises :class:`AdvisorError` with a
one-line message; the CLI prints it and exits 1. Expected network outcomes are
never exceptions: they are results with a status (see ``models``).

A file-system error (``OSError`` naming a file, or a full or read-only disk)
is also the user's to fix, wherever it comes from: :func:`os_error_text` is
the one line the CLI, and a batch's row, say about it. Anything else escaping
is a bug, shown with a traceback only under ``--debug``.
"""

from __future__ import annotations

import errno

# Errors without a file name that still say "the disk or the permissions", not "a bug".
_FILE_SYSTEM_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "EFBIG", "EIO", "ENOTDIR")
    if hasattr(errno, name)
)


class AdvisorError(Exception):
    """A problem the user can fix; ``str(error)`` is one line for people."""

    exit_code = 1


class AddressError(AdvisorError):
    """The e-mail address is not one we can look up."""


def os_error_text(exc: OSError) -> str | None:
    """One line for a file-system error (``path: Permission denied``), or None when
    ``exc`` is not one (a socket error escaping is a bug, not the user's to fix)."""
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    if exc.errno in _FILE_SYSTEM_ERRNOS:
        from advisor.i18n import _

        return _("cannot write: {reason}").format(reason=reason)
    return None
