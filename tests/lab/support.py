"""pytest glue for the lab: ``require`` turns "cannot run here" into skip or fail."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

__all__ = ["BLOCKED", "NOT_BLOCKED", "on_ci", "require", "returns"]


def on_ci() -> bool:
    """True when the environment says CI (``CI=true``, as .ci/run is run)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(condition: bool | BaseException | None, what: str) -> None:
    """Go on if ``condition`` is True (or None: "no exception"); otherwise skip the
    test with a clear reason, or fail it when ``CI=true`` (CI must run every lab test).

    ``condition`` may be the exception that stopped a server from starting, e.g.
    ``tests.lab.errors.Unavailable("Dovecot not installed: apt-get install ...")``.
    """
    if condition is True or condition is None:
        return
    reason = what if condition is False else f"{what}: {condition}"
    if on_ci():
        pytest.fail(f"required on CI but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


# For "does not block on a stuck client" checks where nothing but time can
# tell: the stuck thing is made to stall for BLOCKED seconds, and the call must
# return within NOT_BLOCKED, 10 times less. That is a logic check (waited on the
# stall or not), not a speed: no load makes a stop() take a minute.
BLOCKED = 600.0
NOT_BLOCKED = BLOCKED / 10


def returns(call: Callable[[], object], *, within: float = NOT_BLOCKED) -> bool:
    """Run ``call`` in a daemon thread; True if it returned within ``within`` s."""
    worker = threading.Thread(target=call, name="returns", daemon=True)
    worker.start()
    worker.join(within)
    return not worker.is_alive()
