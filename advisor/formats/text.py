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


# Characters no text we show or write may carry: C0 and C1 controls (ESC starts
# terminal escape sequences; U+009B and U+009D are 8-bit CSI and OSC), DEL,
# bidirectional overrides, embeddings, isolates and marks (the "Trojan Source"
# characters, CVE-2021-42574), line/paragraph separators, and lone surrogates
# (not encodable in UTF-8: a file writer would crash on them).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_KEEPING_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def unsafe_char(text: str) -> str | None:
    """The first control, bidi or surrogate character of ``text``, escaped; None if clean."""
    found = _UNSAFE.search(text)
    return None if found is None else _escaped(found)


def escape_controls(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control, bidi or surrogate character shown escaped
    (``\\x1b``, ``\\u202e``): what may go to a terminal, a README or a CSV cell.
    With ``keep_lines``, tabs and line ends stay (a whole text file)."""
    pattern = _UNSAFE_KEEPING_LINES if keep_lines else _UNSAFE
    return pattern.sub(_escaped, text)


# RFC 3986 §2: the characters a URL is made of; anything else is not a URL.
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
MAX_URL = 2048  # the de-facto URL limit of browsers and servers


def is_hostname(text: str) -> bool:
    """``text`` is already a normalised host name (what discovery writes)."""
    return len(text) <= MAX_HOSTNAME and normalise_hostname(text) == text


def url_problem(text: str) -> str | None:
    """Why ``text`` is not an ``https://`` URL with a valid host name; None if it is one.

    Files only ever point clients at https: an ``http://`` EWS URL would make the
    Apple profile say ``SSL: false``, a ``javascript:`` one is not a server at all.
    """
    from urllib.parse import urlsplit

    if len(text) > MAX_URL:
        return f"a URL of at most {MAX_URL} characters"
    if not _URL_CHARS.fullmatch(text):
        return "an https:// URL (no spaces, quotes or non-ASCII characters)"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return "an https:// URL"
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        return "an https:// URL with a host name"
    if normalise_hostname(parts.hostname) is None:
        return "an https:// URL with a valid host name"
    if port == 0:
        return "an https:// URL with a port from 1 to 65535"
    return None
