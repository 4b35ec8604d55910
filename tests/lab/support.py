"""pytest glue for the lab: ``require`` turns "cannot run here" into skip or fail."""

from __future__ import annotations

import os

import pytest

__all__ = ["on_ci", "require"]


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
