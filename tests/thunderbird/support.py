"""pytest glue: a Thunderbird that cannot run here skips the test, or fails it on CI."""

from __future__ import annotations

from tests.lab.errors import Unavailable
from tests.lab.support import require
from tests.thunderbird.client import Thunderbird

__all__ = ["started"]


def started(thunderbird: Thunderbird) -> Thunderbird:
    """``thunderbird.start()``; when it cannot start, skip (locally) or fail (``CI=true``).

    The reason is Thunderbird's own: "Thunderbird is not installed: apt-get
    install thunderbird ..." or "Thunderbird (...) did not start: ..." with its log.
    """
    try:
        return thunderbird.start()
    except Unavailable as exc:
        require(False, str(exc))
        raise  # not reached: require() skipped or failed the test
