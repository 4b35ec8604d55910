"""Discovery results kept between runs, one file per domain, for batch onboarding.

A domain's servers change rarely and discovering them takes seconds, so
``advisor onboard`` keeps each domain's report in the user's cache folder
(``platformdirs``: ``~/.cache/advisor`` on Linux, ``~/Library/Caches/advisor``
on macOS, ``%LOCALAPPDATA%\\advisor\\Cache`` on Windows) and reuses it while it
is younger than the time to live. An entry is only reused by a run with the
same settings (DNS servers, CA file, offline mode, advisor version): a report
made through a lab DNS server is no answer for the public Internet.

Only live, usable reports are kept: an answer from the built-in catalogue
because DNS was down must not stand in for a real discovery tomorrow. The
files hold a report, which names the first employee's address, so they are
readable by their owner only, in folders only their owner may open (0700).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.errors import AdvisorError

SCHEMA = "advisor.cache/1"
DEFAULT_TTL = 24 * 3600.0
MAX_ENTRY_BYTES = 16 * 1024 * 1024  # a report is tens of KB
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def default_folder() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("advisor", appauthor=False))


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``12h``, ``7d``, ``1w`` -> seconds; ``0`` disables the cache."""
    found = _DURATION.match(text)
    if found is None:
        raise AdvisorError(f"--cache-ttl {text!r}: expected a duration such as 30m, 12h or 7d")
    return float(found.group(1)) * _UNITS[(found.group(2) or "").lower()]


def settings_key(settings: Mapping[str, object]) -> str:
    """A stable fingerprint of the settings that change what a discovery finds."""
    from advisor import __version__

    text = json.dumps({**settings, "advisor": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Cached:
    report: dict[str, Any]
    saved_at: float  # epoch seconds

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.saved_at)


class DiscoveryCache:
    """``get``/``put`` a domain's report; never raises on a damaged entry (it is a miss)."""

    def __init__(self, folder: Path, *, ttl: float, key: str) -> None:
        self.folder = folder / "discovery"
        self.ttl = ttl
        self.key = key

    def _path(self, domain_ascii: str) -> Path:
        # Domains are validated A-labels (letters, digits, '-', '.'): safe as file names.
        return self.folder / f"{domain_ascii}.json"

    def get(self, domain_ascii: str, *, now: float | None = None) -> Cached | None:
        if self.ttl <= 0:
            return None
        path = self._path(domain_ascii)
        from advisor.fsutil import read_bounded

        try:
            doc = json.loads(read_bounded(path, MAX_ENTRY_BYTES, what="a cache entry"))
        except (AdvisorError, ValueError, RecursionError):
            return None  # missing, not a file, too large, not JSON, nested too deep: a miss
        if (
            not isinstance(doc, dict)
            or doc.get("schema") != SCHEMA
            or doc.get("key") != self.key
            or not isinstance(doc.get("saved_at"), int | float)
            or not isinstance(doc.get("report"), dict)
        ):
            return None
        entry = Cached(doc["report"], float(doc["saved_at"]))
        if entry.report.get("domain_ascii") != domain_ascii or entry.age(now) > self.ttl:
            return None
        return entry

    def put(
        self, domain_ascii: str, report: Mapping[str, Any], *, now: float | None = None
    ) -> bool:
        """Keep ``report`` if it is worth keeping (live and usable); False if it was not kept."""
        if self.ttl <= 0 or not (report.get("live") and report.get("usable")):
            return False
        from advisor.fsutil import PRIVATE_MODE, atomic_write, private_folder

        doc = {
            "schema": SCHEMA,
            "key": self.key,
            "saved_at": time.time() if now is None else now,
            "report": report,
        }
        try:
            # Both folders 0700: the file names tell which domains the user onboards.
            private_folder(self.folder.parent)
            private_folder(self.folder)
            atomic_write(
                self._path(domain_ascii),
                json.dumps(doc, ensure_ascii=False).encode(),
                mode=PRIVATE_MODE,
            )
        except OSError:
            return False  # a read-only cache slows the next run down; it breaks nothing
        return True
