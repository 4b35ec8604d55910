"""User-facing text through gettext: English in the code, French in a catalog.

Catalogs live in ``advisor/locale/<lang>/LC_MESSAGES/advisor.po`` (the source,
kept in the repository) and ``advisor.mo`` (compiled from it with Babel:
``pybabel compile -d advisor/locale -D advisor``; a test proves the ``.mo``
is up to date). Strings are extracted with ``pybabel extract -F babel.cfg``.

Usage everywhere::

    from advisor.i18n import _
    print(_("Which devices will read this mail?"))

The language is chosen once per process by :func:`set_language` (``--lang``),
else from the locale (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``).
Code that renders for several people at once (batch onboarding, one thread
per employee) uses ``with language("fr"):``, which changes the language of the
current thread or task only.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext
import os
import re
from collections.abc import Iterator
from pathlib import Path

DOMAIN = "advisor"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "fr")

_translations: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"
# Set by `language()`: (code, catalog) for this thread or task only; None: the process's.
_local: contextvars.ContextVar[tuple[str, gettext.NullTranslations] | None] = (
    contextvars.ContextVar("advisor_language", default=None)
)


def language_from_environment() -> str:
    """``fr`` when the locale is French (``fr_FR.UTF-8``, ``fr_CA``...), else ``en``."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            first = value.split(":")[0].split("_")[0].split(".")[0].lower()
            return first if first in LANGUAGES else "en"
    return "en"


def set_language(lang: str | None = None) -> str:
    """Use ``lang`` (``en``/``fr``; None: from the environment); returns the one chosen."""
    global _translations, _language  # noqa: PLW0603 - one language per process, by design
    chosen = _normalise(lang or language_from_environment())
    _language = chosen
    _translations = _catalog(chosen)
    return chosen


def _normalise(lang: str) -> str:
    chosen = lang.strip().lower()[:2]
    return chosen if chosen in LANGUAGES else "en"


# French typography (Imprimerie nationale; what French readers expect): a narrow
# no-break space before : ; ! ? and inside « », so a line never wraps before the
# colon. The catalog's translators type ordinary spaces; they are set here, once.
_FRENCH_SPACING = re.compile(r" ([:;!?»])|(«) ")
NNBSP = "\u202f"
NBSP = "\u00a0"


def french_typography(text: str) -> str:
    def space(match: re.Match[str]) -> str:
        mark, guillemet = match.group(1), match.group(2)
        if guillemet:
            return guillemet + NBSP
        return (NBSP if mark == "»" else NNBSP) + mark

    return _FRENCH_SPACING.sub(space, text)


@functools.cache
def _catalog(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    found = gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True)
    if lang == "fr" and isinstance(found, gettext.GNUTranslations):
        table: dict[object, str] = found._catalog  # type: ignore[attr-defined]
        for key, value in table.items():
            table[key] = french_typography(value)
    return found


def percent(value: float) -> str:
    """``90%`` in English, ``90 %`` (narrow no-break space) in French."""
    text = f"{value:.0%}"
    return text.replace("%", NNBSP + "%") if current_language() == "fr" else text


def decimal(value: float, digits: int = 1) -> str:
    """``0.4`` in English, ``0,4`` in French."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if current_language() == "fr" else text


@contextlib.contextmanager
def language(lang: str) -> Iterator[str]:
    """Translate into ``lang`` inside the block, in this thread or task only."""
    chosen = _normalise(lang)
    token = _local.set((chosen, _catalog(chosen)))
    try:
        yield chosen
    finally:
        _local.reset(token)


def current_language() -> str:
    local = _local.get()
    return local[0] if local is not None else _language


def _current() -> gettext.NullTranslations:
    local = _local.get()
    return local[1] if local is not None else _translations


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _current().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current().ngettext(singular, plural, n)
