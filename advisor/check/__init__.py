"""``advisor check DOMAIN``: what each mail client will do with a domain, and what to fix.

The public face; the rules per client are in :mod:`advisor.check.clients`, the
publication checks in :mod:`advisor.check.publication`, the grade in
:mod:`advisor.check.model`, the formats in :mod:`advisor.check.render`.
"""

from __future__ import annotations

from advisor.check.model import (
    CLIENTS,
    CheckReport,
    ClientResult,
    Outcome,
    Problem,
    PublicationCheck,
    Status,
)

__all__ = [
    "CLIENTS",
    "CheckReport",
    "ClientResult",
    "Outcome",
    "Problem",
    "PublicationCheck",
    "Status",
]
