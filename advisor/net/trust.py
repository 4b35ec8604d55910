"""The TLS client context every verified connection uses."""

from __future__ import annotations

import functools
import os
import ssl
from pathlib import Path
from stat import S_ISREG

from advisor.errors import AdvisorError
from advisor.i18n import _


def client_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """System trust store, plus ``ca_file``'s anchors when given (never instead of it).

    ``create_default_context`` verifies the chain and the host name and refuses
    SSLv3/TLS 1.0 handshakes that OpenSSL's security level rejects; RFC 8314
    §4.1 asks for exactly that before a client sends credentials.

    Loading the system store costs about 20 ms of CPU, so a context is shared by
    every caller with the same ``ca_file`` (same path, size and modification
    time): a batch discovering fifty domains loads it once. Callers only read
    it; httpx sets the same ALPN list on it each time.
    """
    if ca_file is None:
        return _context(None)
    try:
        stat = os.stat(ca_file)
    except FileNotFoundError:
        raise AdvisorError(f"--ca-file {ca_file}: no such file") from None
    except OSError as exc:
        raise AdvisorError(f"--ca-file {ca_file}: {exc.strerror or exc}") from None
    if not S_ISREG(stat.st_mode):  # OpenSSL would wait on a FIFO, or read a device forever
        raise AdvisorError(
            _("--ca-file {path}: not a file of PEM certificates").format(path=ca_file)
        )
    return _context((str(ca_file), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _context(anchors: tuple[str, int, int] | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if anchors is not None:
        ca_file = anchors[0]
        try:
            context.load_verify_locations(cafile=ca_file)
        except FileNotFoundError:
            raise AdvisorError(f"--ca-file {ca_file}: no such file") from None
        except (ssl.SSLError, ValueError, OSError) as exc:
            raise AdvisorError(
                f"--ca-file {ca_file}: not a PEM file of certificates ({exc})"
            ) from None
    return context
