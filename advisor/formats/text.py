"""Small text helpers shared by the parsers of untrusted configuration files."""

from __future__ import annotations

import re

# One DNS label of a host name as configuration files write them: LDH, plus "_"
# which real files use (SRV-like names, some ISPs' internal hosts).
HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
MAX_HOSTNAME = 253  # RFC 1035 §2.3.4


def short(text: str, limit: int = 40) -> str:
    """Quote untrusted text for a one-line note, shortened if long."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def normalise_hostname(text: str) -> str | None:
    """ASCII, lower-case host name without trailing dot, or None if it is not one."""
    import idna  # imported here to keep start-up light, as in advisor.address

    name = text.strip().rstrip(".")
    if not name:
        return None
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    name = name.lower()
    if len(name) > MAX_HOSTNAME or not all(HOST_LABEL.fullmatch(x) for x in name.split(".")):
        return None
    return name
