"""The one error the user can fix.

Everything the person at the keyboard can correct (a malformed address, an
unreadable file, a bad option value) raises :class:`AdvisorError` with a
one-line message; the CLI prints it and exits 1. Expected network outcomes are
never exceptions: they are results with a status (see ``models``). Anything
else escaping is a bug, shown with a traceback only under ``--debug``.
"""

from __future__ import annotations


class AdvisorError(Exception):
    """A problem the user can fix; ``str(error)`` is one line for people."""

    exit_code = 1


class AddressError(AdvisorError):
    """The e-mail address is not one we can look up."""
