"""The TLS client context every verified connection uses."""

from __future__ import annotations

import ssl
from pathlib import Path

from advisor.errors import AdvisorError


def client_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """System trust store, plus ``ca_file``'s anchors when given (never instead of it).

    ``create_default_context`` verifies the chain and the host name and refuses
    SSLv3/TLS 1.0 handshakes that OpenSSL's security level rejects; RFC 8314
    §4.1 asks for exactly that before a client sends credentials.
    """
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except FileNotFoundError:
            raise AdvisorError(f"--ca-file {ca_file}: no such file") from None
        except (ssl.SSLError, ValueError, OSError) as exc:
            raise AdvisorError(
                f"--ca-file {ca_file}: not a PEM file of certificates ({exc})"
            ) from None
    return context
