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
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "advisor"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "fr")

_translations: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


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
    chosen = (lang or language_from_environment()).strip().lower()[:2]
    if chosen not in LANGUAGES:
        chosen = "en"
    _language = chosen
    if chosen == "en":
        _translations = gettext.NullTranslations()
    else:
        _translations = gettext.translation(
            DOMAIN, localedir=str(LOCALE_DIR), languages=[chosen], fallback=True
        )
    return chosen


def current_language() -> str:
    return _language


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations.ngettext(singular, plural, n)
