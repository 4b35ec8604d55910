"""The French catalog: compiled, complete, and with the same placeholders.

Nobody can add user-facing text without its French: every msgid that
``pybabel extract`` finds in ``advisor/`` must have a non-empty, non-fuzzy
translation, and the committed ``.mo`` must be what the ``.po`` compiles to.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from advisor.i18n import _, current_language, language, set_language

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "advisor" / "locale" / "fr" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def po_catalog() -> Catalog:
    with (LOCALE / "advisor.po").open("rb") as handle:
        return read_po(handle)


def messages(catalog: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalog if m.id}


def test_mo_is_a_fresh_compile_of_the_po(tmp_path: Path) -> None:
    fresh = tmp_path / "advisor.mo"
    with fresh.open("wb") as handle:
        write_mo(handle, po_catalog())
    with fresh.open("rb") as handle:
        expected = messages(read_mo(handle))
    with (LOCALE / "advisor.mo").open("rb") as handle:
        committed = messages(read_mo(handle))
    assert committed == expected, "run: pybabel compile -d advisor/locale -D advisor"


def test_every_extracted_message_has_a_french_translation() -> None:
    catalog = po_catalog()
    extracted = {
        str(message[2])
        for message in extract_from_dir(str(ROOT / "advisor"), method_map=[("**.py", "python")])
    }
    assert extracted, "nothing extracted: is babel.cfg still right?"
    missing = []
    for msgid in sorted(extracted):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(msgid)
    assert not missing, f"untranslated (pybabel update, then translate): {missing}"


def test_placeholders_are_kept() -> None:
    wrong = [
        (m.id, m.string)
        for m in po_catalog()
        if m.id
        and sorted(PLACEHOLDER.findall(str(m.id))) != sorted(PLACEHOLDER.findall(str(m.string)))
    ]
    assert not wrong


def test_french_is_served_at_run_time() -> None:
    try:
        set_language("fr")
        assert _("Your e-mail address:") == "Votre adresse e-mail\u202f:"
    finally:
        set_language("en")
    assert _("Your e-mail address:") == "Your e-mail address:"


def test_language_block_is_per_thread() -> None:
    """Batch onboarding renders French and English sheets at once, in threads."""
    import threading

    seen: dict[str, str] = {}
    inside = threading.Barrier(2)

    def render(lang: str) -> None:
        with language(lang):
            inside.wait(timeout=10)  # both threads are inside their block now
            seen[lang] = _("Your e-mail address:")
            inside.wait(timeout=10)

    threads = [threading.Thread(target=render, args=(lang,)) for lang in ("fr", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"fr": "Votre adresse e-mail\u202f:", "en": "Your e-mail address:"}
    assert current_language() == "en"  # the process's language is untouched
    with language("fr"):
        assert current_language() == "fr"
    assert _("Your e-mail address:") == "Your e-mail address:"


@pytest.mark.parametrize("value", ["fr_FR.UTF-8", "fr_CA"])
def test_language_from_the_locale(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", value)
    try:
        assert set_language(None) == "fr"
    finally:
        set_language("en")


def test_french_typography_is_set_by_the_catalog() -> None:
    """Translators type ordinary spaces; French readers get a narrow no-break space
    before : ; ! ? and no-break spaces inside « » (no line ever starts with ':')."""
    from advisor.i18n import decimal, french_typography, percent

    assert french_typography("Attention : « oui » ; non ? oui !") == (
        "Attention\u202f: «\u00a0oui\u00a0»\u202f; non\u202f? oui\u202f!"
    )
    assert french_typography("https://x.fr/?a=1 (o/N)") == "https://x.fr/?a=1 (o/N)"
    with language("fr"):
        assert percent(0.9) == "90\u202f%"
        assert decimal(0.42) == "0,4"
    with language("en"):
        assert (percent(0.9), decimal(0.42)) == ("90%", "0.4")
